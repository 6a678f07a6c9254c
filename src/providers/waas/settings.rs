//! A WaaS account's own settings: its `[providers.waas]` table (waas.md C1) and its assets' chain
//! names and symbols.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::resolve_secret;
use crate::providers::crypto::rsa::PublicKey;

/// `[providers.waas]`.
#[derive(Debug, Clone, Deserialize)]
pub struct WaasSettings {
    /// The merchant's API key (`X-API-KEY`), inline for the simulators, else `api_key_env`.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// WaaS's public key as it mails it (Base64 X.509 `MIGfMA0G…`; PEM accepted too): inline,
    /// through an environment variable or as a file.
    #[serde(default)]
    pub public_key: Option<SecretString>,
    #[serde(default)]
    pub public_key_env: Option<String>,
    #[serde(default)]
    pub public_key_file: Option<String>,
    /// The merchant id WaaS assigned (`userId` in withdrawals).
    pub user_id: i64,
    /// `verify`: `withdrawRequest`, which WaaS confirms with us before paying (the default);
    /// `direct`: `withdrawWithoutVerify`.
    #[serde(default)]
    pub withdraw_mode: WaasWithdrawMode,
    /// A deposit whose source address scores at least this (0–100) waits for an operator.
    #[serde(default)]
    pub hold_deposits_at_risk: Option<i16>,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WaasWithdrawMode {
    #[default]
    Verify,
    Direct,
}

impl WaasSettings {
    pub fn api_key(&self, account: &str) -> Result<SecretString, String> {
        resolve_secret(
            self.api_key.as_ref(),
            self.api_key_env.as_deref(),
            None,
            &format!("account {account:?} api_key"),
        )
        .map_err(|e| e.to_string())
    }

    pub fn public_key(&self) -> Result<PublicKey, String> {
        let text = resolve_secret(
            self.public_key.as_ref(),
            self.public_key_env.as_deref(),
            self.public_key_file.as_deref(),
            "WaaS public_key",
        )
        .map_err(|e| e.to_string())?;
        PublicKey::parse(text.expose_secret()).map_err(|e| format!("WaaS public key: {e}"))
    }
}

/// One `[[providers.assets]]` entry of a WaaS account.
#[derive(Debug, Clone, Deserialize)]
pub struct WaasAsset {
    pub chain: String,
    pub asset: String,
    pub decimals: u32,
    /// WaaS's chain name, e.g. `TRON`, `ETH`.
    pub chain_name: String,
    /// WaaS's symbol, e.g. `USDT`, `TRX`.
    pub symbol: String,
}
