//! A UBAO account's own settings: its `[providers.ubao]` table (seed 003 §0.1) and its assets'
//! coin and chain numbers (seed 003 "幣種編號").

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

use crate::config::resolve_secret;

/// `[providers.ubao]`.
#[derive(Debug, Clone, Deserialize)]
pub struct UbaoSettings {
    /// `merchantId`, from UBAO's user centre.
    pub merchant_id: i64,
    /// The key `sign` is made with: inline (simulators), or `api_key_env`.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Collection wallets (`type: 2`) already made at UBAO, by our chain (e.g. `TRX`). A chain not
    /// listed gets one made on first need, and remembered.
    #[serde(default)]
    pub collection_wallets: BTreeMap<String, String>,
    /// The simulator's resend schedule for a callback not answered `SUCCESS` (the real one: at
    /// once, then 5, 15 and 30 minutes later). Read by the simulator only.
    #[serde(default)]
    pub sim_callback_schedule_ms: Option<Vec<u64>>,
}

impl UbaoSettings {
    pub fn api_key(&self, account: &str) -> Result<SecretString, String> {
        resolve_secret(
            self.api_key.as_ref(),
            self.api_key_env.as_deref(),
            None,
            &format!("account {account:?} api_key"),
        )
        .map_err(|e| e.to_string())
    }
}

/// One `[[providers.assets]]` entry of a UBAO account.
#[derive(Debug, Clone, Deserialize)]
pub struct UbaoAsset {
    pub chain: String,
    pub asset: String,
    pub decimals: u32,
    /// UBAO's coin number (`coinID`, 1001–1012).
    pub coin_id: i64,
    /// UBAO's chain number (`chainType`: 160 TRON, 170 BSC, 180 ETH, 190 Polygon).
    pub chain_type: i64,
    /// The token's contract, as UBAO's coin table gives it; none for a chain's own coin.
    #[serde(default)]
    pub contract: Option<String>,
    /// Sweep a receive address into the collection wallet once a confirmed deposit of at least
    /// this much (a decimal string) arrives there; no sweeps when absent.
    #[serde(default)]
    pub sweep_min: Option<String>,
}
