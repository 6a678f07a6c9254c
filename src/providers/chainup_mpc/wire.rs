//! ChainUp MPC records (chainup_mpc.md A8) and their meaning. Numbers arrive as JSON numbers in lists
//! and sometimes as strings in notifications; both are read as text.

use serde::Deserialize;

use crate::domain::{DepositState, WithdrawalState};
use crate::providers::udun::wire::{opt_text, text};

/// A deposit or withdraw record, from a list, a sync list or a notification.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    #[serde(deserialize_with = "text")]
    pub id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub request_id: Option<String>,
    pub symbol: String,
    #[serde(deserialize_with = "text")]
    pub amount: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub address_to: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub memo: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub txid: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub tx_height: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub real_fee: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub fee: Option<String>,
    #[serde(deserialize_with = "text")]
    pub status: String,
}

/// Deposit status (A8): 1000 unconfirmed, 1100 confirmed on chain, 2000 credited, 3000 abnormal.
/// Only 2000 (or counted confirmations) credits; on-chain confirmation alone does not.
pub fn deposit_state(status: &str) -> Option<DepositState> {
    match status {
        "1000" | "1100" => Some(DepositState::Detected),
        "2000" => Some(DepositState::Confirmed),
        "3000" => Some(DepositState::Failed),
        _ => None,
    }
}

/// Withdraw status (A8): 1000 awaiting approval, 1100 approved, 1200 paying, 2000 done, 2100 not
/// approved, 2200 rejected, 2300 discarded, 2400 failed.
pub fn withdrawal_state(status: &str) -> Option<WithdrawalState> {
    match status {
        "1000" => Some(WithdrawalState::Submitted),
        "1100" => Some(WithdrawalState::Approved),
        "1200" => Some(WithdrawalState::Broadcast),
        "2000" => Some(WithdrawalState::Completed),
        "2100" | "2200" | "2300" => Some(WithdrawalState::Rejected),
        "2400" => Some(WithdrawalState::Failed),
        _ => None,
    }
}

/// Codes that mean ChainUp did not act (A10).
pub const CODE_OK: &str = "0";
pub const CODE_DUPLICATE_REQUEST: &str = "110088";
