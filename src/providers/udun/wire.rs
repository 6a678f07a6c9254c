//! Udun's wire types (seed 001; udun.md A2–A5). Fields that Udun's SDKs send either as numbers or as
//! strings are read as their text, so nothing is lost before a signature is checked or an amount parsed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::providers::text_fields::{opt_text, text};

/// The outer JSON of every API request (udun.md A2).
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(deserialize_with = "text")]
    pub timestamp: String,
    #[serde(deserialize_with = "text")]
    pub nonce: String,
    pub sign: String,
    /// The business JSON as a string, signed byte for byte.
    pub body: String,
}

/// `{code, message, data}`; `code` 200 is success (a body field, not the HTTP status).
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    #[serde(deserialize_with = "text")]
    pub code: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

pub const CODE_OK: &str = "200";
/// `/mch/withdraw`: "Business ID is duplicate. Please do not apply repeatedly".
pub const CODE_DUPLICATE_BUSINESS_ID: &str = "4288";
/// `/mch/check/address`: "Address is not legal".
pub const CODE_ADDRESS_ILLEGAL: &str = "4165";
pub const CODE_ILLEGAL_PARAMETER: &str = "4005";
pub const CODE_ABNORMAL_SIGNATURE: &str = "4162";
pub const CODE_WRONG_SIGNATURE: &str = "4163";

/// `/mch/address/create` body element (seed 001 §1.2.2: `coinType` as an integer).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressCreate {
    #[serde(deserialize_with = "text")]
    pub merchant_id: String,
    /// The main coin number; the newer docs call it `mainCoinType`, so both are read.
    #[serde(alias = "mainCoinType", deserialize_with = "text")]
    pub coin_type: String,
    pub call_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressCreated {
    #[serde(deserialize_with = "text")]
    pub coin_type: String,
    pub address: String,
}

/// `/mch/withdraw` and `/mch/withdraw/proxypay` body element (seed 001 §2.2.2); amount in whole units.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Withdraw {
    pub address: String,
    #[serde(deserialize_with = "text")]
    pub amount: String,
    #[serde(deserialize_with = "text")]
    pub merchant_id: String,
    #[serde(deserialize_with = "text")]
    pub main_coin_type: String,
    #[serde(deserialize_with = "text")]
    pub coin_type: String,
    pub call_url: String,
    #[serde(deserialize_with = "text")]
    pub business_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// `/mch/check/address` body element (seed 001 §5.2.2).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckAddress {
    #[serde(deserialize_with = "text")]
    pub merchant_id: String,
    #[serde(deserialize_with = "text")]
    pub main_coin_type: String,
    pub address: String,
}

/// `/mch/support-coins` body: an object, not an array (udun.md A2).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportCoinsQuery {
    #[serde(deserialize_with = "text")]
    pub merchant_id: String,
    #[serde(default)]
    pub show_balance: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportCoin {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub coin_name: String,
    pub symbol: String,
    #[serde(default)]
    pub main_symbol: String,
    #[serde(deserialize_with = "text")]
    pub main_coin_type: String,
    #[serde(deserialize_with = "text")]
    pub coin_type: String,
    #[serde(deserialize_with = "text")]
    pub decimals: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub token_status: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub balance: Option<String>,
}

/// The business JSON of a trade callback (seed 001 §4.2.2; udun.md A5). Amounts are integers in the
/// smallest unit; `tradeType` and `status` arrive as numbers, the rest as strings, either accepted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trade {
    #[serde(deserialize_with = "text")]
    pub trade_id: String,
    #[serde(deserialize_with = "text")]
    pub trade_type: String,
    #[serde(deserialize_with = "text")]
    pub status: String,
    pub address: String,
    #[serde(deserialize_with = "text")]
    pub main_coin_type: String,
    #[serde(deserialize_with = "text")]
    pub coin_type: String,
    #[serde(deserialize_with = "text")]
    pub amount: String,
    #[serde(deserialize_with = "text")]
    pub decimals: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub fee: Option<String>,
    #[serde(default, alias = "txid", deserialize_with = "opt_text")]
    pub tx_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub business_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub memo: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub block_high: Option<String>,
}
