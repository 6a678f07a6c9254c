//! WaaS's (UUWallet's) side of its protocol (waas.md part C; seed 004). It holds the private key,
//! opens our requests with it and seals its replies and callbacks with it. It keeps users and their
//! one address per chain, withdrawals with every request received per `callBackId`, and every
//! callback it sent with our reply, which it checks as WaaS does (our `apiKey`, a `data` it can
//! open, the echoed fields) and sends again, under a new `requestUUID`, when wrong. For a
//! withdrawal asked with second confirmation, it pays out only when our reply to its type-2 call
//! carries the order as it holds it.
//!
//! It reads our requests by the document's field names on its own (`serde_json::Value`), never
//! through the adapter's wire types.

mod api;
mod control;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use rand::Rng;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::Settings;
use crate::providers::SimulatorKind;
use crate::providers::crypto::rsa::PrivateKey;
use crate::providers::waas::settings::{WaasAsset, WaasSettings};
use crate::providers::waas::transport::{open_at_waas, seal_at_waas};
use crate::providers::waas::{KIND, SECTION};

/// WaaS's simulator in the registry, under `/sim/waas`, for the first WaaS account.
pub const SIMULATOR: SimulatorKind = SimulatorKind {
    mount: "/sim/waas",
    router: |settings, gateway_url| {
        WaasSim::from_settings(settings, gateway_url).map(|sim| sim.map(router))
    },
};

/// How often a callback is sent before the simulator gives up on a wrong reply.
const DELIVERIES: usize = 3;

/// One of the account's chain/assets, with WaaS's names.
#[derive(Debug, Clone)]
pub struct SimCoin {
    /// Our chain symbol (as in `/v1/assets`), e.g. `TRX`.
    pub chain: String,
    pub chain_name: String,
    pub symbol: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimWithdrawal {
    pub call_back_id: String,
    pub tenant_user_id: String,
    pub chain_name: String,
    pub symbol: String,
    pub to_addr: String,
    pub amount: String,
    /// Asked with second confirmation (`withdrawRequest`).
    pub verify: bool,
    /// `pending`, `approved`, `refused`, `completed`, `terminated`.
    pub status: String,
    pub tracking_id: String,
    pub tx_id: Option<String>,
    /// How many withdraw requests carried this `callBackId`.
    pub requests: u32,
}

/// A callback as sent, with what the gateway answered.
#[derive(Debug, Clone, Serialize)]
pub struct SentCallback {
    pub fields: Value,
    pub url: String,
    pub status: u16,
    pub reply: Value,
    /// Whether the reply was right: our key, `data` that opens, the fields echoed, `errCode` 0.
    pub accepted: bool,
    pub problem: Option<String>,
}

/// A fault to inject into the next withdraw request.
pub use super::faults::RequestFault as WithdrawFault;

#[derive(Default)]
struct SimData {
    /// tenantUserId → chainName → address.
    users: BTreeMap<String, BTreeMap<String, String>>,
    withdrawals: BTreeMap<String, SimWithdrawal>,
    deposits: Vec<Value>,
    callbacks: Vec<SentCallback>,
    next_tracking_id: u64,
    faults: VecDeque<WithdrawFault>,
    stall_ms: u64,
}

pub struct WaasSim {
    api_key: String,
    user_id: i64,
    private_key: PrivateKey,
    coins: Vec<SimCoin>,
    notify_url: Option<String>,
    approvals_url: Option<String>,
    data: Mutex<SimData>,
    http: reqwest::Client,
}

type SimState = Arc<WaasSim>;

impl WaasSim {
    /// The simulator for the first WaaS account in `settings`. `gateway_url` is set when it runs
    /// inside the gateway, which it then calls.
    pub fn from_settings(
        settings: &Settings,
        gateway_url: Option<&str>,
    ) -> Option<Result<Arc<WaasSim>, String>> {
        let account = settings.providers.iter().find(|a| a.kind == KIND.name)?;
        let waas: WaasSettings = account.section(SECTION).ok()?;
        let build = || -> Result<Arc<WaasSim>, String> {
            let coins = account
                .assets::<WaasAsset>()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|a| SimCoin {
                    chain: a.chain,
                    chain_name: a.chain_name,
                    symbol: a.symbol,
                })
                .collect();
            Ok(Arc::new(WaasSim {
                api_key: waas.api_key(&account.id)?.expose_secret().to_owned(),
                user_id: waas.user_id,
                private_key: PrivateKey::parse(include_str!(
                    "../../../config/sim/waas_private.pem"
                ))
                .map_err(|e| e.to_string())?,
                coins,
                notify_url: gateway_url.map(|url| format!("{url}/callbacks/{}", account.id)),
                // The second confirmation goes to the separate URL set at onboarding.
                approvals_url: gateway_url
                    .map(|url| format!("{url}/callbacks/{}/approvals", account.id)),
                data: Mutex::new(SimData {
                    // From the clock, so that a restarted simulator never repeats a trackingId.
                    next_tracking_id: chrono::Utc::now().timestamp_millis() as u64,
                    stall_ms: 30_000,
                    ..SimData::default()
                }),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .map_err(|e| e.to_string())?,
            }))
        };
        Some(build())
    }

    fn next_tracking_id(&self) -> String {
        let mut data = self.data.lock().unwrap();
        data.next_tracking_id += 1;
        data.next_tracking_id.to_string()
    }

    fn coin_for_chain(&self, chain_name: &str) -> Option<&SimCoin> {
        self.coins
            .iter()
            .find(|c| c.chain_name.eq_ignore_ascii_case(chain_name))
    }

    /// The tenant and chain an address belongs to.
    fn owner_of(&self, address: &str) -> Option<(String, String)> {
        let data = self.data.lock().unwrap();
        data.users.iter().find_map(|(tenant, chains)| {
            chains
                .iter()
                .find(|(_, a)| a.as_str() == address)
                .map(|(chain, _)| (tenant.clone(), chain.clone()))
        })
    }

    /// Sends one callback, each attempt under a new `requestUUID`, until the gateway's reply is
    /// right or the attempts run out; returns every attempt. `check` says whether a reply's opened
    /// `data` is what WaaS expects for this call.
    async fn deliver(
        &self,
        url: &str,
        fields: Map<String, Value>,
        check: impl Fn(&Map<String, Value>, &Map<String, Value>) -> Result<(), String>,
    ) -> Vec<SentCallback> {
        let mut sent = Vec::new();
        for _ in 0..DELIVERIES {
            let mut fields = fields.clone();
            fields.insert(
                "requestUUID".into(),
                json!(uuid::Uuid::new_v4().to_string()),
            );
            fields.insert("business".into(), json!(0));
            let attempt = self.send_once(url, &fields, &check).await;
            let accepted = attempt.accepted;
            self.data.lock().unwrap().callbacks.push(attempt.clone());
            sent.push(attempt);
            if accepted {
                break;
            }
        }
        sent
    }

    async fn send_once(
        &self,
        url: &str,
        fields: &Map<String, Value>,
        check: &impl Fn(&Map<String, Value>, &Map<String, Value>) -> Result<(), String>,
    ) -> SentCallback {
        let body = seal_at_waas(&Value::Object(fields.clone()), &self.private_key)
            .expect("the simulator's key seals");
        let result = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-API-KEY", &self.api_key)
            .body(body)
            .send()
            .await;
        let (status, text) = match result {
            Ok(response) => (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            ),
            Err(err) => (0, err.to_string()),
        };
        let reply: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let problem = self.judge_reply(status, &reply, fields, check).err();
        SentCallback {
            fields: Value::Object(fields.clone()),
            url: url.to_owned(),
            status,
            reply,
            accepted: problem.is_none(),
            problem,
        }
    }

    /// What WaaS checks of our reply (C3 "Required reply").
    fn judge_reply(
        &self,
        status: u16,
        reply: &Value,
        sent: &Map<String, Value>,
        check: &impl Fn(&Map<String, Value>, &Map<String, Value>) -> Result<(), String>,
    ) -> Result<(), String> {
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        if reply["apiKey"].as_str() != Some(self.api_key.as_str()) {
            return Err("apiKey is not ours".into());
        }
        let data = reply["data"]
            .as_str()
            .ok_or("no data")
            .and_then(|d| open_at_waas(d, &self.private_key).map_err(|_| "data does not open"))?;
        check(sent, &data)?;
        match reply["errCode"].as_i64() {
            Some(0) => Ok(()),
            _ => Err(format!(
                "errCode {} ({})",
                reply["errCode"],
                reply["message"].as_str().unwrap_or_default()
            )),
        }
    }
}

/// The echo every reply carries (C3): `requestUUID, tenantUserId, type, trackingId` and
/// `callBackId` when the call has one.
fn echoes(sent: &Map<String, Value>, data: &Map<String, Value>) -> Result<(), String> {
    let mut names = vec!["requestUUID", "tenantUserId", "type", "trackingId"];
    if sent.get("callBackId").is_some_and(|v| !v.is_null()) {
        names.push("callBackId");
    }
    for name in names {
        if data.get(name) != sent.get(name) {
            return Err(format!("{name} is not echoed"));
        }
    }
    Ok(())
}

fn random_tx_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn new_address(chain_name: &str) -> String {
    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut rng = rand::rng();
    match chain_name {
        "TRON" => {
            let tail: String = (0..33)
                .map(|_| BASE58[rng.random_range(0..BASE58.len())] as char)
                .collect();
            format!("T{tail}")
        }
        // ETH addresses go in lowercase (C1).
        _ => format!("0x{}", hex::encode(rand::random::<[u8; 20]>())),
    }
}

pub fn router(sim: Arc<WaasSim>) -> Router {
    Router::new()
        .route("/api/v1/api/{*path}", post(api::handle))
        .route("/deposits", post(control::deposit))
        .route(
            "/withdrawals/{call_back_id}/{action}",
            post(control::withdrawal_action),
        )
        .route("/addresses/change", post(control::change_address))
        .route("/callbacks", post(control::raw_callback))
        .route("/faults", post(control::set_faults))
        .route("/state", get(control::state))
        .with_state(sim)
}
