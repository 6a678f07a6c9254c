//! Udun's side of its protocol (seed 001): signed JSON envelopes in, `{code, message, data}` out,
//! Udun's error codes, and signed form callbacks to each address's and withdrawal's `callUrl`.

mod coins;
mod control;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::{Settings, resolve_secret};
use crate::domain::address_rules;
use crate::providers::SimulatorKind;
use crate::providers::udun::settings::UdunSettings;
use crate::providers::udun::sign::{udun_sign, verify_udun_sign};
use crate::providers::udun::wire::{self, Envelope, Reply};
use crate::providers::udun::{KIND, SECTION};

pub use control::SentCallback;

#[derive(Debug, Clone, Serialize)]
pub struct SimAddress {
    pub merchant_id: String,
    pub main_coin_type: String,
    pub address: String,
    pub call_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimWithdrawal {
    pub merchant_id: String,
    pub business_id: String,
    pub trade_id: String,
    pub address: String,
    pub amount: String,
    pub main_coin_type: String,
    pub coin_type: String,
    pub memo: Option<String>,
    pub call_url: String,
    pub proxypay: bool,
    /// Udun status: 0 review, 1 approved, 2 rejected, 3 success, 4 failed.
    pub status: u8,
    /// How many withdraw requests carried this businessId (repeats are answered 4288).
    pub requests: u32,
    /// The most requests with this businessId that were in flight at the same moment.
    pub max_in_flight: u32,
}

/// A fault to inject into the next withdraw request.
pub use super::faults::RequestFault as WithdrawFault;

#[derive(Default)]
struct SimData {
    addresses: HashMap<String, SimAddress>,
    withdrawals: HashMap<String, SimWithdrawal>,
    withdraw_faults: VecDeque<WithdrawFault>,
    stall_ms: u64,
    next_trade_id: u64,
    /// Withdraw requests being answered now, by businessId.
    in_flight: HashMap<String, u32>,
}

/// Counts one withdraw request as in flight until it is answered (or its caller goes away).
struct InFlight {
    sim: SimState,
    business_id: String,
}

impl InFlight {
    /// Starts counting; returns the guard and how many are in flight now, this one included.
    fn start(sim: &SimState, business_id: &str) -> (InFlight, u32) {
        let mut data = sim.data.lock().unwrap();
        let count = data.in_flight.entry(business_id.to_owned()).or_default();
        *count += 1;
        let now = *count;
        if let Some(existing) = data.withdrawals.get_mut(business_id) {
            existing.max_in_flight = existing.max_in_flight.max(now);
        }
        let guard = InFlight {
            sim: sim.clone(),
            business_id: business_id.to_owned(),
        };
        (guard, now)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut data = self.sim.data.lock().unwrap();
        if let Some(count) = data.in_flight.get_mut(&self.business_id) {
            *count = count.saturating_sub(1);
        }
    }
}

pub struct UdunSim {
    /// merchantId → API key, for every Udun account in the configuration.
    merchants: HashMap<String, SecretString>,
    /// merchantId → the gateway's callback URL for that account, when the simulator runs inside the
    /// gateway: deposits to addresses it does not remember (it keeps nothing across restarts) go there.
    gateway_callbacks: HashMap<String, String>,
    data: Mutex<SimData>,
    http: reqwest::Client,
}

type SimState = Arc<UdunSim>;

impl UdunSim {
    pub fn from_settings(settings: &Settings, gateway_url: Option<&str>) -> Arc<UdunSim> {
        let mut merchants = HashMap::new();
        let mut gateway_callbacks = HashMap::new();
        for account in settings.providers.iter().filter(|a| a.kind == KIND.name) {
            let Ok(udun) = account.section::<UdunSettings>(SECTION) else {
                continue;
            };
            match resolve_secret(
                udun.api_key.as_ref(),
                udun.api_key_env.as_deref(),
                None,
                &account.id,
            ) {
                Ok(key) => {
                    merchants.insert(udun.merchant_id.clone(), key);
                    if let Some(url) = gateway_url {
                        gateway_callbacks.insert(
                            udun.merchant_id.clone(),
                            format!("{url}/callbacks/{}", account.id),
                        );
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "udun simulator skips an account without a key")
                }
            }
        }
        Arc::new(UdunSim {
            merchants,
            gateway_callbacks,
            data: Mutex::new(SimData {
                // From the clock, so a restarted simulator never reuses an earlier run's trade ids.
                next_trade_id: chrono::Utc::now().timestamp_micros() as u64,
                stall_ms: 30_000,
                ..SimData::default()
            }),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client builds"),
        })
    }

    fn next_trade_id(&self) -> String {
        let mut data = self.data.lock().unwrap();
        data.next_trade_id += 1;
        data.next_trade_id.to_string()
    }

    fn api_key(&self, merchant_id: &str) -> Option<&SecretString> {
        self.merchants.get(merchant_id)
    }
}

/// Udun's simulator in the registry, under `/sim/udun`.
pub const SIMULATOR: SimulatorKind = SimulatorKind {
    mount: "/sim/udun",
    router: |settings, gateway_url| Some(Ok(router(UdunSim::from_settings(settings, gateway_url)))),
};

pub fn router(sim: Arc<UdunSim>) -> Router {
    Router::new()
        .route("/mch/address/create", post(address_create))
        .route("/mch/withdraw", post(withdraw))
        .route("/mch/withdraw/proxypay", post(withdraw_proxypay))
        .route("/mch/check/address", post(check_address))
        .route("/mch/exist/address", post(exist_address))
        .route("/mch/support-coins", post(support_coins))
        .route("/deposits", post(control::deposit))
        .route("/withdrawals", get(control::list_withdrawals))
        .route(
            "/withdrawals/{business_id}/{action}",
            post(control::withdrawal_action),
        )
        .route("/faults", post(control::set_faults))
        .with_state(sim)
}

fn reply(code: &str, message: &str, data: Option<Value>) -> Json<Reply> {
    Json(Reply {
        code: code.to_owned(),
        message: Some(message.to_owned()),
        data,
    })
}

fn ok(data: Option<Value>) -> Json<Reply> {
    reply(wire::CODE_OK, "SUCCESS", data)
}

/// Parses the envelope, its body and checks the signature with the merchant's key, answering as
/// Udun does: 4005 illegal parameter, 4001 no merchant, 4162 abnormal signature, 4163 wrong signature.
fn open<T: DeserializeOwned>(
    sim: &UdunSim,
    raw: &[u8],
    merchant_of: impl Fn(&T) -> &str,
) -> Result<T, Json<Reply>> {
    let envelope: Envelope = serde_json::from_slice(raw)
        .map_err(|_| reply(wire::CODE_ILLEGAL_PARAMETER, "BGS_ILLEGAL_PARAMETER", None))?;
    let body: T = serde_json::from_str(&envelope.body)
        .map_err(|_| reply(wire::CODE_ILLEGAL_PARAMETER, "BGS_ILLEGAL_PARAMETER", None))?;
    let key = sim
        .api_key(merchant_of(&body))
        .ok_or_else(|| reply("4001", "NO_MERCHANT", None))?;
    let sign = envelope.sign.as_str();
    if sign.len() != 32 || !sign.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(reply(wire::CODE_ABNORMAL_SIGNATURE, "SIGN_ABNORMAL", None));
    }
    if !verify_udun_sign(
        &envelope.body,
        key.expose_secret(),
        &envelope.nonce,
        &envelope.timestamp,
        sign,
    ) {
        return Err(reply(wire::CODE_WRONG_SIGNATURE, "SIGN_MSG_ERROR", None));
    }
    Ok(body)
}

/// Array bodies hold exactly one element here, as every SDK sends them.
fn single<T>(mut items: Vec<T>) -> Result<T, Json<Reply>> {
    if items.len() == 1 {
        Ok(items.remove(0))
    } else {
        Err(reply(
            wire::CODE_ILLEGAL_PARAMETER,
            "BGS_ILLEGAL_PARAMETER",
            None,
        ))
    }
}

fn first_merchant<T>(items: &[T], merchant: impl Fn(&T) -> &str) -> &str {
    items.first().map(merchant).unwrap_or("")
}

async fn address_create(State(sim): State<SimState>, raw: axum::body::Bytes) -> Json<Reply> {
    let request = match open::<Vec<wire::AddressCreate>>(&sim, &raw, |b| {
        first_merchant(b, |a| &a.merchant_id)
    })
    .and_then(single)
    {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    if coins::main_coin(&request.coin_type).is_none() {
        return reply("4045", "COIN_INFO_ERROR", None);
    }
    let address = coins::new_address(&request.coin_type);
    sim.data.lock().unwrap().addresses.insert(
        address.clone(),
        SimAddress {
            merchant_id: request.merchant_id,
            main_coin_type: request.coin_type.clone(),
            address: address.clone(),
            call_url: request.call_url,
        },
    );
    ok(Some(
        json!({ "coinType": request.coin_type.parse::<u64>().map(Value::from).unwrap_or(Value::from(request.coin_type)), "address": address }),
    ))
}

async fn withdraw(State(sim): State<SimState>, raw: axum::body::Bytes) -> axum::response::Response {
    handle_withdraw(sim, raw, false).await
}

async fn withdraw_proxypay(
    State(sim): State<SimState>,
    raw: axum::body::Bytes,
) -> axum::response::Response {
    handle_withdraw(sim, raw, true).await
}

async fn handle_withdraw(
    sim: SimState,
    raw: axum::body::Bytes,
    proxypay: bool,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let request =
        match open::<Vec<wire::Withdraw>>(&sim, &raw, |b| first_merchant(b, |w| &w.merchant_id))
            .and_then(single)
        {
            Ok(request) => request,
            Err(answer) => return answer.into_response(),
        };
    let (_in_flight, in_flight_now) = InFlight::start(&sim, &request.business_id);
    let fault = sim.data.lock().unwrap().withdraw_faults.pop_front();
    if fault == Some(WithdrawFault::Error500) {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
        )
            .into_response();
    }
    if let Err(answer) = check_withdraw(&request) {
        return answer.into_response();
    }
    {
        let mut data = sim.data.lock().unwrap();
        if let Some(existing) = data.withdrawals.get_mut(&request.business_id) {
            existing.requests += 1;
            return reply(
                wire::CODE_DUPLICATE_BUSINESS_ID,
                "BUSINESS_ID_DUPLICATE",
                None,
            )
            .into_response();
        }
        data.next_trade_id += 1;
        let trade_id = data.next_trade_id.to_string();
        data.withdrawals.insert(
            request.business_id.clone(),
            SimWithdrawal {
                merchant_id: request.merchant_id,
                business_id: request.business_id,
                trade_id,
                address: request.address,
                amount: request.amount,
                main_coin_type: request.main_coin_type,
                coin_type: request.coin_type,
                memo: request.memo,
                call_url: request.call_url,
                proxypay,
                status: 0,
                requests: 1,
                max_in_flight: in_flight_now,
            },
        );
    }
    match fault {
        Some(WithdrawFault::AcceptThen500) => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
        )
            .into_response(),
        Some(WithdrawFault::AcceptThenStall) => {
            let stall = sim.data.lock().unwrap().stall_ms;
            tokio::time::sleep(Duration::from_millis(stall)).await;
            ok(None).into_response()
        }
        _ => ok(None).into_response(),
    }
}

/// Udun's parameter checks: known coin (4034), positive amount within the coin's decimals (581),
/// an address of the chain's form (4183).
fn check_withdraw(request: &wire::Withdraw) -> Result<(), Json<Reply>> {
    let Some(coin) = coins::find(&request.main_coin_type, &request.coin_type) else {
        return Err(reply("4034", "COIN_NOT_FOUND", None));
    };
    let amount: Option<Decimal> = request.amount.parse().ok();
    let valid_amount = amount
        .is_some_and(|a| a > Decimal::ZERO && a.normalize().scale() <= coin.decimals)
        && !request.amount.contains(['e', 'E']);
    if !valid_amount {
        return Err(reply("581", "INVALID_WITHDRAW_AMOUNT", None));
    }
    if !address_rules::looks_valid(coin.main_symbol, &request.address) {
        return Err(reply("4183", "ABNORMAL_ARRIVAL_ADDRESS", None));
    }
    if request.business_id.is_empty() || request.call_url.is_empty() {
        return Err(reply(
            wire::CODE_ILLEGAL_PARAMETER,
            "BGS_ILLEGAL_PARAMETER",
            None,
        ));
    }
    Ok(())
}

async fn check_address(State(sim): State<SimState>, raw: axum::body::Bytes) -> Json<Reply> {
    let request = match open::<Vec<wire::CheckAddress>>(&sim, &raw, |b| {
        first_merchant(b, |c| &c.merchant_id)
    })
    .and_then(single)
    {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    let Some(coin) = coins::main_coin(&request.main_coin_type) else {
        return reply(wire::CODE_ILLEGAL_PARAMETER, "BGS_ILLEGAL_PARAMETER", None);
    };
    if address_rules::looks_valid(coin.main_symbol, &request.address) {
        ok(None)
    } else {
        reply(wire::CODE_ADDRESS_ILLEGAL, "ADDRESS_ILLEGAL", None)
    }
}

async fn exist_address(State(sim): State<SimState>, raw: axum::body::Bytes) -> Json<Reply> {
    let request = match open::<Vec<wire::CheckAddress>>(&sim, &raw, |b| {
        first_merchant(b, |c| &c.merchant_id)
    })
    .and_then(single)
    {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    let exists = sim
        .data
        .lock()
        .unwrap()
        .addresses
        .get(&request.address)
        .is_some_and(|a| {
            a.merchant_id == request.merchant_id && a.main_coin_type == request.main_coin_type
        });
    if exists {
        ok(None)
    } else {
        reply(wire::CODE_ILLEGAL_PARAMETER, "ADDRESS_NOT_EXIST", None)
    }
}

async fn support_coins(State(sim): State<SimState>, raw: axum::body::Bytes) -> Json<Reply> {
    if let Err(answer) = open::<wire::SupportCoinsQuery>(&sim, &raw, |q| &q.merchant_id) {
        return answer;
    }
    let data: Vec<Value> = coins::COINS
        .iter()
        .map(|c| {
            json!({
                "name": c.symbol, "coinName": c.name, "symbol": c.symbol, "mainSymbol": c.main_symbol,
                "mainCoinType": c.main_coin_type, "coinType": c.coin_type, "decimals": c.decimals.to_string(),
                "tokenStatus": if c.main_coin_type == c.coin_type { "0" } else { "1" }, "balance": "0", "logo": "",
            })
        })
        .collect();
    ok(Some(Value::Array(data)))
}

/// Signs `body` as Udun signs callbacks (13-digit ms timestamp, 6 mixed-case letters and digits as
/// nonce) and returns the form as sent: `timestamp`, `nonce`, `sign`, `body`, URL-encoded.
pub fn signed_callback_form(body: &str, api_key: &str) -> String {
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let nonce = crate::providers::crypto::random_alphanumeric(6);
    let sign = udun_sign(body, api_key, &nonce, &timestamp);
    form_urlencoded::Serializer::new(String::new())
        .append_pair("timestamp", &timestamp)
        .append_pair("nonce", &nonce)
        .append_pair("sign", &sign)
        .append_pair("body", body)
        .finish()
}
