//! Test harness: a fresh PostgreSQL database per test, the Udun simulator and the gateway each on
//! their own port 0, talking real HTTP. Nothing of the gateway is mocked.
#![allow(dead_code)]

pub mod db_proxy;
pub mod receiver;
pub mod sims;

use std::sync::Once;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use custody_gateway::config::Settings;
use custody_gateway::{Gateway, orders, sim, start};

pub const UDUN_ACCOUNT: &str = "udun-main";
pub const UDUN_MERCHANT_ID: &str = "300015";
pub const UDUN_API_KEY: &str = "test-udun-api-key";
pub const OPS_TOKEN: &str = "test-ops-token";
pub const CHAINUP_ACCOUNT: &str = "chainup-main";
pub const CHAINUP_APP_ID: &str = "test-chainup-app";
pub const WAAS_ACCOUNT: &str = "waas-main";
pub const WAAS_API_KEY: &str = "test-waas-api-key";
pub const PAY_ACCOUNT: &str = "payprotocol-main";
pub const PAY_API_KEY: &str = "test-pay-key";
pub const PAY_API_SECRET: &str = "test-pay-secret";
pub const UBAO_ACCOUNT: &str = "ubao-main";
pub const UBAO_API_KEY: &str = "test-ubao-key";
pub const UBAO_MERCHANT_ID: i64 = 2000213;
/// The secret Co-Signer presents on the approval endpoint (in its callback URL).
pub const APPROVAL_TOKEN: &str = "test-approval-token-3f9c2a";
pub const USDT_TRC20: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
pub const TRON_ADDRESS: &str = "TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF";

pub fn database_server() -> String {
    std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Knobs a test may turn.
#[derive(Clone)]
pub struct TestOptions {
    pub provider_timeout_secs: u64,
    pub withdraw_mode: &'static str,
    /// Webhook delivery workers; none unless a test is about webhooks.
    pub webhook_workers: usize,
    pub webhook_timeout_ms: u64,
    pub retry_schedule_ms: Vec<u64>,
    pub allow_private_addresses: bool,
    /// The ChainUp account's approval token; `None` leaves it unset.
    pub approval_token: Option<&'static str>,
    /// The ChainUp account's `approvals.allow_from`.
    pub approval_allow_from: Vec<&'static str>,
    /// `server.trusted_proxies`.
    pub trusted_proxies: Vec<&'static str>,
    /// `workers.submit_wait_ms`: how long a withdrawal request waits for the provider.
    pub submit_wait_ms: u64,
    /// `workers.attention_after_secs`: how long a withdrawal may be quiet before ops see it.
    pub attention_after_secs: u64,
    /// `database.callback_groups`: how many callback transactions may run at once.
    pub callback_groups: usize,
    /// `workers.sweep_interval_ms`: how often the sweep worker makes its pass.
    pub sweep_interval_ms: u64,
    /// `webhooks.poll_interval_ms`: how often workers look for due deliveries without a wake-up.
    pub webhook_poll_interval_ms: u64,
    /// The UBAO account's base URL; its built-in simulator (`sim`) by default.
    pub ubao_base_url: Option<String>,
    /// The Pay Protocol account's `unverified_prompts_per_minute`.
    pub pay_unverified_per_minute: u32,
    /// The WaaS account's `withdraw_mode`: `verify` or `direct`.
    pub waas_withdraw_mode: &'static str,
    /// The ChainUp account's id (a test that reads process-wide metrics uses one of its own).
    pub chainup_account: String,
    /// Reach PostgreSQL through this server URL (e.g. a relay a test can cut) instead.
    pub database_server: Option<String>,
    /// `server.header_read_timeout_ms`, `body_read_timeout_ms`, `request_timeout_ms` and
    /// `max_connections`.
    pub header_read_timeout_ms: u64,
    pub body_read_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub max_connections: usize,
    /// `database.max_connections`: the gateway's pool.
    pub database_connections: u32,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            provider_timeout_secs: 5,
            withdraw_mode: "withdraw",
            webhook_workers: 0,
            webhook_timeout_ms: 2_000,
            retry_schedule_ms: vec![50, 100, 200],
            allow_private_addresses: true,
            approval_token: Some(APPROVAL_TOKEN),
            approval_allow_from: Vec::new(),
            trusted_proxies: Vec::new(),
            database_server: None,
            chainup_account: CHAINUP_ACCOUNT.to_owned(),
            waas_withdraw_mode: "verify",
            submit_wait_ms: 5_000,
            attention_after_secs: 1_800,
            callback_groups: 2,
            sweep_interval_ms: 2_000,
            pay_unverified_per_minute: 30,
            ubao_base_url: None,
            webhook_poll_interval_ms: 20,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            max_connections: 1024,
            database_connections: 30,
        }
    }
}

impl TestOptions {
    pub fn webhooks(workers: usize) -> TestOptions {
        TestOptions {
            webhook_workers: workers,
            ..TestOptions::default()
        }
    }
}

fn settings_toml(
    database_url: &str,
    udun_base_url: &str,
    chainup_base_url: &str,
    options: &TestOptions,
) -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"
trusted_proxies = {trusted_proxies:?}
header_read_timeout_ms = {header_read_timeout}
body_read_timeout_ms = {body_read_timeout}
request_timeout_ms = {request_timeout}
max_connections = {max_connections}

[database]
url = "{database_url}"
max_connections = {database_connections}
callback_groups = {callback_groups}

[ops]
token = "{OPS_TOKEN}"

[sim]
# Built-in simulators serve the accounts whose base_url is "sim" (ChainUp here).
enabled = true

[pollers]
# Tests poll explicitly, so that what a poll does is deterministic.
interval_ms = 3600000
reconcile_after_secs = 0

[workers]
resubmit_interval_secs = 3600
resubmit_after_secs = 0
submit_wait_ms = {submit_wait_ms}
attention_after_secs = {attention_after}
sweep_interval_ms = {sweep_interval}

[webhooks]
workers = {webhook_workers}
in_flight_per_worker = 16
poll_interval_ms = {webhook_poll}
timeout_ms = {webhook_timeout}
retry_schedule_ms = {schedule:?}
allow_private_addresses = {allow_private}

[[providers]]
id = "{UDUN_ACCOUNT}"
kind = "udun"
base_url = "{udun_base_url}"
timeout_secs = {timeout}

[providers.udun]
merchant_id = "{UDUN_MERCHANT_ID}"
api_key = "{UDUN_API_KEY}"
withdraw_mode = "{mode}"

[[providers.assets]]
chain = "BTC"
asset = "BTC"
decimals = 8
main_coin_type = "0"
coin_type = "0"

[[providers.assets]]
chain = "ETH"
asset = "ETH"
decimals = 18
main_coin_type = "60"
coin_type = "60"

[[providers.assets]]
chain = "ETH"
asset = "USDT"
decimals = 6
main_coin_type = "60"
coin_type = "0xdac17f958d2ee523a2206206994597c13d831ec7"

[[providers.assets]]
chain = "TRX"
asset = "TRX"
decimals = 6
main_coin_type = "195"
coin_type = "195"

[[providers.assets]]
chain = "TRX"
asset = "USDT"
decimals = 6
main_coin_type = "195"
coin_type = "{USDT_TRC20}"

[[providers]]
id = "{chainup_account}"
kind = "chainup_mpc"
base_url = "{chainup_base_url}"
timeout_secs = {timeout}

[providers.chainup]
app_id = "{CHAINUP_APP_ID}"
private_key_file = "config/sim/chainup_gateway_private.pem"
chainup_public_key_file = "config/sim/chainup_sim_public.pem"
# Withdrawals carry `sign`, made with our own key as ChainUp allows; the simulator verifies it.
sign_key_file = "config/sim/chainup_gateway_private.pem"
withdraw_sub_wallet_id = 1000

[providers.approvals]
{approval_token}
allow_from = {allow_from:?}

[[providers.assets]]
chain = "ETH"
asset = "ETH"
decimals = 18
symbol = "ETH"
confirmations = 12

[[providers.assets]]
chain = "ETH"
asset = "USDT"
decimals = 6
symbol = "USDTERC20"
base_symbol = "ETH"
confirmations = 12

[[providers]]
id = "{WAAS_ACCOUNT}"
kind = "waas"
base_url = "sim"
timeout_secs = {timeout}

[providers.waas]
api_key = "{WAAS_API_KEY}"
public_key_file = "config/sim/waas_public.pem"
user_id = 1001
withdraw_mode = "{waas_mode}"
hold_deposits_at_risk = 80

[[providers.assets]]
chain = "TRX"
asset = "TRX"
decimals = 6
chain_name = "TRON"
symbol = "TRX"

[[providers.assets]]
chain = "TRX"
asset = "USDT"
decimals = 6
chain_name = "TRON"
symbol = "USDT"

[[providers.assets]]
chain = "ETH"
asset = "ETH"
decimals = 18
chain_name = "ETH"
symbol = "ETH"

[[providers]]
id = "{PAY_ACCOUNT}"
kind = "payprotocol"
base_url = "sim"
timeout_secs = {timeout}

[providers.payprotocol]
api_key = "{PAY_API_KEY}"
api_secret = "{PAY_API_SECRET}"
unverified_prompts_per_minute = {pay_unverified}
sim_callback_schedule_ms = [0, 300, 600]

[[providers.assets]]
chain = "TRX"
asset = "TRX"
decimals = 6
chain_id = 1
currency_id = 1

[[providers.assets]]
chain = "TRX"
asset = "USDT"
decimals = 6
chain_id = 1
currency_id = 2

[[providers.assets]]
chain = "ETH"
asset = "USDT"
decimals = 6
chain_id = 2
currency_id = 4

[[providers]]
id = "{UBAO_ACCOUNT}"
kind = "ubao"
base_url = "{ubao_base_url}"
timeout_secs = {timeout}

[providers.ubao]
merchant_id = {UBAO_MERCHANT_ID}
api_key = "{UBAO_API_KEY}"
sim_callback_schedule_ms = [0, 1000, 3000, 6000]

[[providers.assets]]
chain = "TRX"
asset = "TRX"
decimals = 6
coin_id = 1003
chain_type = 160

[[providers.assets]]
chain = "TRX"
asset = "USDT"
decimals = 6
coin_id = 1004
chain_type = 160
contract = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
sweep_min = "10"

[[providers.assets]]
chain = "BSC"
asset = "USDT"
decimals = 18
coin_id = 1002
chain_type = 170
contract = "0x55d398326f99059ff775485246999027b3197955"
"#,
        timeout = options.provider_timeout_secs,
        mode = options.withdraw_mode,
        webhook_workers = options.webhook_workers,
        webhook_timeout = options.webhook_timeout_ms,
        schedule = options.retry_schedule_ms,
        allow_private = options.allow_private_addresses,
        trusted_proxies = options.trusted_proxies,
        submit_wait_ms = options.submit_wait_ms,
        attention_after = options.attention_after_secs,
        callback_groups = options.callback_groups,
        sweep_interval = options.sweep_interval_ms,
        pay_unverified = options.pay_unverified_per_minute,
        webhook_poll = options.webhook_poll_interval_ms,
        ubao_base_url = options.ubao_base_url.as_deref().unwrap_or("sim"),
        chainup_account = options.chainup_account,
        waas_mode = options.waas_withdraw_mode,
        header_read_timeout = options.header_read_timeout_ms,
        body_read_timeout = options.body_read_timeout_ms,
        request_timeout = options.request_timeout_ms,
        max_connections = options.max_connections,
        database_connections = options.database_connections,
        allow_from = options.approval_allow_from,
        approval_token = options
            .approval_token
            .map(|t| format!("token = \"{t}\""))
            .unwrap_or_default(),
    )
}

/// The settings a test gateway runs with, its ChainUp account at `chainup_base_url`.
pub fn settings(database_url: &str, chainup_base_url: &str, options: &TestOptions) -> Settings {
    Settings::from_toml(&settings_toml(
        database_url,
        "http://127.0.0.1:9",
        chainup_base_url,
        options,
    ))
    .unwrap()
}

pub struct TestApp {
    pub database: String,
    pub database_url: String,
    pub options: TestOptions,
    pub gateway: Gateway,
    pub url: String,
    pub sim_url: String,
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub api_key: String,
    pub merchant_id: Uuid,
    pub webhook_secret: String,
}

static TRACING: Once = Once::new();

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(TestOptions::default()).await
    }

    pub async fn spawn_with(options: TestOptions) -> TestApp {
        TRACING.call_once(|| {
            if std::env::var("TEST_LOG").is_ok() {
                custody_gateway::telemetry::init(custody_gateway::config::LogFormat::Pretty);
            }
        });
        let database = format!("cg_test_{}", Uuid::new_v4().simple());
        let server = options
            .database_server
            .clone()
            .unwrap_or_else(database_server);
        let database_url = format!("{server}/{database}");
        // The simulator only needs the account's merchant id and key, which do not depend on URLs.
        let sim_settings = Settings::from_toml(&settings_toml(
            &database_url,
            "http://127.0.0.1:9",
            "sim",
            &options,
        ))
        .unwrap();
        let sim_addr = sim::spawn(&sim_settings, "127.0.0.1:0").await.unwrap();
        let sim_url = format!("http://{sim_addr}");
        let settings = Settings::from_toml(&settings_toml(
            &database_url,
            &format!("{sim_url}/sim/udun"),
            "sim",
            &options,
        ))
        .unwrap();
        let gateway = start(settings).await.expect("gateway starts");
        let pool = gateway.state.pool.clone();
        let created = orders::merchants::create_merchant(&pool, "test-merchant", None)
            .await
            .unwrap();
        TestApp {
            database,
            database_url,
            options,
            url: gateway.url(),
            gateway,
            sim_url,
            pool,
            http: reqwest::Client::new(),
            api_key: created.api_key,
            merchant_id: created.merchant.id,
            webhook_secret: created.merchant.webhook_secret,
        }
    }

    /// A second gateway instance on the same database, its accounts pointed at this one's
    /// simulators, as a second replica behind a load balancer would be.
    pub async fn second_instance(&self) -> Gateway {
        self.instance_with_chainup_at(&format!("{}/sim/chainup", self.url))
            .await
    }

    /// Another gateway instance on the same database, its ChainUp account at `chainup_base_url`.
    pub async fn instance_with_chainup_at(&self, chainup_base_url: &str) -> Gateway {
        let settings = Settings::from_toml(&settings_toml(
            &self.database_url,
            &format!("{}/sim/udun", self.sim_url),
            chainup_base_url,
            &self.options,
        ))
        .unwrap();
        start(settings).await.expect("another instance starts")
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .put(format!("{}{path}", self.url))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Points this merchant's webhooks at `url` through the API.
    pub async fn set_webhook_url(&self, url: &str) {
        let (status, body) = self.put("/v1/webhook", &json!({ "url": url })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Another merchant's API key on the same gateway.
    pub async fn other_merchant_key(&self) -> String {
        orders::merchants::create_merchant(&self.pool, "other-merchant", None)
            .await
            .unwrap()
            .api_key
    }

    pub async fn post_as(&self, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.post_as(&self.api_key, path, body).await
    }

    /// `GET path` with `key` as the bearer token, the response as it came.
    async fn get_response(&self, key: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_as(&self, key: &str, path: &str) -> (StatusCode, Value) {
        let response = self.get_response(key, path).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(&self.api_key, path).await
    }

    pub async fn create_address(&self, user_id: &str, chain: &str, asset: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/addresses",
                &json!({ "user_id": user_id, "chain": chain, "asset": asset }),
            )
            .await;
        assert!(status.is_success(), "address creation: {status} {body}");
        body
    }

    pub async fn withdraw(&self, body: &Value) -> (StatusCode, Value) {
        self.post("/v1/withdrawals", body).await
    }

    /// The Udun simulator's control API.
    pub fn udun(&self) -> sims::Udun<'_> {
        sims::Udun { app: self }
    }

    /// The built-in WaaS simulator's control API.
    pub fn waas(&self) -> sims::Waas<'_> {
        sims::Waas { app: self }
    }

    pub fn pay(&self) -> sims::Pay<'_> {
        sims::Pay { app: self }
    }

    pub fn ubao(&self) -> sims::Ubao<'_> {
        sims::Ubao { app: self }
    }

    /// Another gateway instance on the same database whose UBAO account uses this one's UBAO
    /// simulator, as a second replica would share the one real UBAO.
    pub async fn instance_sharing_ubao(&self) -> Gateway {
        self.instance_with(TestOptions {
            ubao_base_url: Some(format!("{}/sim/ubao", self.url)),
            ..self.options.clone()
        })
        .await
    }

    /// Another gateway instance on the same database, with `options`.
    pub async fn instance_with(&self, options: TestOptions) -> Gateway {
        let settings = Settings::from_toml(&settings_toml(
            &self.database_url,
            &format!("{}/sim/udun", self.sim_url),
            &format!("{}/sim/chainup", self.url),
            &options,
        ))
        .unwrap();
        start(settings).await.expect("another instance starts")
    }

    /// The built-in ChainUp simulator's control API.
    pub fn chainup(&self) -> sims::Chainup<'_> {
        sims::Chainup { app: self }
    }

    /// Posts to a simulator's control API and returns its JSON answer, which must be a success.
    /// A simulator's answer to a GET of its control API.
    async fn control_get(&self, url: &str) -> Value {
        let response = self.http.get(url).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "simulator {url}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn control(&self, url: &str, body: &Value) -> Value {
        let response = self.http.post(url).json(body).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "simulator {url}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Posts a raw callback body to the gateway, as a provider would.
    pub async fn deliver(
        &self,
        content_type: &str,
        body: impl Into<String>,
    ) -> (StatusCode, String) {
        self.deliver_to(&self.url, content_type, body).await
    }

    /// [`TestApp::deliver`] to the gateway at `url` (another instance on the same database).
    pub async fn deliver_to(
        &self,
        url: &str,
        content_type: &str,
        body: impl Into<String>,
    ) -> (StatusCode, String) {
        let response = self
            .http
            .post(format!("{url}/callbacks/{UDUN_ACCOUNT}"))
            .header("content-type", content_type)
            .body(body.into())
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    pub async fn deliver_form(&self, form: &str) -> (StatusCode, String) {
        self.deliver("application/x-www-form-urlencoded", form)
            .await
    }

    pub async fn ops_get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(OPS_TOKEN, path).await
    }

    /// `GET /metrics` as the operator: the Prometheus text.
    pub async fn metrics(&self) -> String {
        let response = self.get_response(OPS_TOKEN, "/metrics").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    /// A count straight from the database.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    pub async fn count_for(&self, sql: &'static str, id: &str) -> i64 {
        sqlx::query_scalar(sql)
            .bind(Uuid::parse_str(id).unwrap())
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop_database(&self.database);
    }
}

/// Drops a test database, closing whatever connections the test left open.
pub fn drop_database(name: &str) {
    let name = name.to_owned();
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use sqlx::Connection;
            if let Ok(mut admin) =
                sqlx::PgConnection::connect(&format!("{}/postgres", database_server())).await
            {
                let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let _ = sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await;
            }
        });
    })
    .join();
}

/// A form with one field replaced, keeping the others byte for byte.
pub fn replace_form_field(form: &str, name: &str, value: Option<&str>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, current) in form_urlencoded::parse(form.as_bytes()) {
        if key == name {
            if let Some(value) = value {
                out.append_pair(&key, value);
            }
        } else {
            out.append_pair(&key, &current);
        }
    }
    out.finish()
}

pub fn form_field(form: &str, name: &str) -> String {
    form_urlencoded::parse(form.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap()
}

pub fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {value}"))
}
