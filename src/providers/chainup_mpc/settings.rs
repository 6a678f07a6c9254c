//! A ChainUp Custody MPC account's own settings: its `[providers.chainup]` table (chainup_mpc.md A2)
//! and its assets' ChainUp symbols. Keys are PEM or Base64 DER, given inline, through an
//! environment variable (`*_env`) or as a file (`*_file`).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::resolve_secret;
use crate::providers::crypto::rsa::{PrivateKey, PublicKey};

/// `[providers.chainup]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChainupSettings {
    pub app_id: String,
    /// Our private key (`rsa_third_prv`): encrypts request data.
    #[serde(default)]
    pub private_key: Option<SecretString>,
    #[serde(default)]
    pub private_key_env: Option<String>,
    #[serde(default)]
    pub private_key_file: Option<String>,
    /// ChainUp's public key (`rsa_wallet_pub`): decrypts replies and notifications.
    #[serde(default)]
    pub chainup_public_key: Option<String>,
    #[serde(default)]
    pub chainup_public_key_file: Option<String>,
    /// Optional key that signs withdrawals (`sign`), for Co-Signer signature verification.
    #[serde(default)]
    pub sign_key_env: Option<String>,
    #[serde(default)]
    pub sign_key_file: Option<String>,
    /// The sub-wallet withdrawals are paid from.
    pub withdraw_sub_wallet_id: i64,
}

impl ChainupSettings {
    /// Whether withdrawals are signed (`sign`, A5).
    pub fn signs_withdrawals(&self) -> bool {
        self.sign_key_env.is_some() || self.sign_key_file.is_some()
    }
}

/// One `[[providers.assets]]` entry of a ChainUp account.
#[derive(Debug, Clone, Deserialize)]
pub struct ChainupAsset {
    pub chain: String,
    pub asset: String,
    pub decimals: u32,
    /// The coin's unique symbol, e.g. "USDTERC20".
    pub symbol: String,
    /// The main chain symbol for `chain_height`; defaults to `chain`.
    #[serde(default)]
    pub base_symbol: Option<String>,
    /// Confirmations the gateway counts before crediting a deposit.
    #[serde(default)]
    pub confirmations: Option<u32>,
}

impl ChainupSettings {
    /// Our private key (inline, `private_key_env` or `private_key_file`).
    pub fn private_key(&self) -> Result<PrivateKey, String> {
        let text = resolve_secret(
            self.private_key.as_ref(),
            self.private_key_env.as_deref(),
            self.private_key_file.as_deref(),
            "chainup private_key",
        )
        .map_err(|e| e.to_string())?;
        PrivateKey::parse(text.expose_secret()).map_err(|e| format!("private key: {e}"))
    }

    /// ChainUp's public key (inline or `chainup_public_key_file`).
    pub fn chainup_public_key(&self) -> Result<PublicKey, String> {
        let text = match (&self.chainup_public_key, &self.chainup_public_key_file) {
            (Some(text), _) => text.clone(),
            (None, Some(path)) => {
                std::fs::read_to_string(path).map_err(|_| format!("cannot read {path}"))?
            }
            (None, None) => {
                return Err("chainup_public_key or chainup_public_key_file is required".into());
            }
        };
        PublicKey::parse(&text).map_err(|e| format!("ChainUp public key: {e}"))
    }

    /// The key that signs withdrawals, when the account signs them.
    pub fn sign_key(&self) -> Result<Option<PrivateKey>, String> {
        if !self.signs_withdrawals() {
            return Ok(None);
        }
        let text = resolve_secret(
            None,
            self.sign_key_env.as_deref(),
            self.sign_key_file.as_deref(),
            "sign key",
        )
        .map_err(|e| e.to_string())?;
        PrivateKey::parse(text.expose_secret())
            .map(Some)
            .map_err(|e| format!("sign key: {e}"))
    }
}
