//! A Pay Protocol account's own settings: its `[providers.payprotocol]` table (payprotocol.md C2,
//! C5) and its assets' chain and currency ids.

use secrecy::SecretString;
use serde::Deserialize;

use crate::config::resolve_secret;

/// `[providers.payprotocol]`.
#[derive(Debug, Clone, Deserialize)]
pub struct PayProtocolSettings {
    /// `X-PAY-KEY`, inline for the simulators, else `api_key_env`.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The secret `X-PAY-SIGN` is keyed with: inline (simulators), `api_secret_env` or
    /// `api_secret_file`.
    #[serde(default)]
    pub api_secret: Option<SecretString>,
    #[serde(default)]
    pub api_secret_env: Option<String>,
    #[serde(default)]
    pub api_secret_file: Option<String>,
    /// How far a callback's `X-PAY-TIMESTAMP` may be from our clock for its signature to count.
    #[serde(default = "default_callback_window")]
    pub callback_window_secs: u64,
    /// Callbacks whose signature verifies with no candidate, taken as prompts to ask Pay Protocol
    /// per minute; past it they are answered "send again" without asking.
    #[serde(default = "default_unverified_per_minute")]
    pub unverified_prompts_per_minute: u32,
    /// How far back each pass over `/recharge/list` starts before the previous pass did.
    #[serde(default = "default_overlap")]
    pub recharge_overlap_secs: u64,
    /// The oldest a pending recharge may hold the window open.
    #[serde(default = "default_lookback")]
    pub recharge_lookback_secs: u64,
    /// The simulator's resend schedule for a callback not answered `success` (the real one is
    /// 0 s, 15 s, 30 s, 3, 5 and 10 min). Read by the simulator only.
    #[serde(default)]
    pub sim_callback_schedule_ms: Option<Vec<u64>>,
}

fn default_callback_window() -> u64 {
    300
}

fn default_unverified_per_minute() -> u32 {
    30
}

fn default_overlap() -> u64 {
    600
}

fn default_lookback() -> u64 {
    3 * 24 * 3600
}

impl PayProtocolSettings {
    pub fn api_key(&self, account: &str) -> Result<SecretString, String> {
        resolve_secret(
            self.api_key.as_ref(),
            self.api_key_env.as_deref(),
            None,
            &format!("account {account:?} api_key"),
        )
        .map_err(|e| e.to_string())
    }

    pub fn api_secret(&self, account: &str) -> Result<SecretString, String> {
        resolve_secret(
            self.api_secret.as_ref(),
            self.api_secret_env.as_deref(),
            self.api_secret_file.as_deref(),
            &format!("account {account:?} api_secret"),
        )
        .map_err(|e| e.to_string())
    }
}

/// One `[[providers.assets]]` entry of a Pay Protocol account.
#[derive(Debug, Clone, Deserialize)]
pub struct PayProtocolAsset {
    pub chain: String,
    pub asset: String,
    pub decimals: u32,
    /// Pay Protocol's own chain id (from `/conf/list/chain`, not an EVM chain id).
    pub chain_id: i64,
    /// Pay Protocol's currency id on that chain (from `/conf/list/currency`).
    pub currency_id: i64,
}
