//! ChainUp Custody MPC's side of its protocol (seed 000, chainup_mpc.md part A): RSA-encrypted
//! requests and replies, sub-wallets and addresses, sync lists that grow as things happen, a chain
//! height that advances, encrypted transaction notifications, and Co-Signer's plaintext calls.

mod api;
mod coins;
mod control;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::{Settings, resolve_secret};
use crate::providers::SimulatorKind;
use crate::providers::chainup_mpc::settings::ChainupSettings;
use crate::providers::chainup_mpc::transport::seal_notification;
use crate::providers::chainup_mpc::{KIND, SECTION};
use crate::providers::crypto::rsa::{PrivateKey, PublicKey};
use secrecy::ExposeSecret;

/// Where the simulator's chains start, so that heights look like real ones.
const START_HEIGHT: i64 = 1_000_000;
const FIRST_SUB_WALLET_ID: i64 = 1000;

/// What the simulator needs to speak for one ChainUp account.
pub struct ChainupSimConfig {
    pub app_id: String,
    /// The gateway's public key (`rsa_third_pub`, registered with ChainUp): opens its requests.
    pub gateway_public_key_pem: String,
    /// ChainUp's own private key: seals replies and notifications.
    pub sim_private_key_pem: String,
    /// The key that verifies withdrawal `sign` values, when the account signs them.
    pub sign_public_key_pem: Option<String>,
    /// The gateway's transaction notification address.
    pub notify_url: Option<String>,
    /// Where Co-Signer posts `sign_start` / `sign_success` / `verify_public_hash`.
    pub cosigner_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubWallet {
    pub sub_wallet_id: i64,
    pub name: String,
    pub sub_wallet_type: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimAddress {
    pub sub_wallet_id: i64,
    pub base_symbol: String,
    pub address: String,
    pub addr_type: i64,
}

/// A deposit or withdraw record as ChainUp lists it (A8).
#[derive(Debug, Clone, Serialize)]
pub struct SimRecord {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub sub_wallet_id: i64,
    pub symbol: String,
    pub base_symbol: String,
    pub contract_address: String,
    pub amount: String,
    pub address_from: String,
    pub address_to: String,
    pub memo: String,
    pub txid: String,
    pub tx_height: i64,
    pub confirmations: i64,
    pub status: i64,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_fee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_symbol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdraw_source: Option<i64>,
}

/// A withdrawal with what the simulator saw of its requests.
#[derive(Debug, Clone, Serialize)]
pub struct SimWithdrawal {
    pub record: SimRecord,
    /// How many `billing/withdraw` calls carried this request id (repeats are answered 110088).
    pub requests: u32,
    /// Whether the request carried a `sign` that verified (`None`: no sign key configured).
    pub sign_verified: Option<bool>,
}

/// A fault to inject into the next `billing/withdraw`.
pub use super::faults::RequestFault as WithdrawFault;

struct SimData {
    sub_wallets: BTreeMap<i64, SubWallet>,
    addresses: Vec<SimAddress>,
    deposits: Vec<SimRecord>,
    /// By request id, in creation order of their ids.
    withdrawals: BTreeMap<String, SimWithdrawal>,
    heights: HashMap<String, i64>,
    next_sub_wallet_id: i64,
    next_deposit_id: i64,
    next_withdraw_id: i64,
    withdraw_faults: VecDeque<WithdrawFault>,
    stall_ms: u64,
    /// Answer the next address request with a system address (`addr_type` 2).
    system_address_next: bool,
}

pub struct ChainupSim {
    app_id: String,
    gateway_key: PublicKey,
    private_key: PrivateKey,
    sign_key: Option<PublicKey>,
    notify_url: Option<String>,
    cosigner_url: Option<String>,
    data: Mutex<SimData>,
    http: reqwest::Client,
}

type SimState = Arc<ChainupSim>;

impl ChainupSim {
    pub fn new(config: ChainupSimConfig) -> Result<Arc<ChainupSim>, String> {
        let gateway_key = PublicKey::parse(&config.gateway_public_key_pem)
            .map_err(|e| format!("gateway public key: {e}"))?;
        let private_key = PrivateKey::parse(&config.sim_private_key_pem)
            .map_err(|e| format!("simulator private key: {e}"))?;
        let sign_key = config
            .sign_public_key_pem
            .as_deref()
            .map(PublicKey::parse)
            .transpose()
            .map_err(|e| format!("sign public key: {e}"))?;
        let heights = coins::COINS
            .iter()
            .map(|c| (c.base_symbol.to_owned(), START_HEIGHT))
            .collect();
        Ok(Arc::new(ChainupSim {
            app_id: config.app_id,
            gateway_key,
            private_key,
            sign_key,
            notify_url: config.notify_url,
            cosigner_url: config.cosigner_url,
            data: Mutex::new(SimData {
                sub_wallets: BTreeMap::new(),
                addresses: Vec::new(),
                deposits: Vec::new(),
                withdrawals: BTreeMap::new(),
                heights,
                next_sub_wallet_id: FIRST_SUB_WALLET_ID,
                // From the clock, so that a restarted simulator never reuses ids that the gateway's
                // sync cursors and event keys already hold from an earlier run.
                next_deposit_id: now_ms(),
                next_withdraw_id: now_ms(),
                withdraw_faults: VecDeque::new(),
                stall_ms: 30_000,
                system_address_next: false,
            }),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client builds"),
        }))
    }

    /// The simulator for the first ChainUp account in `settings`, with the gateway's public key
    /// derived from the account's private key (the bundled test pair when that cannot be read).
    /// `gateway_url` is set when the simulator runs inside the gateway, which it then calls.
    pub fn from_settings(
        settings: &Settings,
        gateway_url: Option<&str>,
    ) -> Option<Result<Arc<ChainupSim>, String>> {
        let account = settings.providers.iter().find(|a| a.kind == KIND.name)?;
        let chainup: ChainupSettings = account.section(SECTION).ok()?;
        let public_of = |key: Result<PrivateKey, String>| {
            key.ok().and_then(|k| k.public_key().to_spki_base64().ok())
        };
        let gateway_public_key_pem = public_of(chainup.private_key()).unwrap_or_else(|| {
            include_str!("../../../config/sim/chainup_gateway_public.pem").into()
        });
        let sign_public_key_pem = match chainup.sign_key() {
            Ok(Some(key)) => public_of(Ok(key)),
            _ => None,
        };
        // Co-Signer is configured with a callback URL only, so the account's token rides in it.
        let cosigner_path = match account.approvals.as_ref().and_then(|a| {
            resolve_secret(a.token.as_ref(), a.token_env.as_deref(), None, "token").ok()
        }) {
            Some(token) => format!(
                "/callbacks/{}/approvals?{}",
                account.id,
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", token.expose_secret())
                    .finish()
            ),
            None => format!("/callbacks/{}/approvals", account.id),
        };
        Some(ChainupSim::new(ChainupSimConfig {
            app_id: chainup.app_id.clone(),
            gateway_public_key_pem,
            sim_private_key_pem: include_str!("../../../config/sim/chainup_sim_private.pem").into(),
            sign_public_key_pem,
            notify_url: gateway_url.map(|url| format!("{url}/callbacks/{}", account.id)),
            cosigner_url: gateway_url.map(|url| format!("{url}{cosigner_path}")),
        }))
    }

    fn height(&self, base_symbol: &str) -> i64 {
        self.data
            .lock()
            .unwrap()
            .heights
            .get(base_symbol)
            .copied()
            .unwrap_or(START_HEIGHT)
    }

    /// Sends a transaction notification (A9a) for `record` and returns how the gateway answered.
    async fn notify(&self, side: &str, record: &SimRecord) -> Result<SentNotification, String> {
        let url = self
            .notify_url
            .clone()
            .ok_or("no notification address: the simulator does not run inside a gateway")?;
        let Value::Object(mut fields) = serde_json::to_value(record).map_err(|e| e.to_string())?
        else {
            return Err("record is not an object".into());
        };
        fields.insert("side".into(), json!(side));
        fields.insert("charset".into(), json!("utf-8"));
        fields.insert(
            "notify_time".into(),
            json!(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()),
        );
        let data = seal_notification(&fields, &self.private_key).map_err(|e| e.to_string())?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("app_id", &self.app_id)
            .append_pair("data", &data)
            .finish();
        self.post(&url, "application/x-www-form-urlencoded", form)
            .await
    }

    /// Posts plaintext JSON to the Co-Signer callback address, as Co-Signer does (A9b).
    async fn call_cosigner(&self, body: &Map<String, Value>) -> Result<SentNotification, String> {
        let url = self
            .cosigner_url
            .clone()
            .ok_or("no Co-Signer callback address: the simulator does not run inside a gateway")?;
        let text = Value::Object(body.clone()).to_string();
        self.post(&url, "application/json;charset=UTF-8", text)
            .await
    }

    async fn post(
        &self,
        url: &str,
        content_type: &str,
        body: String,
    ) -> Result<SentNotification, String> {
        let response = self
            .http
            .post(url)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .map_err(|e| format!("call to {url}: {e}"))?;
        Ok(SentNotification {
            status: response.status().as_u16(),
            body: response.text().await.unwrap_or_default(),
            form: body,
        })
    }
}

/// What the simulator sent to the gateway and how it answered.
#[derive(Debug, Clone, Serialize)]
pub struct SentNotification {
    pub status: u16,
    pub body: String,
    /// The request body exactly as posted, so that a test can deliver it again byte for byte.
    pub form: String,
}

/// ChainUp's simulator in the registry, under `/sim/chainup`, for the first ChainUp account.
pub const SIMULATOR: SimulatorKind = SimulatorKind {
    mount: "/sim/chainup",
    router: |settings, gateway_url| {
        ChainupSim::from_settings(settings, gateway_url).map(|sim| sim.map(router))
    },
};

pub fn router(sim: Arc<ChainupSim>) -> Router {
    Router::new()
        .route("/api/mpc/{*path}", get(api::handle).post(api::handle))
        .route("/deposits", post(control::deposit))
        .route("/blocks", post(control::blocks))
        .route("/withdrawals", get(control::list_withdrawals))
        .route(
            "/withdrawals/{request_id}/{action}",
            post(control::withdrawal_action),
        )
        .route("/cosigner/verify", post(control::verify_keys))
        .route("/faults", post(control::set_faults))
        .route("/state", get(control::state))
        .with_state(sim)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn random_txid() -> String {
    format!("0x{}", hex::encode(rand::random::<[u8; 32]>()))
}
