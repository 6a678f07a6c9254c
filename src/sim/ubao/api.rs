//! UBAO's merchant API (seed 003 §0–§7): `POST /mch/...`, a form (or JSON object) of
//! `merchantId`, `timestamp`, `nonce`, `body` and `sign`; replies `{code, message, ...}`.
//!
//! Refusal codes (§0.4 points to an error table no copy holds, so these are the simulator's own),
//! all HTTP 200 with `{"code", "message"}`:
//! `4001` bad signature, merchantId, timestamp or nonce (counted in `refused_requests`), `4002`
//! bad parameters, `4003` invalid address, `4004` not a collection wallet (or none on the chain),
//! `4005` insufficient balance, `4006` order_sn already used, `4007` nothing to pool, `4008`
//! unknown coin or chain. A path that is not an API answers HTTP 404 with `code 404`; an injected
//! fault answers HTTP 500 with `code 500`.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::callbacks::{
    CallbackType, Notification, Transfer, balance_body, deliver_later, transfer_body,
};
use super::{
    PoolingFault, SimState, SimWallet, SimWithdrawal, Sweep, TIMESTAMP_WINDOW_SECS, WalletType,
    WatchAddress, WithdrawFault, WithdrawalStatus, new_address, new_hash, parse_amount,
    valid_address,
};
use crate::providers::ubao::sign::verify_ubao_sign;

pub const CODE_OK: i64 = 200;
pub const CODE_UNAUTHORIZED: i64 = 4001;
pub const CODE_BAD_PARAMS: i64 = 4002;
pub const CODE_INVALID_ADDRESS: i64 = 4003;
pub const CODE_NOT_COLLECTION_WALLET: i64 = 4004;
pub const CODE_INSUFFICIENT_BALANCE: i64 = 4005;
pub const CODE_ORDER_SN_USED: i64 = 4006;
pub const CODE_NOTHING_TO_POOL: i64 = 4007;
pub const CODE_UNKNOWN_COIN: i64 = 4008;

/// The APIs, as paths under `/mch/`.
const PATHS: [&str; 7] = [
    "address/create",
    "withdraw",
    "address/check",
    "address/add",
    "coins",
    "address/pooling",
    "address/verify",
];

/// A refusal: HTTP 200 with a non-200 `code`.
pub struct Refusal {
    code: i64,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        Json(json!({ "code": self.code, "message": self.message })).into_response()
    }
}

/// What a merchant API answers: a reply, or a refusal.
type Answer = Result<Response, Refusal>;

fn refuse(code: i64, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

fn bad_params(message: impl Into<String>) -> Refusal {
    refuse(CODE_BAD_PARAMS, message)
}

/// `{"code":200,"message":"SUCCESS"}` with `extra`'s fields.
fn success(extra: Value) -> Answer {
    let mut reply = json!({ "code": CODE_OK, "message": "SUCCESS" });
    if let (Some(reply), Value::Object(extra)) = (reply.as_object_mut(), extra) {
        reply.extend(extra);
    }
    Ok(Json(reply).into_response())
}

fn internal_error() -> Answer {
    Ok((
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "code": 500, "message": "internal error" })),
    )
        .into_response())
}

/// Every `/mch/*` request: authenticated (§0.1–0.3), its `body` decoded (§0.2), then answered.
pub async fn handle(
    State(sim): State<SimState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    if !PATHS.contains(&path.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "code": 404, "message": "no such API" })),
        )
            .into_response();
    }
    let params = match open(&sim, &headers, &raw) {
        Ok(params) => params,
        Err(refusal) => return refusal.into_response(),
    };
    let answer = match path.as_str() {
        "address/create" => address_create(&sim, &params).await,
        "withdraw" => withdraw(&sim, &params).await,
        "address/check" => address_check(&sim, &params),
        "address/add" => address_add(&sim, &params),
        "coins" => coins(&sim),
        "address/pooling" => pooling(&sim, &params),
        _ => verify(&sim, &params),
    };
    answer.into_response()
}

/// The common parameters, each as the text that was signed.
struct Common {
    merchant_id: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
    body: String,
    sign: Option<String>,
}

/// Reads the common parameters from a JSON object (by its content type, or a body that opens with
/// `{`) or from a form.
fn read_common(headers: &HeaderMap, raw: &[u8]) -> Result<Common, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "the request is not UTF-8")?;
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().starts_with("application/json"));
    let pairs: Vec<(String, String)> = if json_type || text.trim_start().starts_with('{') {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) else {
            return Err("the request is not a JSON object".into());
        };
        fields
            .into_iter()
            .filter_map(|(name, value)| match value {
                Value::String(s) => Some((name, s)),
                Value::Number(n) => Some((name, n.to_string())),
                _ => None,
            })
            .collect()
    } else {
        form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect()
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    Ok(Common {
        merchant_id: field("merchantId"),
        timestamp: field("timestamp"),
        nonce: field("nonce"),
        body: field("body").unwrap_or_default(),
        sign: field("sign"),
    })
}

/// Checks a request and returns its business parameters (an empty object for an empty `body`).
fn open(sim: &SimState, headers: &HeaderMap, raw: &[u8]) -> Result<Map<String, Value>, Refusal> {
    let common = read_common(headers, raw).map_err(|why| unauthorized(sim, why))?;
    authenticate(sim, &common).map_err(|why| unauthorized(sim, why))?;
    if common.body.is_empty() {
        return Ok(Map::new());
    }
    let decoded = STANDARD
        .decode(common.body.as_bytes())
        .map_err(|_| bad_params("body is not standard Base64"))?;
    match serde_json::from_slice(&decoded) {
        Ok(Value::Object(params)) => Ok(params),
        _ => Err(bad_params("body is not Base64 of a JSON object")),
    }
}

fn unauthorized(sim: &SimState, why: impl Into<String>) -> Refusal {
    sim.data.lock().unwrap().refused_requests += 1;
    refuse(CODE_UNAUTHORIZED, why)
}

/// §0.1–0.3: the account's merchantId, a timestamp within 300 s, a 6-digit nonce and
/// `sign = md5(body + api_key + nonce + timestamp)` over the texts as received.
fn authenticate(sim: &SimState, common: &Common) -> Result<(), String> {
    let merchant_id = common.merchant_id.as_deref().ok_or("missing merchantId")?;
    if merchant_id.trim().parse::<i64>().ok() != Some(sim.merchant_id) {
        return Err("unknown merchantId".into());
    }
    let timestamp = common.timestamp.as_deref().ok_or("missing timestamp")?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| "timestamp is not Unix seconds")?;
    if (seconds - chrono::Utc::now().timestamp()).abs() > TIMESTAMP_WINDOW_SECS {
        return Err("timestamp is expired".into());
    }
    let nonce = common.nonce.as_deref().ok_or("missing nonce")?;
    if nonce.len() != 6 || !nonce.bytes().all(|b| b.is_ascii_digit()) {
        return Err("nonce must be 6 digits".into());
    }
    let sign = common.sign.as_deref().ok_or("missing sign")?;
    if !verify_ubao_sign(&common.body, &sim.api_key, nonce, timestamp, sign) {
        return Err("wrong sign".into());
    }
    Ok(())
}

/// An integer given as a JSON number or a numeric string.
fn int_field(params: &Map<String, Value>, name: &str) -> Option<i64> {
    match params.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text_field<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn required_int(params: &Map<String, Value>, name: &str) -> Result<i64, Refusal> {
    int_field(params, name).ok_or_else(|| bad_params(format!("{name} must be an integer")))
}

fn required_text<'a>(params: &'a Map<String, Value>, name: &str) -> Result<&'a str, Refusal> {
    text_field(params, name).ok_or_else(|| bad_params(format!("{name} must be a non-blank string")))
}

fn call_url(params: &Map<String, Value>) -> Result<&str, Refusal> {
    text_field(params, "callUrl")
        .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
        .ok_or_else(|| bad_params("callUrl must be an http(s) URL"))
}

fn known_chain(sim: &SimState, chain_type: i64) -> Result<(), Refusal> {
    if sim.knows_chain(chain_type) {
        Ok(())
    } else {
        Err(refuse(
            CODE_UNKNOWN_COIN,
            format!("chainType {chain_type} is not added"),
        ))
    }
}

/// `/mch/address/create {chainType, callUrl, type}` (§1): a new address on every call.
async fn address_create(sim: &SimState, params: &Map<String, Value>) -> Answer {
    let chain_type = required_int(params, "chainType")?;
    known_chain(sim, chain_type)?;
    let call_url = call_url(params)?;
    let wallet_type = match params.get("type") {
        None | Some(Value::Null) => Some(WalletType::Receive),
        Some(_) => int_field(params, "type").and_then(WalletType::from_wire),
    }
    .ok_or_else(|| bad_params("type must be 0, 2 or -2"))?;
    let fault = sim.data.lock().unwrap().address_faults.pop_front();
    if fault == Some(WithdrawFault::Error500) {
        return internal_error();
    }
    let address = new_address(chain_type);
    sim.data.lock().unwrap().wallets.push(SimWallet {
        address: address.clone(),
        wallet_type,
        chain_type,
        call_url: call_url.to_owned(),
        balances: Default::default(),
    });
    match fault {
        Some(WithdrawFault::AcceptThen500) => internal_error(),
        Some(WithdrawFault::AcceptThenStall) => {
            let stall = sim.data.lock().unwrap().stall_ms;
            tokio::time::sleep(Duration::from_millis(stall)).await;
            success(json!({ "address": address, "chainType": chain_type }))
        }
        _ => success(json!({ "address": address, "chainType": chain_type })),
    }
}

/// `/mch/address/check {chainType, address}` (§3).
fn address_check(sim: &SimState, params: &Map<String, Value>) -> Answer {
    let chain_type = required_int(params, "chainType")?;
    known_chain(sim, chain_type)?;
    let address = required_text(params, "address")?;
    if !valid_address(chain_type, address) {
        return Err(refuse(CODE_INVALID_ADDRESS, "invalid address"));
    }
    success(json!({}))
}

/// `/mch/address/add {chainType, address, callUrl}` (§4): a watch address; adding it again
/// replaces its `callUrl`.
fn address_add(sim: &SimState, params: &Map<String, Value>) -> Answer {
    let chain_type = required_int(params, "chainType")?;
    known_chain(sim, chain_type)?;
    let address = required_text(params, "address")?;
    if !valid_address(chain_type, address) {
        return Err(refuse(CODE_INVALID_ADDRESS, "invalid address"));
    }
    let call_url = call_url(params)?;
    let mut data = sim.data.lock().unwrap();
    data.watch
        .retain(|w| !(super::same_address(&w.address, address) && w.chain_type == chain_type));
    data.watch.push(WatchAddress {
        address: address.to_owned(),
        chain_type,
        call_url: call_url.to_owned(),
    });
    success(json!({}))
}

/// `/mch/coins` (§5): `coins` is the JSON text of the array, not the array.
fn coins(sim: &SimState) -> Answer {
    let data = sim.data.lock().unwrap();
    let coins: Vec<Value> = sim
        .coins
        .iter()
        .map(|c| {
            json!({
                "coinID": c.coin_id,
                "coinName": c.coin_name,
                "chainType": c.chain_type,
                "coinType": c.coin_type(),
                "decimals": data.reported_decimals.get(&c.coin_id).copied().unwrap_or(c.decimals),
            })
        })
        .collect();
    success(json!({ "coins": Value::Array(coins).to_string() }))
}

/// `/mch/address/verify {address, message, sign, chainType}` (§7): `result` is the text `true`
/// for a proof registered through the control API.
fn verify(sim: &SimState, params: &Map<String, Value>) -> Answer {
    let address = required_text(params, "address")?;
    let message = required_text(params, "message")?;
    let sign = required_text(params, "sign")?;
    let proven = sim
        .data
        .lock()
        .unwrap()
        .proofs
        .iter()
        .any(|p| p.address == address && p.message == message && p.signature == sign);
    success(json!({ "result": if proven { "true" } else { "false" } }))
}

/// `/mch/withdraw {from, to, amount, coinID, chainType, order_sn}` (§2): only from a collection
/// wallet, whose balance must cover the amount; the amount is reserved and the withdrawal
/// recorded as pending. Every request is counted by `order_sn`.
async fn withdraw(sim: &SimState, params: &Map<String, Value>) -> Answer {
    let order_sn = required_text(params, "order_sn")?;
    let fault = {
        let mut data = sim.data.lock().unwrap();
        *data
            .withdraw_requests
            .entry(order_sn.to_owned())
            .or_default() += 1;
        data.withdraw_faults.pop_front()
    };
    if fault == Some(WithdrawFault::Error500) {
        return internal_error();
    }
    if sim
        .data
        .lock()
        .unwrap()
        .withdrawals
        .iter()
        .any(|w| w.order_sn == order_sn)
    {
        return Err(refuse(
            CODE_ORDER_SN_USED,
            format!("order_sn {order_sn:?} is already used"),
        ));
    }
    let chain_type = required_int(params, "chainType")?;
    let coin_id = required_int(params, "coinID")?;
    let coin = sim
        .coin(coin_id)
        .filter(|c| c.chain_type == chain_type)
        .ok_or_else(|| {
            refuse(
                CODE_UNKNOWN_COIN,
                format!("coinID {coin_id} is not on chainType {chain_type}"),
            )
        })?;
    let from = required_text(params, "from")?;
    let to = required_text(params, "to")?;
    let amount_text = match params.get("amount") {
        Some(Value::String(amount)) => amount.as_str(),
        _ => "",
    };
    let amount = parse_amount(amount_text, coin.decimals).ok_or_else(|| {
        bad_params(format!(
            "amount must be a positive decimal string with at most {} places",
            coin.decimals
        ))
    })?;
    {
        let mut data = sim.data.lock().unwrap();
        if data.withdrawals.iter().any(|w| w.order_sn == order_sn) {
            return Err(refuse(
                CODE_ORDER_SN_USED,
                format!("order_sn {order_sn:?} is already used"),
            ));
        }
        let Some(wallet) = data
            .wallet_mut(from)
            .filter(|w| w.wallet_type == WalletType::Collection && w.chain_type == chain_type)
        else {
            return Err(refuse(
                CODE_NOT_COLLECTION_WALLET,
                format!("{from} is not a collection wallet on chainType {chain_type}"),
            ));
        };
        if !valid_address(chain_type, to) {
            return Err(refuse(CODE_INVALID_ADDRESS, format!("invalid to {to:?}")));
        }
        let balance = wallet.balances.entry(coin_id).or_insert(Decimal::ZERO);
        if *balance < amount {
            return Err(refuse(CODE_INSUFFICIENT_BALANCE, "insufficient balance"));
        }
        *balance -= amount;
        let from = wallet.address.clone();
        data.withdrawals.push(SimWithdrawal {
            order_sn: order_sn.to_owned(),
            from,
            to: to.to_owned(),
            amount: amount_text.to_owned(),
            value: amount,
            coin_id,
            chain_type,
            status: WithdrawalStatus::Pending,
            hash: None,
            trade_id: None,
            message: None,
        });
    }
    match fault {
        Some(WithdrawFault::AcceptThen500) => internal_error(),
        Some(WithdrawFault::AcceptThenStall) => {
            let stall = sim.data.lock().unwrap().stall_ms;
            tokio::time::sleep(Duration::from_millis(stall)).await;
            success(json!({}))
        }
        _ => success(json!({})),
    }
}

/// `/mch/address/pooling {coinID, address}` (§6): the receive address's whole balance of the coin
/// moves to its chain's first collection wallet; the `transfer` notification (no `order_sn`) and
/// both addresses' `balance` notifications follow in the background.
fn pooling(sim: &SimState, params: &Map<String, Value>) -> Answer {
    let coin_id = required_int(params, "coinID")?;
    let address = required_text(params, "address")?;
    let fault = {
        let mut data = sim.data.lock().unwrap();
        *data
            .pooling_requests
            .entry((address.to_owned(), coin_id))
            .or_default() += 1;
        data.pooling_faults.pop_front()
    };
    if fault == Some(PoolingFault::Error500) {
        return internal_error();
    }
    let coin = sim
        .coin(coin_id)
        .ok_or_else(|| refuse(CODE_UNKNOWN_COIN, format!("unknown coinID {coin_id}")))?;
    let notifications =
        {
            let mut data = sim.data.lock().unwrap();
            let Some(source) = data.wallet(address).filter(|w| {
                w.wallet_type == WalletType::Receive
                    && w.chain_type == coin.chain_type
                    && w.balance(coin_id) > Decimal::ZERO
            }) else {
                return Err(refuse(
                    CODE_NOTHING_TO_POOL,
                    format!("{address} holds no coinID {coin_id} to pool"),
                ));
            };
            let (source_address, source_url) = (source.address.clone(), source.call_url.clone());
            let Some(target) = data.wallets.iter().find(|w| {
                w.wallet_type == WalletType::Collection && w.chain_type == coin.chain_type
            }) else {
                return Err(refuse(
                    CODE_NOT_COLLECTION_WALLET,
                    format!("no collection wallet on chainType {}", coin.chain_type),
                ));
            };
            let (target_address, target_url) = (target.address.clone(), target.call_url.clone());
            let amount = data
                .wallet_mut(&source_address)
                .and_then(|w| w.balances.insert(coin_id, Decimal::ZERO))
                .unwrap_or_default();
            let target_balance = {
                let target = data
                    .wallet_mut(&target_address)
                    .expect("the collection wallet was just found");
                let balance = target.balances.entry(coin_id).or_insert(Decimal::ZERO);
                *balance += amount;
                *balance
            };
            let trade_id = data.next_trade_id();
            let hash = new_hash(coin.chain_type);
            data.sweeps.push(Sweep {
                coin_id,
                address: source_address.clone(),
                to: target_address.clone(),
                amount,
                hash: hash.clone(),
                trade_id,
            });
            let transfer = transfer_body(
                coin,
                &Transfer {
                    success: true,
                    from: &source_address,
                    to: &target_address,
                    amount,
                    hash: &hash,
                    order_sn: "",
                    message: "OK",
                    trade_id,
                },
            );
            vec![
                Notification {
                    callback_type: CallbackType::Transfer,
                    url: source_url.clone(),
                    body: transfer,
                },
                Notification {
                    callback_type: CallbackType::Balance,
                    url: source_url,
                    body: balance_body(coin, &source_address, Decimal::ZERO),
                },
                Notification {
                    callback_type: CallbackType::Balance,
                    url: target_url,
                    body: balance_body(coin, &target_address, target_balance),
                },
            ]
        };
    deliver_later(sim, notifications);
    success(json!({}))
}
