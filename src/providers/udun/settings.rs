//! A Udun account's own settings: its `[providers.udun]` table and its assets' coin numbers.

use secrecy::SecretString;
use serde::Deserialize;

/// `[providers.udun]`.
#[derive(Debug, Clone, Deserialize)]
pub struct UdunSettings {
    pub merchant_id: String,
    /// The API key, or leave it out and name an environment variable in `api_key_env`.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// `withdraw` (reviewed in the Udun console) or `proxypay` (automatic payment).
    #[serde(default)]
    pub withdraw_mode: UdunWithdrawMode,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UdunWithdrawMode {
    #[default]
    Withdraw,
    Proxypay,
}

/// One `[[providers.assets]]` entry of a Udun account (seed 001, appendix one).
#[derive(Debug, Clone, Deserialize)]
pub struct UdunAsset {
    pub chain: String,
    pub asset: String,
    pub decimals: u32,
    /// The main coin number (SLIP-44), e.g. "60".
    pub main_coin_type: String,
    /// The coin number, or the token's contract address; the main coin's number by default.
    #[serde(default)]
    pub coin_type: Option<String>,
}
