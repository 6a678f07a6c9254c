//! WaaS's request, reply and callback fields (waas.md C2, C3; seed 004). The documents name the
//! same thing differently in different places (`toAddr` in requests, `toAddress` in callbacks,
//! `address` in the second-confirmation reply); each is kept as documented.

use serde::Deserialize;

use crate::providers::text_fields::opt_text;

/// API paths (waas.md C2).
pub const PATH_USER_ADDRESS: &str = "/api/v1/api/user/getUserAddress";
pub const PATH_WITHDRAW_VERIFY: &str = "/api/v1/api/order/withdrawRequest";
pub const PATH_WITHDRAW_DIRECT: &str = "/api/v1/api/order/withdrawWithoutVerify";

/// `getUserAddress` data.
#[derive(Debug, Deserialize)]
pub struct UserAddress {
    pub address: String,
}

/// What a withdraw request answers; its fields beyond `id` are not documented.
#[derive(Debug, Default, Deserialize)]
pub struct WithdrawAccepted {
    #[serde(default, deserialize_with = "opt_text")]
    pub id: Option<String>,
}

/// Callback types (waas.md C3).
pub const TYPE_UNKNOWN: i64 = 0;
pub const TYPE_DEPOSITED: i64 = 1;
pub const TYPE_REQUEST_WITHDRAW: i64 = 2;
pub const TYPE_WITHDRAW: i64 = 3;
pub const TYPE_ADDRESS: i64 = 4;
pub const TYPE_INVALID_ADDRESS: i64 = 5;
pub const TYPE_NOT_ENOUGH_MONEY: i64 = 6;
pub const TYPE_NOT_ENOUGH_HOT_MONEY: i64 = 7;

/// One callback's decrypted fields: the common ones and every type's own (waas.md C3).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    #[serde(rename = "type")]
    pub kind: i64,
    /// New on every delivery.
    #[serde(default, deserialize_with = "opt_text")]
    pub request_uuid: Option<String>,
    /// Stable across the deliveries of one event; null for type 4.
    #[serde(default, deserialize_with = "opt_text")]
    pub tracking_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub tenant_user_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub call_back_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub tx_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub tx_index: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub chain_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub symbol: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub amount: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub from_address: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub to_address: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub new_address: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub risk_level_from: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub risk_level_to: Option<String>,
}
