//! Typed settings: `config/default.toml`, then an optional file named by `CUSTODY_CONFIG`, then
//! environment overrides `CUSTODY__SECTION__KEY` (and `DATABASE_URL`).

use std::path::Path;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub sim: SimSettings,
    #[serde(default)]
    pub ops: OpsSettings,
    #[serde(default)]
    pub workers: WorkerSettings,
    #[serde(default)]
    pub webhooks: WebhookSettings,
    #[serde(default)]
    pub pollers: PollerSettings,
    /// Provider accounts in routing order: the first enabled account serving a chain/asset is used
    /// when a request names none.
    #[serde(default)]
    pub providers: Vec<ProviderAccountSettings>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    /// Base URL at which providers reach this gateway (callback URLs are built from it).
    /// Defaults to `http://<bound address>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed, e.g. `["10.0.0.5/32"]`. A forwarded-for header
    /// from any other peer is ignored: the peer itself is the caller.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
    /// How long a client has to send a request's headers, counted from the connection's accept or
    /// from the end of its previous response (so an idle keep-alive connection is closed after
    /// it too). 0 turns the limit off.
    #[serde(default = "default_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// How long a client has to send a whole request body, counted from the end of its headers;
    /// past it the request is answered 408 and the connection closed. 0 turns the limit off.
    #[serde(default = "default_body_read_timeout_ms")]
    pub body_read_timeout_ms: u64,
    /// The longest a request may take from the end of its headers to its response (408 past it).
    /// Keep it above the provider accounts' `timeout_secs`, which a request may wait for.
    /// 0 turns the limit off.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Client connections served at once; more wait in the listen backlog until one closes.
    /// 0 turns the limit off.
    #[serde(default = "default_server_max_connections")]
    pub max_connections: usize,
}

fn default_header_read_timeout_ms() -> u64 {
    10_000
}
fn default_body_read_timeout_ms() -> u64 {
    10_000
}
fn default_request_timeout_ms() -> u64 {
    30_000
}
fn default_server_max_connections() -> usize {
    1024
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Create the database named in `url` when it does not exist yet.
    #[serde(default = "yes")]
    pub create_if_missing: bool,
    /// How long a request waits for a database connection before it fails (503), so that an
    /// outage is reported at once rather than after every caller has queued.
    #[serde(default = "default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    /// The longest a provider callback waits on the database; past it the provider gets its own
    /// "retry later" answer (it sends again, and the event key keeps that harmless).
    #[serde(default = "default_callback_timeout_ms")]
    pub callback_timeout_ms: u64,
    /// Group commit: at most this many callback transactions at once; callbacks arriving while
    /// they are busy wait and are stored together in the next.
    #[serde(default = "default_callback_groups")]
    pub callback_groups: usize,
    /// The most callbacks stored in one transaction.
    #[serde(default = "default_callback_group_max")]
    pub callback_group_max: usize,
    /// Under load (the last group held more than one callback), how long a group waits for more
    /// callbacks before it starts, in microseconds; 0 never waits.
    #[serde(default = "default_callback_group_linger_us")]
    pub callback_group_linger_us: u64,
}

fn default_callback_group_linger_us() -> u64 {
    1_000
}

fn default_callback_groups() -> usize {
    2
}

fn default_callback_group_max() -> usize {
    64
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct LogSettings {
    /// `pretty` (default) or `json`.
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct SimSettings {
    /// Serve the provider simulators under `/sim` on the gateway's own listener, and point every
    /// account whose `base_url` is `"sim"` at them.
    #[serde(default)]
    pub enabled: bool,
    /// API key of the demo merchant created at start-up in simulator mode.
    #[serde(default)]
    pub demo_api_key: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct OpsSettings {
    /// Bearer token for `/ops`; without one the ops API refuses every call.
    #[serde(default)]
    pub token: Option<SecretString>,
}

/// One provider account. The fields here are the ones every kind has; the rest of the account's
/// table (the provider's own section, e.g. `[providers.udun]`, and its `[[providers.assets]]` with
/// the provider's identifiers for each asset) belongs to its adapter, which reads it from `own`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderAccountSettings {
    /// Stable account id, e.g. `udun-main`; part of callback URLs and of every stored event.
    pub id: String,
    /// The provider kind, a name from the registry's list (`providers::registry::KINDS`).
    pub kind: String,
    /// The provider's API base URL, or `"sim"` for the built-in simulator.
    pub base_url: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Who may call this account's approval endpoint, for providers that ask before signing.
    #[serde(default)]
    pub approvals: Option<ApprovalSettings>,
    /// Everything else in the account's table, for its adapter.
    #[serde(flatten)]
    pub own: serde_json::Map<String, serde_json::Value>,
}

/// The chain/asset part every asset entry has; adapters read their own identifiers beside it.
#[derive(Debug, Clone, Deserialize)]
pub struct AssetSettings {
    pub chain: String,
    pub asset: String,
    pub decimals: u32,
}

/// Callers of `/callbacks/{account}/approvals`. A provider's signer (ChainUp Co-Signer) posts
/// plaintext that carries no proof of who sent it, so the gateway authenticates the caller itself.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ApprovalSettings {
    /// Shared secret, sent as `Authorization: Bearer …` or as `?token=…` in the callback URL
    /// (Co-Signer is given a URL and cannot add headers). Inline for the simulators only; a real
    /// account names an environment variable in `token_env`.
    #[serde(default)]
    pub token: Option<SecretString>,
    #[serde(default)]
    pub token_env: Option<String>,
    /// Source networks allowed to call, e.g. `["10.0.0.0/8"]`; any when empty.
    #[serde(default)]
    pub allow_from: Vec<IpNet>,
}

impl ProviderAccountSettings {
    pub fn uses_simulator(&self) -> bool {
        self.base_url == "sim"
    }

    fn invalid(&self, what: impl std::fmt::Display) -> SettingsError {
        SettingsError::Invalid(format!("account {:?}: {what}", self.id))
    }

    /// The provider's own section, `[providers.<name>]`, as the adapter's settings type.
    pub fn section<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, SettingsError> {
        let value = self
            .own
            .get(name)
            .ok_or_else(|| self.invalid(format!("missing [providers.{name}] section")))?;
        serde_json::from_value(value.clone())
            .map_err(|e| self.invalid(format!("[providers.{name}]: {e}")))
    }

    /// The account's `[[providers.assets]]`, each read as the adapter's asset type.
    pub fn assets<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, SettingsError> {
        match self.own.get("assets") {
            None => Ok(Vec::new()),
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|e| self.invalid(format!("assets: {e}"))),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

fn default_max_connections() -> u32 {
    20
}
fn default_acquire_timeout_ms() -> u64 {
    2_000
}
fn default_callback_timeout_ms() -> u64 {
    2_000
}
fn default_timeout_secs() -> u64 {
    15
}
fn yes() -> bool {
    true
}

impl Settings {
    /// Loads `config/default.toml` (relative to `dir`), the file named by `CUSTODY_CONFIG` if set,
    /// then the environment.
    pub fn load(dir: &Path) -> Result<Settings, SettingsError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from(dir.join("default.toml")).required(false));
        if let Ok(extra) = std::env::var("CUSTODY_CONFIG") {
            builder = builder.add_source(config::File::with_name(&extra).required(true));
        }
        builder = with_environment(builder, std::env::vars())?;
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.check()?;
        Ok(settings)
    }

    /// Loads settings from a TOML string alone (tests and tools).
    pub fn from_toml(text: &str) -> Result<Settings, SettingsError> {
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()?
            .try_deserialize()?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        let mut seen = std::collections::HashSet::new();
        for account in &self.providers {
            if !seen.insert(account.id.as_str()) {
                return Err(SettingsError::Invalid(format!(
                    "provider account id {:?} appears twice",
                    account.id
                )));
            }
            if account.id.is_empty()
                || !account
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(SettingsError::Invalid(format!(
                    "provider account id {:?}: use letters, digits, '-' and '_'",
                    account.id
                )));
            }
            if account.uses_simulator() && !self.sim.enabled {
                return Err(SettingsError::Invalid(format!(
                    "provider account {:?} uses base_url \"sim\" but sim.enabled is false",
                    account.id
                )));
            }
        }
        Ok(())
    }

    /// Loads `config/default.toml` (relative to `dir`) and then `vars` as the environment (tests).
    pub fn load_with_env(
        dir: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let builder = config::Config::builder()
            .add_source(config::File::from(dir.join("default.toml")).required(false));
        let settings: Settings = with_environment(builder, vars)?
            .build()?
            .try_deserialize()?;
        settings.check()?;
        Ok(settings)
    }

    /// How long a send to a provider may hold a withdrawal: longer than any account's provider
    /// timeout, so that a lease never ends while its request may still be in flight.
    pub fn send_lease_secs(&self) -> u64 {
        let longest = self.providers.iter().map(|a| a.timeout_secs).max();
        longest.unwrap_or_else(default_timeout_secs) + 30
    }

    pub fn database_url(&self) -> &str {
        self.database.url.expose_secret()
    }
}

/// Settings that are lists. From the environment each is given comma-separated; one value is a
/// list of one: `CUSTODY__WEBHOOKS__RETRY_SCHEDULE_MS=1000,2000`,
/// `CUSTODY__SERVER__TRUSTED_PROXIES=10.0.0.5/32`.
pub const LIST_SETTINGS: [&str; 2] = ["webhooks.retry_schedule_ms", "server.trusted_proxies"];

/// Adds the `CUSTODY__SECTION__KEY` overrides in `vars`; the list settings are split on commas
/// (one value is a list of one, an empty value an empty list).
fn with_environment(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, SettingsError> {
    let var_of = |key: &str| format!("CUSTODY__{}", key.replace('.', "__").to_ascii_uppercase());
    let mut scalars = config::Map::new();
    let mut lists = Vec::new();
    for (name, value) in vars.into_iter().filter(|(n, _)| n.starts_with("CUSTODY__")) {
        match LIST_SETTINGS.iter().find(|key| var_of(key) == name) {
            Some(key) => {
                let items: Vec<String> = value
                    .split(',')
                    .map(|item| item.trim().to_owned())
                    .filter(|item| !item.is_empty())
                    .collect();
                lists.push((*key, items));
            }
            None => {
                scalars.insert(name, value);
            }
        }
    }
    let mut builder = builder.add_source(
        config::Environment::with_prefix("CUSTODY")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(scalars)),
    );
    for (key, items) in lists {
        builder = builder.set_override(key, items)?;
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        Settings::load_with_env(
            &dir,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn list_settings_come_from_the_environment_comma_separated() {
        let settings = with_env(&[
            ("CUSTODY__WEBHOOKS__RETRY_SCHEDULE_MS", "1000,2000"),
            (
                "CUSTODY__SERVER__TRUSTED_PROXIES",
                "10.0.0.5/32, 10.0.1.0/24",
            ),
        ])
        .unwrap();
        assert_eq!(settings.webhooks.retry_schedule_ms, vec![1000, 2000]);
        assert_eq!(settings.server.trusted_proxies.len(), 2);
        let one = with_env(&[("CUSTODY__WEBHOOKS__RETRY_SCHEDULE_MS", "1500")]).unwrap();
        assert_eq!(one.webhooks.retry_schedule_ms, vec![1500]);
        // Scalars are untouched by the list parsing.
        let scalar = with_env(&[("CUSTODY__SERVER__BIND", "127.0.0.1:9090")]).unwrap();
        assert_eq!(scalar.server.bind, "127.0.0.1:9090");
        assert!(with_env(&[("CUSTODY__WEBHOOKS__RETRY_SCHEDULE_MS", "soon")]).is_err());
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// How often withdrawals stuck in `accepted` or `unknown` are sent again (same request id).
    #[serde(default = "default_resubmit_interval")]
    pub resubmit_interval_secs: u64,
    /// How long a withdrawal must have been `accepted` or `unknown` before it is sent again.
    #[serde(default = "default_resubmit_after")]
    pub resubmit_after_secs: u64,
    /// How long `POST /v1/withdrawals` waits for the provider's answer. After that it answers 202
    /// with the withdrawal as it stands; the send goes on in the background.
    #[serde(default = "default_submit_wait_ms")]
    pub submit_wait_ms: u64,
    /// How long an open withdrawal may stay quiet before `/ops/withdrawals/attention` lists it
    /// (what a provider without a status query leaves to an operator).
    #[serde(default = "default_attention_after")]
    pub attention_after_secs: u64,
    /// How often due sweeps (deposits into the collection wallet) are asked for.
    #[serde(default = "default_sweep_interval_ms")]
    pub sweep_interval_ms: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            resubmit_interval_secs: default_resubmit_interval(),
            resubmit_after_secs: default_resubmit_after(),
            submit_wait_ms: default_submit_wait_ms(),
            attention_after_secs: default_attention_after(),
            sweep_interval_ms: default_sweep_interval_ms(),
        }
    }
}

fn default_resubmit_interval() -> u64 {
    10
}
fn default_resubmit_after() -> u64 {
    60
}
fn default_submit_wait_ms() -> u64 {
    5_000
}
fn default_attention_after() -> u64 {
    30 * 60
}
fn default_sweep_interval_ms() -> u64 {
    2_000
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    /// Delivery workers per gateway instance.
    #[serde(default = "default_webhook_workers")]
    pub workers: usize,
    /// Deliveries one worker keeps in flight at once.
    #[serde(default = "default_webhook_in_flight")]
    pub in_flight_per_worker: usize,
    /// How often an idle worker looks for due deliveries.
    #[serde(default = "default_webhook_poll_ms")]
    pub poll_interval_ms: u64,
    #[serde(default = "default_webhook_timeout")]
    pub timeout_ms: u64,
    /// Delay before each retry; after the last one fails the delivery is `failed`. Each delay gets
    /// up to 20% random jitter. The default adds up to about three days.
    #[serde(default = "default_retry_schedule")]
    pub retry_schedule_ms: Vec<u64>,
    /// Allow endpoints on loopback and private networks (the simulators and tests need it;
    /// production should not, as it lets a webhook URL reach internal services).
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// How long the previous secret keeps signing beside the new one after a rotation.
    #[serde(default = "default_rotation_overlap")]
    pub rotation_overlap_secs: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            workers: default_webhook_workers(),
            in_flight_per_worker: default_webhook_in_flight(),
            poll_interval_ms: default_webhook_poll_ms(),
            timeout_ms: default_webhook_timeout(),
            retry_schedule_ms: default_retry_schedule(),
            allow_private_addresses: false,
            rotation_overlap_secs: default_rotation_overlap(),
        }
    }
}

fn default_webhook_workers() -> usize {
    4
}
fn default_webhook_in_flight() -> usize {
    16
}
fn default_webhook_poll_ms() -> u64 {
    500
}
fn default_webhook_timeout() -> u64 {
    15_000
}
fn default_rotation_overlap() -> u64 {
    24 * 3600
}
fn default_retry_schedule() -> Vec<u64> {
    const MINUTE: u64 = 60_000;
    const HOUR: u64 = 60 * MINUTE;
    vec![
        5_000,
        5 * MINUTE,
        30 * MINUTE,
        2 * HOUR,
        5 * HOUR,
        10 * HOUR,
        10 * HOUR,
        10 * HOUR,
        10 * HOUR,
        10 * HOUR,
        10 * HOUR,
    ]
}

#[derive(Debug, Clone, Deserialize)]
pub struct PollerSettings {
    /// How often each account's feeds are read and its pending deposits' confirmations counted.
    #[serde(default = "default_poll_interval")]
    pub interval_ms: u64,
    /// The longest wait after repeated provider errors (the wait doubles from `interval_ms`).
    #[serde(default = "default_poll_max_backoff")]
    pub max_backoff_ms: u64,
    /// Pages read from one feed in one round, so that one busy feed does not starve the others.
    #[serde(default = "default_poll_max_pages")]
    pub max_pages_per_round: u32,
    /// How long an open withdrawal goes without a status query before the pollers ask the
    /// provider again, in case its callbacks were lost.
    #[serde(default = "default_reconcile_after")]
    pub reconcile_after_secs: u64,
    /// Open withdrawals asked about in one round.
    #[serde(default = "default_reconcile_batch")]
    pub reconcile_batch: i64,
}

impl Default for PollerSettings {
    fn default() -> Self {
        PollerSettings {
            interval_ms: default_poll_interval(),
            max_backoff_ms: default_poll_max_backoff(),
            max_pages_per_round: default_poll_max_pages(),
            reconcile_after_secs: default_reconcile_after(),
            reconcile_batch: default_reconcile_batch(),
        }
    }
}

fn default_poll_interval() -> u64 {
    5_000
}
fn default_poll_max_backoff() -> u64 {
    300_000
}
fn default_poll_max_pages() -> u32 {
    50
}
fn default_reconcile_after() -> u64 {
    60
}
fn default_reconcile_batch() -> i64 {
    50
}

/// Reads a secret given inline (simulators and tests), through an environment variable, or as a
/// file, in that order of preference.
pub fn resolve_secret(
    inline: Option<&SecretString>,
    env_name: Option<&str>,
    file: Option<&str>,
    what: &str,
) -> Result<SecretString, SettingsError> {
    if let Some(secret) = inline {
        return Ok(secret.clone());
    }
    if let Some(name) = env_name {
        return std::env::var(name).map(SecretString::from).map_err(|_| {
            SettingsError::Invalid(format!("{what}: environment variable {name} is not set"))
        });
    }
    if let Some(path) = file {
        return std::fs::read_to_string(path)
            .map(SecretString::from)
            .map_err(|_| SettingsError::Invalid(format!("{what}: cannot read {path}")));
    }
    Err(SettingsError::Invalid(format!(
        "{what}: give it inline, through an environment variable (*_env) or as a file (*_file)"
    )))
}
