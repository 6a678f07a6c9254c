//! Pay Protocol's request, reply and record fields (payprotocol.md C3, C4, C6). Ids are `int32` in
//! its schema and read as text or `i64`; amounts in records are integer strings of minor units.

use serde::Deserialize;
use serde_json::Value;

use crate::domain::{DepositState, WithdrawalState};
use crate::providers::text_fields::{opt_text, text};

/// Every path starts here, and is signed from here (C2).
pub const API_PREFIX: &str = "/api/mer";

pub const PATH_USER_CREATE: &str = "/user/create";
pub const PATH_USER_DETAIL: &str = "/user/detail";
pub const PATH_CHAINS: &str = "/conf/list/chain";
pub const PATH_CURRENCIES: &str = "/conf/list/currency";
pub const PATH_WITHDRAW_APPLY: &str = "/withdraw/apply";
pub const PATH_WITHDRAW_DETAIL: &str = "/withdraw/detail";
pub const PATH_WITHDRAW_NOTIFY: &str = "/withdraw/notify";
pub const PATH_RECHARGE_DETAIL: &str = "/recharge/detail";
pub const PATH_RECHARGE_LIST: &str = "/recharge/list";
pub const PATH_RECHARGE_NOTIFY: &str = "/recharge/notify";

/// `code` of a success (C3).
pub const CODE_OK: i64 = 200;
/// No public error table exists (C3); these are the codes of the refusals the adapter acts on, as
/// the simulator gives them: an `outTradeNo` already applied, and a withdrawal it does not hold.
pub const CODE_OUT_TRADE_NO_TAKEN: &str = "10003";
pub const CODE_WITHDRAW_NOT_FOUND: &str = "10004";

/// The reply envelope (C3).
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub code: i64,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub data: Value,
}

/// `user/detail` data (C4).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetail {
    #[serde(default)]
    pub user_wallet: Vec<UserWallet>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserWallet {
    #[serde(deserialize_with = "text")]
    pub chain_id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub wallet_id: Option<String>,
    pub wallet_address: String,
}

/// `conf/list/chain` entries.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chain {
    #[serde(deserialize_with = "text")]
    pub chain_id: String,
    #[serde(default)]
    pub chain_name: Option<String>,
}

/// `conf/list/currency` entries. Only "ids, names, decimals" are documented; the field names are
/// inferred (payprotocol.md C4 [I]) and the usual variants accepted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Currency {
    #[serde(deserialize_with = "text")]
    pub currency_id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub chain_id: Option<String>,
    #[serde(default, alias = "currencySymbol", alias = "symbol")]
    pub currency_name: Option<String>,
    #[serde(
        default,
        alias = "decimal",
        alias = "precision",
        deserialize_with = "opt_text"
    )]
    pub decimals: Option<String>,
}

/// `withdraw/apply` data.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    #[serde(deserialize_with = "text")]
    pub withdraw_id: String,
}

/// A recharge record (C6), as callbacks, `recharge/detail` and `recharge/list` give it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recharge {
    #[serde(deserialize_with = "text")]
    pub recharge_id: String,
    #[serde(deserialize_with = "text")]
    pub chain_id: String,
    #[serde(deserialize_with = "text")]
    pub currency_id: String,
    #[serde(deserialize_with = "text")]
    pub recharge_amount: String,
    #[serde(deserialize_with = "text")]
    pub recharge_status: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub transfer_hash: Option<String>,
    #[serde(default)]
    pub wallet_address: Option<String>,
}

/// `recharge/list` data.
#[derive(Debug, Deserialize)]
pub struct RechargePage {
    #[serde(default)]
    pub list: Vec<Recharge>,
}

/// A withdraw record (C6), as callbacks and `withdraw/detail` give it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Withdraw {
    #[serde(deserialize_with = "text")]
    pub withdraw_id: String,
    #[serde(deserialize_with = "text")]
    pub chain_id: String,
    #[serde(deserialize_with = "text")]
    pub currency_id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub out_trade_no: Option<String>,
    #[serde(deserialize_with = "text")]
    pub withdraw_amount: String,
    #[serde(default)]
    pub withdraw_address: Option<String>,
    #[serde(deserialize_with = "text")]
    pub withdraw_status: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub transfer_hash: Option<String>,
}

/// What a callback names, to be asked about (C5): a recharge or a withdrawal.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackIds {
    #[serde(default, deserialize_with = "opt_text")]
    pub recharge_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub withdraw_id: Option<String>,
}

/// `rechargeStatus` (C6): 0 success, 1 pending, 2 failure. Zero means success.
pub fn recharge_state(status: &str) -> Option<DepositState> {
    match status {
        "0" => Some(DepositState::Confirmed),
        "1" => Some(DepositState::Detected),
        "2" => Some(DepositState::Failed),
        _ => None,
    }
}

/// `withdrawStatus` (C6): 0 success, 1 pending approval in the merchant's console, 2 under Pay
/// Protocol's review, 3 block confirmation, 4 failure, 5 rejected.
pub fn withdraw_state(status: &str) -> Option<WithdrawalState> {
    match status {
        "0" => Some(WithdrawalState::Completed),
        "1" => Some(WithdrawalState::Submitted),
        "2" => Some(WithdrawalState::Approved),
        "3" => Some(WithdrawalState::Broadcast),
        "4" => Some(WithdrawalState::Failed),
        "5" => Some(WithdrawalState::Rejected),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_inverted_as_documented() {
        assert_eq!(recharge_state("0"), Some(DepositState::Confirmed));
        assert_eq!(recharge_state("2"), Some(DepositState::Failed));
        assert_eq!(recharge_state("9"), None);
        let mapped: Vec<_> = ["0", "1", "2", "3", "4", "5", "6"]
            .iter()
            .map(|s| withdraw_state(s))
            .collect();
        assert_eq!(
            mapped,
            [
                Some(WithdrawalState::Completed),
                Some(WithdrawalState::Submitted),
                Some(WithdrawalState::Approved),
                Some(WithdrawalState::Broadcast),
                Some(WithdrawalState::Failed),
                Some(WithdrawalState::Rejected),
                None
            ]
        );
    }
}
