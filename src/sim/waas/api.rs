//! WaaS's API (waas.md C2): `POST /api/v1/api/...` with `X-API-KEY` and a form field `data` that
//! opens with WaaS's private key; replies `{code, message, data}`, `data` sealed with it.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{SimState, SimWithdrawal, WithdrawFault, new_address};
use crate::providers::waas::transport::{open_at_waas, seal_at_waas};

const CODE_BAD_KEY: i64 = 401;
const CODE_BAD_PARAMS: i64 = 1001;
const CODE_UNSUPPORTED: i64 = 1002;
/// A `callBackId` seen before: WaaS never pays one twice.
pub const CODE_DUPLICATE_CALLBACK_ID: i64 = 1003;

fn reply(sim: &SimState, code: i64, message: &str, data: Option<Value>) -> Response {
    let data = data.map(|d| seal_at_waas(&d, &sim.private_key).expect("the simulator's key seals"));
    Json(json!({ "code": code, "message": message, "data": data })).into_response()
}

pub async fn handle(
    State(sim): State<SimState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(sim.api_key.as_str()) {
        return reply(&sim, CODE_BAD_KEY, "invalid X-API-KEY", None);
    }
    let Some(data) = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "data")
        .map(|(_, v)| v.into_owned())
    else {
        return reply(&sim, CODE_BAD_PARAMS, "missing data", None);
    };
    let Ok(fields) = open_at_waas(&data, &sim.private_key) else {
        return reply(&sim, CODE_BAD_PARAMS, "data does not decrypt", None);
    };
    match path.as_str() {
        "user/getUserAddress" => user_address(&sim, &fields),
        "order/withdrawRequest" => withdraw(sim, &fields, true).await,
        "order/withdrawWithoutVerify" => withdraw(sim, &fields, false).await,
        _ => (StatusCode::NOT_FOUND, "no such API").into_response(),
    }
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `getUserAddress {tenantUserId, chainName, symbol}`: registers the user on first sight; one
/// address per user and chain, whatever the symbol.
fn user_address(sim: &SimState, fields: &Map<String, Value>) -> Response {
    let (Some(tenant), Some(chain_name), Some(symbol)) = (
        text(fields, "tenantUserId"),
        text(fields, "chainName"),
        text(fields, "symbol"),
    ) else {
        return reply(
            sim,
            CODE_BAD_PARAMS,
            "tenantUserId, chainName and symbol are required",
            None,
        );
    };
    if !sim
        .coins
        .iter()
        .any(|c| c.chain_name == chain_name && c.symbol == symbol)
    {
        return reply(sim, CODE_UNSUPPORTED, "unsupported chain or symbol", None);
    }
    let address = {
        let mut data = sim.data.lock().unwrap();
        data.users
            .entry(tenant.to_owned())
            .or_default()
            .entry(chain_name.to_owned())
            .or_insert_with(|| new_address(chain_name))
            .clone()
    };
    let data = json!({ "tenantUserId": tenant, "chainName": chain_name, "symbol": symbol, "address": address });
    reply(sim, 0, "", Some(data))
}

/// `withdrawRequest` / `withdrawWithoutVerify` (C2). The amount must be a decimal string.
async fn withdraw(sim: SimState, fields: &Map<String, Value>, verify: bool) -> Response {
    let (Some(tenant), Some(call_back_id), Some(chain_name), Some(symbol), Some(to_addr)) = (
        text(fields, "tenantUserId"),
        text(fields, "callBackId"),
        text(fields, "chainName"),
        text(fields, "symbol"),
        text(fields, "toAddr"),
    ) else {
        return reply(&sim, CODE_BAD_PARAMS, "missing order fields", None);
    };
    let amount = match fields.get("amount") {
        Some(Value::String(a))
            if a.parse::<rust_decimal::Decimal>().is_ok() && !a.contains(['e', 'E']) =>
        {
            a.clone()
        }
        _ => {
            return reply(
                &sim,
                CODE_BAD_PARAMS,
                "amount must be a decimal string",
                None,
            );
        }
    };
    if fields.get("userId").and_then(Value::as_i64) != Some(sim.user_id)
        || fields.get("tenantType").and_then(Value::as_i64) != Some(1)
    {
        return reply(
            &sim,
            CODE_BAD_PARAMS,
            "userId or tenantType is not this merchant's",
            None,
        );
    }
    if !sim
        .coins
        .iter()
        .any(|c| c.chain_name == chain_name && c.symbol == symbol)
    {
        return reply(&sim, CODE_UNSUPPORTED, "unsupported chain or symbol", None);
    }
    let fault = sim.data.lock().unwrap().faults.pop_front();
    if fault == Some(WithdrawFault::Error500) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    {
        let mut data = sim.data.lock().unwrap();
        if let Some(existing) = data.withdrawals.get_mut(call_back_id) {
            existing.requests += 1;
            return reply(
                &sim,
                CODE_DUPLICATE_CALLBACK_ID,
                "callBackId already exists",
                None,
            );
        }
    }
    let tracking_id = sim.next_tracking_id();
    sim.data.lock().unwrap().withdrawals.insert(
        call_back_id.to_owned(),
        SimWithdrawal {
            call_back_id: call_back_id.to_owned(),
            tenant_user_id: tenant.to_owned(),
            chain_name: chain_name.to_owned(),
            symbol: symbol.to_owned(),
            to_addr: to_addr.to_owned(),
            amount,
            verify,
            status: "pending".into(),
            tracking_id,
            tx_id: None,
            requests: 1,
        },
    );
    if verify {
        // WaaS asks its second confirmation once the order is in.
        let (sim, call_back_id) = (Arc::clone(&sim), call_back_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = super::control::confirm(&sim, &call_back_id, &Map::new()).await;
        });
    }
    match fault {
        Some(WithdrawFault::AcceptThen500) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        Some(WithdrawFault::AcceptThenStall) => {
            let stall = sim.data.lock().unwrap().stall_ms;
            tokio::time::sleep(Duration::from_millis(stall)).await;
            reply(
                &sim,
                0,
                "",
                Some(json!({ "id": call_back_id, "tenantUserId": tenant })),
            )
        }
        _ => reply(
            &sim,
            0,
            "",
            Some(json!({ "id": call_back_id, "tenantUserId": tenant })),
        ),
    }
}
