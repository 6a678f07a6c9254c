//! ChainUp MPC records (chainup_mpc.md A8) and their meaning. Numbers arrive as JSON numbers in lists
//! and sometimes as strings in notifications; both are read as text.

use serde::Deserialize;

use crate::domain::{DepositState, WithdrawalState};
use crate::providers::text_fields::{opt_text, text};

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

/// `sub_wallet/create` data (A6).
#[derive(Debug, Deserialize)]
pub struct SubWalletCreated {
    #[serde(deserialize_with = "text")]
    pub sub_wallet_id: String,
}

/// `sub_wallet/create/address` data (A6); `addr_type` 2 is a system address.
#[derive(Debug, Deserialize)]
pub struct AddressCreated {
    pub address: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub memo: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub addr_type: Option<String>,
}

/// `billing/withdraw` data (A7).
#[derive(Debug, Default, Deserialize)]
pub struct WithdrawAccepted {
    #[serde(default, deserialize_with = "opt_text")]
    pub withdraw_id: Option<String>,
}

/// `chain_height` data: `height`, or `block_height` as the SDK reads it.
#[derive(Debug, Deserialize)]
pub struct ChainHeight {
    #[serde(default, deserialize_with = "opt_text")]
    pub height: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub block_height: Option<String>,
}

/// One `coin_list` entry.
#[derive(Debug, Deserialize)]
pub struct Coin {
    pub symbol: String,
    #[serde(default)]
    pub real_symbol: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub decimals: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub base_symbol: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub contract_address: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub deposit_confirmation: Option<String>,
}

/// A transaction notification's side (A9a).
pub const SIDE_DEPOSIT: &str = "deposit";
pub const SIDE_WITHDRAW: &str = "withdraw";
pub const SIDE_WEB3: &str = "web3-trans";

/// What Co-Signer posts (A9b): `sign_start` / `sign_success` with the withdrawal, or its key
/// self-check. The withdrawal id comes as `transfer_id` (API docs) or `withdraw_id` (deploy
/// guide), the amount as a number or a string: both are read as their text.
#[derive(Debug, Deserialize)]
pub struct CosignerCall {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub transfer_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub withdraw_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub amount: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub to: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub symbol: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub txid: Option<String>,
    #[serde(default)]
    pub pending_round: bool,
    /// `verify_public_hash` only.
    #[serde(default, deserialize_with = "opt_text")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub client_system_pubkey_hash: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub verify_sign_pub_hash: Option<String>,
}

pub const COSIGNER_SIGN_START: &str = "sign_start";
pub const COSIGNER_SIGN_SUCCESS: &str = "sign_success";
pub const COSIGNER_KEY_CHECK: &str = "verify_public_hash";
