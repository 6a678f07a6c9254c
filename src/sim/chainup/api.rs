//! The `/api/mpc/...` endpoints (A6, A7): every request is a query or form of `app_id` + `data`,
//! `data` opens with the gateway's public key, and every reply is sealed with ChainUp's private key.
//! What cannot be opened is answered in plaintext, as ChainUp does.

use std::str::FromStr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{SimAddress, SimRecord, SimState, SimWithdrawal, SubWallet, WithdrawFault, coins};
use crate::domain::address_rules;
use crate::providers::chainup_mpc::sign::{signed_text, verify_chainup_sign};
use crate::providers::chainup_mpc::transport::{Reply, open_request, seal_reply};

/// Sync lists return at most this many records (A6).
const PAGE: usize = 100;

/// A refusal: ChainUp's code and message (A10).
struct Refusal(&'static str, String);

type Answer = Result<Value, Refusal>;

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal(code, message.into())
}

pub async fn handle(
    State(sim): State<SimState>,
    Path(path): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let form = if method == Method::GET {
        query.unwrap_or_default().into_bytes()
    } else {
        body.to_vec()
    };
    let (mut app_id, mut data) = (None, None);
    for (key, value) in form_urlencoded::parse(&form) {
        match key.as_ref() {
            "app_id" => app_id = Some(value.into_owned()),
            "data" => data = Some(value.into_owned()),
            _ => {}
        }
    }
    if app_id.as_deref() != Some(sim.app_id.as_str()) {
        return plaintext("100015", "app_id is invalid");
    }
    // A form decoder turns an unencoded '+' into ' '; Base64 never holds a space.
    let data = data.unwrap_or_default().replace(' ', "+");
    let Ok(fields) = open_request(&data, &sim.gateway_key) else {
        return plaintext("100005", "signature verification failed");
    };
    if !fields.contains_key("time") {
        return seal(&sim, Err(refuse("100004", "time is required")));
    }
    let answer = match (method.as_str(), path.as_str()) {
        ("GET", "coin_list") => Ok(coin_list()),
        ("GET", "chain_height") => chain_height(&sim, &fields),
        ("POST", "sub_wallet/create") => create_sub_wallet(&sim, &fields),
        ("POST", "sub_wallet/create/address") => create_address(&sim, &fields),
        ("POST", "billing/withdraw") => return withdraw(&sim, &fields).await,
        ("GET", "billing/withdraw_list") => Ok(withdraw_list(&sim, &fields)),
        ("GET", "billing/sync_withdraw_list") => Ok(sync_withdraw_list(&sim, &fields)),
        ("GET", "billing/deposit_list") => Ok(deposit_list(&sim, &fields)),
        ("GET", "billing/sync_deposit_list") => Ok(sync_deposit_list(&sim, &fields)),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    seal(&sim, answer)
}

fn plaintext(code: &str, msg: &str) -> Response {
    json_response(json!({ "code": code, "msg": msg, "data": null }).to_string())
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn seal(sim: &SimState, answer: Answer) -> Response {
    let reply = match answer {
        Ok(data) => Reply {
            code: "0".into(),
            msg: "success".into(),
            data,
        },
        Err(Refusal(code, msg)) => Reply {
            code: code.into(),
            msg,
            data: Value::Null,
        },
    };
    match seal_reply(&reply, &sim.private_key) {
        Ok(body) => json_response(body),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "seal failed").into_response(),
    }
}

/// A field as text, whether it came as a string or a number.
fn text(fields: &Map<String, Value>, name: &str) -> Option<String> {
    match fields.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(fields: &Map<String, Value>, name: &str) -> Option<i64> {
    text(fields, name)?.parse().ok()
}

fn coin_list() -> Value {
    Value::Array(
        coins::COINS
            .iter()
            .map(|c| {
                json!({
                    "symbol": c.symbol, "real_symbol": c.real_symbol, "base_symbol": c.base_symbol,
                    "contract_address": c.contract_address, "decimals": c.decimals.to_string(),
                    "deposit_confirmation": c.deposit_confirmation.to_string(),
                    "support_memo": "0", "address_regex": "", "coin_net": c.base_symbol,
                })
            })
            .collect(),
    )
}

fn chain_height(sim: &SimState, fields: &Map<String, Value>) -> Answer {
    let base = text(fields, "base_symbol").ok_or_else(|| refuse("100004", "base_symbol"))?;
    let height = sim.data.lock().unwrap().heights.get(&base).copied();
    height
        .map(|height| json!({ "height": height }))
        .ok_or_else(|| refuse("120202", format!("unsupported chain {base}")))
}

fn create_sub_wallet(sim: &SimState, fields: &Map<String, Value>) -> Answer {
    let name = text(fields, "sub_wallet_name")
        .ok_or_else(|| refuse("100004", "sub_wallet_name is required"))?;
    if name.chars().count() > 50 {
        return Err(refuse("200067", "sub_wallet_name is too long"));
    }
    // Web3 unless told otherwise (A6).
    let sub_wallet_type = int(fields, "sub_wallet_type").unwrap_or(2);
    let mut data = sim.data.lock().unwrap();
    if data.sub_wallets.values().any(|w| w.name == name) {
        return Err(refuse("100004", "sub_wallet_name already exists"));
    }
    let sub_wallet_id = data.next_sub_wallet_id;
    data.next_sub_wallet_id += 1;
    data.sub_wallets.insert(
        sub_wallet_id,
        SubWallet {
            sub_wallet_id,
            name,
            sub_wallet_type,
        },
    );
    Ok(json!({ "sub_wallet_id": sub_wallet_id }))
}

/// One address per sub-wallet and main chain: tokens share their chain's address.
fn create_address(sim: &SimState, fields: &Map<String, Value>) -> Answer {
    let sub_wallet_id =
        int(fields, "sub_wallet_id").ok_or_else(|| refuse("100004", "sub_wallet_id"))?;
    let coin = text(fields, "symbol")
        .and_then(|s| coins::find(&s))
        .ok_or_else(|| refuse("120202", "unsupported coin"))?;
    let mut data = sim.data.lock().unwrap();
    if !data.sub_wallets.contains_key(&sub_wallet_id) {
        return Err(refuse("200005", "sub-wallet does not exist"));
    }
    if std::mem::take(&mut data.system_address_next) {
        let address = coins::new_address(coin.base_symbol);
        return Ok(json!({ "address": address, "addr_type": 2, "memo": "" }));
    }
    let existing = data
        .addresses
        .iter()
        .find(|a| a.sub_wallet_id == sub_wallet_id && a.base_symbol == coin.base_symbol)
        .map(|a| a.address.clone());
    let address = existing.unwrap_or_else(|| {
        let address = coins::new_address(coin.base_symbol);
        data.addresses.push(SimAddress {
            sub_wallet_id,
            base_symbol: coin.base_symbol.to_owned(),
            address: address.clone(),
            addr_type: 1,
        });
        address
    });
    Ok(json!({ "address": address, "addr_type": 1, "memo": "" }))
}

async fn withdraw(sim: &SimState, fields: &Map<String, Value>) -> Response {
    let fault = sim.data.lock().unwrap().withdraw_faults.pop_front();
    if fault == Some(WithdrawFault::Error500) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    let mut record = match check_withdraw(sim, fields) {
        Ok(record) => record,
        Err(refusal) => return seal(sim, Err(refusal)),
    };
    let withdraw_id = {
        let mut data = sim.data.lock().unwrap();
        let request_id = record.request_id.clone().unwrap_or_default();
        if let Some(existing) = data.withdrawals.get_mut(&request_id) {
            existing.requests += 1;
            return seal(sim, Err(refuse("110088", "duplicate request_id")));
        }
        let id = data.next_withdraw_id;
        data.next_withdraw_id += 1;
        record.id = id;
        data.withdrawals.insert(
            request_id,
            SimWithdrawal {
                record,
                requests: 1,
                sign_verified: sim.sign_key.as_ref().map(|_| true),
            },
        );
        id
    };
    match fault {
        Some(WithdrawFault::AcceptThen500) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        Some(WithdrawFault::AcceptThenStall) => {
            let stall = sim.data.lock().unwrap().stall_ms;
            tokio::time::sleep(Duration::from_millis(stall)).await;
            seal(sim, Ok(json!({ "withdraw_id": withdraw_id })))
        }
        _ => seal(sim, Ok(json!({ "withdraw_id": withdraw_id }))),
    }
}

/// ChainUp's checks (A7, A10): parameters present (100004), a known coin (120202), an amount
/// within the coin's precision (110161), an address of the chain's form (110055), and, when the
/// account signs withdrawals, a `sign` over the fields as sent (100005).
fn check_withdraw(sim: &SimState, fields: &Map<String, Value>) -> Result<SimRecord, Refusal> {
    let request_id = text(fields, "request_id").ok_or_else(|| refuse("100004", "request_id"))?;
    let sub_wallet_id =
        int(fields, "sub_wallet_id").ok_or_else(|| refuse("100004", "sub_wallet_id"))?;
    let coin = text(fields, "symbol")
        .and_then(|s| coins::find(&s))
        .ok_or_else(|| refuse("120202", "unsupported coin"))?;
    let address_to = text(fields, "address_to").ok_or_else(|| refuse("100004", "address_to"))?;
    let amount_text = text(fields, "amount").ok_or_else(|| refuse("100004", "amount"))?;
    let amount = Decimal::from_str(&amount_text)
        .ok()
        .filter(|a| *a > Decimal::ZERO && a.normalize().scale() <= coin.decimals)
        .ok_or_else(|| refuse("110161", "amount precision or value is invalid"))?;
    if !address_rules::looks_valid(coin.base_symbol, &address_to) {
        return Err(refuse("110055", "address is invalid"));
    }
    let memo = text(fields, "memo").unwrap_or_default();
    if let Some(key) = &sim.sign_key {
        let sub_wallet_text = sub_wallet_id.to_string();
        let outputs = text(fields, "outputs").unwrap_or_default();
        let signed = signed_text(&[
            ("request_id", &request_id),
            ("sub_wallet_id", &sub_wallet_text),
            ("symbol", coin.symbol),
            ("address_to", &address_to),
            ("amount", &amount_text),
            ("memo", &memo),
            ("outputs", &outputs),
        ]);
        let sign = text(fields, "sign").unwrap_or_default();
        if !verify_chainup_sign(&signed, key, &sign) {
            return Err(refuse("100005", "sign does not verify"));
        }
    }
    let now = super::now_ms();
    Ok(SimRecord {
        id: 0,
        request_id: Some(request_id),
        sub_wallet_id,
        symbol: coin.symbol.to_owned(),
        base_symbol: coin.base_symbol.to_owned(),
        contract_address: coin.contract_address.to_owned(),
        amount: amount.normalize().to_string(),
        address_from: String::new(),
        address_to,
        memo,
        txid: String::new(),
        tx_height: 0,
        confirmations: 0,
        status: 1000,
        created_at: now,
        updated_at: now,
        fee: Some("0".into()),
        real_fee: Some("0".into()),
        fee_symbol: Some(coin.base_symbol.to_owned()),
        withdraw_source: Some(2),
    })
}

/// A record as listed: confirmations counted against the chain's current height.
pub(super) fn listed(sim: &SimState, record: &SimRecord) -> Value {
    let mut record = record.clone();
    if record.tx_height > 0 {
        let height = sim.height(&record.base_symbol);
        record.confirmations = (height - record.tx_height + 1).max(0);
    }
    serde_json::to_value(record).unwrap_or(Value::Null)
}

fn ids(fields: &Map<String, Value>) -> Vec<String> {
    text(fields, "ids")
        .unwrap_or_default()
        .split(',')
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .collect()
}

fn withdraw_list(sim: &SimState, fields: &Map<String, Value>) -> Value {
    let wanted = ids(fields);
    let records: Vec<SimRecord> = {
        let data = sim.data.lock().unwrap();
        wanted
            .iter()
            .filter_map(|id| data.withdrawals.get(id))
            .map(|w| w.record.clone())
            .collect()
    };
    Value::Array(records.iter().map(|r| listed(sim, r)).collect())
}

fn deposit_list(sim: &SimState, fields: &Map<String, Value>) -> Value {
    let wanted = ids(fields);
    let records: Vec<SimRecord> = {
        let data = sim.data.lock().unwrap();
        data.deposits
            .iter()
            .filter(|d| wanted.contains(&d.id.to_string()))
            .cloned()
            .collect()
    };
    Value::Array(records.iter().map(|r| listed(sim, r)).collect())
}

/// Up to [`PAGE`] records with `id > max_id`, ascending (A6).
fn page_after(sim: &SimState, records: Vec<SimRecord>, fields: &Map<String, Value>) -> Value {
    let max_id = int(fields, "max_id").unwrap_or(0);
    let mut page: Vec<SimRecord> = records.into_iter().filter(|r| r.id > max_id).collect();
    page.sort_by_key(|r| r.id);
    page.truncate(PAGE);
    Value::Array(page.iter().map(|r| listed(sim, r)).collect())
}

fn sync_deposit_list(sim: &SimState, fields: &Map<String, Value>) -> Value {
    let records = sim.data.lock().unwrap().deposits.clone();
    page_after(sim, records, fields)
}

fn sync_withdraw_list(sim: &SimState, fields: &Map<String, Value>) -> Value {
    let records = sim
        .data
        .lock()
        .unwrap()
        .withdrawals
        .values()
        .map(|w| w.record.clone())
        .collect();
    page_after(sim, records, fields)
}
