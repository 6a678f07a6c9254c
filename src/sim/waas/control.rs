//! The WaaS simulator's control API: make things happen, each reaching the gateway as WaaS's
//! callback.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{SentCallback, SimState, WithdrawFault, echoes, new_address, random_tx_id};
use crate::providers::waas::wire;

pub type ControlError = (StatusCode, String);

fn bad(message: impl Into<String>) -> ControlError {
    (StatusCode::BAD_REQUEST, message.into())
}

fn not_found(message: impl Into<String>) -> ControlError {
    (StatusCode::NOT_FOUND, message.into())
}

fn gateway_url(url: &Option<String>) -> Result<String, ControlError> {
    url.clone().ok_or_else(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the simulator does not run inside a gateway".to_owned(),
        )
    })
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[derive(Debug, Deserialize)]
pub struct DepositRequest {
    pub address: String,
    /// In whole units, sent as WaaS writes it (a decimal string).
    pub amount: String,
    /// The chain's native symbol by default.
    pub symbol: Option<String>,
    pub risk_from: Option<i64>,
    pub risk_to: Option<i64>,
    /// Deliver the same deposit this many times (each with a new requestUUID).
    #[serde(default)]
    pub repeat: Option<usize>,
}

/// A deposit arrives at a user's address: a type-1 callback.
pub async fn deposit(
    State(sim): State<SimState>,
    Json(request): Json<DepositRequest>,
) -> Result<Json<Value>, ControlError> {
    let url = gateway_url(&sim.notify_url)?;
    let (tenant, chain_name) = sim
        .owner_of(&request.address)
        .ok_or_else(|| not_found(format!("no user holds {}", request.address)))?;
    let symbol = match &request.symbol {
        Some(symbol) => symbol.clone(),
        None => native_symbol(&chain_name).to_owned(),
    };
    if !sim
        .coins
        .iter()
        .any(|c| c.chain_name == chain_name && c.symbol == symbol)
    {
        return Err(bad(format!("{symbol} is not served on {chain_name}")));
    }
    let fields = object(json!({
        "type": wire::TYPE_DEPOSITED,
        "trackingId": sim.next_tracking_id(),
        "tenantUserId": tenant,
        "txId": random_tx_id(),
        "txIndex": 0,
        "chainName": chain_name,
        "symbol": symbol,
        "amount": request.amount,
        "fromAddress": new_address(&chain_name),
        "toAddress": request.address,
        "newAddress": request.address,
        "riskLevelFrom": request.risk_from.unwrap_or(0),
        "riskLevelTo": request.risk_to.unwrap_or(0),
    }));
    sim.data
        .lock()
        .unwrap()
        .deposits
        .push(Value::Object(fields.clone()));
    let mut sent = Vec::new();
    for _ in 0..request.repeat.unwrap_or(1).clamp(1, 10) {
        sent.extend(sim.deliver(&url, fields.clone(), echoes).await);
    }
    Ok(Json(json!({ "deposit": fields, "callbacks": sent })))
}

/// WaaS's native symbol of a chain, for deposits that name none.
fn native_symbol(chain_name: &str) -> &str {
    match chain_name {
        "TRON" => "TRX",
        other => other,
    }
}

/// Asks the second confirmation (type 2) for a withdrawal, with `overrides` of what it reports
/// (to ask about something other than the order); approves the order only if our reply carries it
/// exactly.
pub async fn confirm(
    sim: &SimState,
    call_back_id: &str,
    overrides: &Map<String, Value>,
) -> Result<Vec<SentCallback>, ControlError> {
    let url = gateway_url(&sim.approvals_url)?;
    let order = sim
        .data
        .lock()
        .unwrap()
        .withdrawals
        .get(call_back_id)
        .cloned();
    let mut fields = match &order {
        Some(w) => object(json!({
            "type": wire::TYPE_REQUEST_WITHDRAW,
            "trackingId": w.tracking_id,
            "tenantUserId": w.tenant_user_id,
            "callBackId": w.call_back_id,
            "toAddress": w.to_addr,
            "chainName": w.chain_name,
            "symbol": w.symbol,
            "amount": w.amount,
        })),
        // An order WaaS holds but we never made: from a forger, or a mix-up.
        None => object(json!({
            "type": wire::TYPE_REQUEST_WITHDRAW,
            "trackingId": sim.next_tracking_id(),
            "tenantUserId": "m-unknown",
            "callBackId": call_back_id,
            "toAddress": new_address("TRON"),
            "chainName": "TRON",
            "symbol": "USDT",
            "amount": "1",
        })),
    };
    fields.extend(overrides.clone());
    // The order as WaaS holds it, which our reply must carry.
    let expected = order.clone().map(|w| {
        json!({
            "tenantUserId": w.tenant_user_id, "callBackId": w.call_back_id, "address": w.to_addr,
            "chainName": w.chain_name, "symbol": w.symbol, "amount": w.amount,
            "type": wire::TYPE_REQUEST_WITHDRAW,
        })
    });
    let check = |sent: &Map<String, Value>, data: &Map<String, Value>| {
        if data.get("requestUUID") != sent.get("requestUUID") {
            return Err("requestUUID is not echoed".to_owned());
        }
        let expected = expected.as_ref().ok_or("not an order of ours")?;
        for (name, value) in expected.as_object().unwrap() {
            if data.get(name) != Some(value) {
                return Err(format!("{name} differs from the order"));
            }
        }
        Ok(())
    };
    // A refusal is an answer: asked once. Only a reply that is not one is asked again.
    let attempt = sim
        .send_once(&url, &with_request_uuid(fields), &check)
        .await;
    sim.data.lock().unwrap().callbacks.push(attempt.clone());
    let approved = attempt.accepted;
    if let Some(w) = sim.data.lock().unwrap().withdrawals.get_mut(call_back_id)
        && w.status == "pending"
        && overrides.is_empty()
    {
        w.status = if approved { "approved" } else { "refused" }.into();
    }
    Ok(vec![attempt])
}

fn with_request_uuid(mut fields: Map<String, Value>) -> Map<String, Value> {
    fields.insert(
        "requestUUID".into(),
        json!(uuid::Uuid::new_v4().to_string()),
    );
    fields.insert("business".into(), json!(0));
    fields
}

/// `complete` (type 3), `terminate` (5), `short_hot` (6), `short_gas` (7) a withdrawal, or
/// `confirm` it again (type 2, with optional `amount` / `toAddress` overrides).
pub async fn withdrawal_action(
    State(sim): State<SimState>,
    Path((call_back_id, action)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ControlError> {
    let overrides = object(body.map(|Json(b)| b).unwrap_or_else(|| json!({})));
    if action == "confirm" {
        let sent = confirm(&sim, &call_back_id, &overrides).await?;
        return Ok(Json(json!({ "callbacks": sent })));
    }
    let url = gateway_url(&sim.notify_url)?;
    let kind = match action.as_str() {
        "complete" => wire::TYPE_WITHDRAW,
        "terminate" => wire::TYPE_INVALID_ADDRESS,
        "short_hot" => wire::TYPE_NOT_ENOUGH_MONEY,
        "short_gas" => wire::TYPE_NOT_ENOUGH_HOT_MONEY,
        other => return Err(not_found(format!("no action {other}"))),
    };
    let order = {
        let mut data = sim.data.lock().unwrap();
        let w = data
            .withdrawals
            .get_mut(&call_back_id)
            .ok_or_else(|| not_found(format!("no withdrawal {call_back_id}")))?;
        if kind == wire::TYPE_WITHDRAW {
            if w.verify && w.status != "approved" {
                return Err(bad(format!("withdrawal {call_back_id} is {}", w.status)));
            }
            w.status = "completed".into();
            w.tx_id = Some(random_tx_id());
        } else if kind == wire::TYPE_INVALID_ADDRESS {
            w.status = "terminated".into();
        }
        w.clone()
    };
    // Each notice of one withdrawal is one event, however often it is delivered.
    let tracking_id = format!("{}-{kind}", order.tracking_id);
    let mut fields = object(json!({
        "type": kind,
        "trackingId": tracking_id,
        "tenantUserId": order.tenant_user_id,
        "callBackId": order.call_back_id,
    }));
    match kind {
        wire::TYPE_WITHDRAW => fields.extend(object(json!({
            "txId": order.tx_id, "chainName": order.chain_name, "symbol": order.symbol,
            "amount": order.amount, "toAddress": order.to_addr,
            "fromAddress": new_address(&order.chain_name), "newAddress": order.to_addr,
        }))),
        wire::TYPE_INVALID_ADDRESS => {
            fields.insert("toAddress".into(), json!(order.to_addr));
        }
        _ => {}
    }
    let sent = sim.deliver(&url, fields, echoes).await;
    Ok(Json(json!({ "withdrawal": order, "callbacks": sent })))
}

#[derive(Debug, Deserialize)]
pub struct ChangeRequest {
    pub address: String,
    /// Our chain, as in `/v1/assets` (e.g. `TRX`).
    pub chain: String,
}

/// WaaS gives a user a new deposit address on a chain: a type-4 callback.
pub async fn change_address(
    State(sim): State<SimState>,
    Json(request): Json<ChangeRequest>,
) -> Result<Json<Value>, ControlError> {
    let url = gateway_url(&sim.notify_url)?;
    let coin = sim
        .coins
        .iter()
        .find(|c| c.chain == request.chain)
        .ok_or_else(|| bad(format!("chain {} is not served", request.chain)))?
        .clone();
    let (tenant, chain_name) = sim
        .owner_of(&request.address)
        .filter(|(_, chain_name)| *chain_name == coin.chain_name)
        .ok_or_else(|| {
            not_found(format!(
                "no user holds {} on {}",
                request.address, coin.chain_name
            ))
        })?;
    let fresh = new_address(&chain_name);
    sim.data
        .lock()
        .unwrap()
        .users
        .entry(tenant.clone())
        .or_default()
        .insert(chain_name.clone(), fresh.clone());
    let fields = object(json!({
        "type": wire::TYPE_ADDRESS,
        "trackingId": null,
        "tenantUserId": tenant,
        "chainName": chain_name,
        "symbol": sim.coin_for_chain(&chain_name).map(|c| c.symbol.clone()),
        "toAddress": request.address,
        "newAddress": fresh,
    }));
    let sent = sim.deliver(&url, fields, echoes).await;
    Ok(Json(json!({ "new_address": fresh, "callbacks": sent })))
}

/// Sends a callback with exactly these fields (e.g. `{"type": 0}`), once.
pub async fn raw_callback(
    State(sim): State<SimState>,
    Json(fields): Json<Value>,
) -> Result<Json<Value>, ControlError> {
    let url = gateway_url(&sim.notify_url)?;
    let attempt = sim
        .send_once(&url, &with_request_uuid(object(fields)), &echoes)
        .await;
    sim.data.lock().unwrap().callbacks.push(attempt.clone());
    Ok(Json(json!({ "callbacks": [attempt] })))
}

#[derive(Debug, Default, Deserialize)]
pub struct Faults {
    #[serde(default)]
    pub withdraw: Vec<WithdrawFault>,
    pub stall_ms: Option<u64>,
}

pub async fn set_faults(State(sim): State<SimState>, Json(faults): Json<Faults>) -> StatusCode {
    let mut data = sim.data.lock().unwrap();
    data.faults.extend(faults.withdraw);
    if let Some(ms) = faults.stall_ms {
        data.stall_ms = ms;
    }
    StatusCode::NO_CONTENT
}

/// Users and their addresses, deposits, withdrawals (with requests per `callBackId`), and every
/// callback sent with our reply.
pub async fn state(State(sim): State<SimState>) -> Json<Value> {
    let data = sim.data.lock().unwrap();
    Json(json!({
        "users": data.users,
        "deposits": data.deposits,
        "withdrawals": data.withdrawals.values().collect::<Vec<_>>(),
        "callbacks": data.callbacks,
    }))
}
