//! UBAO's request paths, reply and callback fields (seed 003 §1–§10). Numbers may come as JSON
//! numbers or strings and are read as text.

use serde::Deserialize;

use crate::providers::text_fields::{opt_text, text};

pub const PATH_ADDRESS_CREATE: &str = "/mch/address/create";
pub const PATH_WITHDRAW: &str = "/mch/withdraw";
pub const PATH_ADDRESS_CHECK: &str = "/mch/address/check";
pub const PATH_ADDRESS_ADD: &str = "/mch/address/add";
pub const PATH_COINS: &str = "/mch/coins";
pub const PATH_POOLING: &str = "/mch/address/pooling";
pub const PATH_VERIFY: &str = "/mch/address/verify";

/// `type` of `/mch/address/create` (§1.3).
pub const WALLET_RECEIVE: i64 = 0;
pub const WALLET_COLLECTION: i64 = 2;

/// `code` of a success.
pub const CODE_OK: &str = "200";
/// The error table is not in the seed ("參見錯誤代碼"); these are the refusals the adapter acts on,
/// as the simulator gives them.
pub const CODE_INVALID_ADDRESS: &str = "4003";
pub const CODE_INSUFFICIENT_BALANCE: &str = "4005";
pub const CODE_ORDER_SN_USED: &str = "4006";

/// Every reply: `{code, message, …}` with the call's own fields beside them (§1.4, §5.4, §7.4).
#[derive(Debug, Deserialize)]
pub struct Reply {
    #[serde(deserialize_with = "text")]
    pub code: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    /// `/mch/coins`: the coin list as JSON text (§5.4 `"coins":"[]"`).
    #[serde(default)]
    pub coins: Option<serde_json::Value>,
    /// `/mch/address/verify`: `"true"` or `"false"` (§7.4).
    #[serde(default, deserialize_with = "opt_text")]
    pub result: Option<String>,
}

/// One coin of `/mch/coins`; the seed shows only an empty list, so the names follow its coin
/// table and callbacks (`coinID`, `coinName`, `chainType`, `coinType`, `decimals`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coin {
    #[serde(rename = "coinID", deserialize_with = "text")]
    pub coin_id: String,
    #[serde(default)]
    pub coin_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub chain_type: Option<String>,
    #[serde(default)]
    pub coin_type: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub decimals: Option<String>,
}

/// The form of every callback (§0.5.1).
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub body: String,
    #[serde(deserialize_with = "text")]
    pub nonce: String,
    #[serde(deserialize_with = "text")]
    pub timestamp: String,
    pub sign: String,
}

/// A callback's decoded body: the fields of all three types (§8.3, §9.3, §10.3).
#[derive(Debug, Deserialize)]
pub struct Notification {
    #[serde(rename = "callbackType")]
    pub callback_type: String,
    #[serde(deserialize_with = "text")]
    pub amount: String,
    #[serde(deserialize_with = "text")]
    pub decimals: String,
    pub address: String,
    #[serde(rename = "coinID", deserialize_with = "text")]
    pub coin_id: String,
    #[serde(default)]
    pub hash: Option<String>,
    /// transfer: 1 success, 0 failure.
    #[serde(default, deserialize_with = "opt_text")]
    pub result: Option<String>,
    #[serde(rename = "toAddress", default)]
    pub to_address: Option<String>,
    /// transfer: our `order_sn`, as we sent it; none for a sweep.
    #[serde(default, deserialize_with = "opt_text")]
    pub order_sn: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(rename = "tradeId", default, deserialize_with = "opt_text")]
    pub trade_id: Option<String>,
}
