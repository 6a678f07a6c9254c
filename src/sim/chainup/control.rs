//! The simulator's control API: append deposits, advance blocks, move withdrawals, and call the
//! gateway as ChainUp's notifications and Co-Signer would.

use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::api::listed;
use super::{SimRecord, SimState, SimWithdrawal, WithdrawFault, coins, now_ms, random_txid};
use crate::providers::chainup_mpc::sign::public_key_hash;

type ControlError = (StatusCode, String);

fn bad(message: impl Into<String>) -> ControlError {
    (StatusCode::BAD_REQUEST, message.into())
}

fn not_found(message: impl Into<String>) -> ControlError {
    (StatusCode::NOT_FOUND, message.into())
}

fn gateway_unreachable(message: String) -> ControlError {
    (StatusCode::BAD_GATEWAY, message)
}

#[derive(Debug, Deserialize)]
pub struct DepositRequest {
    pub address: String,
    /// In whole units, e.g. "0.5".
    pub amount: String,
    /// ChainUp's coin symbol; the main coin of the address's chain by default.
    pub symbol: Option<String>,
    /// ChainUp deposit status (A8), 1000 (unconfirmed) by default.
    pub status: Option<i64>,
    /// The block the transfer is in; the chain's current height by default.
    pub tx_height: Option<i64>,
    pub txid: Option<String>,
    /// Append this many deposits alike (each with its own id and txid).
    pub count: Option<usize>,
    /// Also send each as a transaction notification; otherwise the gateway must pull it.
    #[serde(default)]
    pub notify: bool,
}

/// Appends deposits to the sync list, as ChainUp records transfers it sees on chain.
pub async fn deposit(
    State(sim): State<SimState>,
    Json(request): Json<DepositRequest>,
) -> Result<Json<Value>, ControlError> {
    let base_symbol = {
        let data = sim.data.lock().unwrap();
        data.addresses
            .iter()
            .find(|a| a.address == request.address)
            .map(|a| a.base_symbol.clone())
            .unwrap_or_else(|| coins::base_symbol_of(&request.address).to_owned())
    };
    let symbol = request.symbol.clone().unwrap_or(base_symbol);
    let coin = coins::find(&symbol).ok_or_else(|| bad(format!("unknown symbol {symbol}")))?;
    let amount = Decimal::from_str(&request.amount)
        .ok()
        .filter(|a| *a > Decimal::ZERO && a.normalize().scale() <= coin.decimals)
        .ok_or_else(|| bad("amount must be positive within the coin's decimals"))?;
    let count = request.count.unwrap_or(1);
    if count == 0 || count > 10_000 {
        return Err(bad("count must be 1..=10000"));
    }
    let records: Vec<SimRecord> = {
        let mut data = sim.data.lock().unwrap();
        let height = data.heights.get(coin.base_symbol).copied().unwrap_or(0);
        let sub_wallet_id = data
            .addresses
            .iter()
            .find(|a| a.address == request.address)
            .map(|a| a.sub_wallet_id)
            .unwrap_or(0);
        (0..count)
            .map(|i| {
                let id = data.next_deposit_id;
                data.next_deposit_id += 1;
                let now = now_ms();
                let record = SimRecord {
                    id,
                    request_id: None,
                    sub_wallet_id,
                    symbol: coin.symbol.to_owned(),
                    base_symbol: coin.base_symbol.to_owned(),
                    contract_address: coin.contract_address.to_owned(),
                    amount: amount.normalize().to_string(),
                    address_from: coins::new_address(coin.base_symbol),
                    address_to: request.address.clone(),
                    memo: String::new(),
                    txid: match (&request.txid, i) {
                        (Some(txid), 0) => txid.clone(),
                        _ => random_txid(),
                    },
                    tx_height: request.tx_height.unwrap_or(height),
                    confirmations: 0,
                    status: request.status.unwrap_or(1000),
                    created_at: now,
                    updated_at: now,
                    fee: None,
                    real_fee: None,
                    fee_symbol: None,
                    withdraw_source: None,
                };
                data.deposits.push(record.clone());
                record
            })
            .collect()
    };
    let mut notified = Vec::new();
    if request.notify {
        for record in &records {
            let sent = sim
                .notify("deposit", record)
                .await
                .map_err(gateway_unreachable)?;
            notified.push(sent);
        }
    }
    let records: Vec<Value> = records.iter().map(|r| listed(&sim, r)).collect();
    Ok(Json(json!({ "records": records, "notified": notified })))
}

#[derive(Debug, Deserialize)]
pub struct BlocksRequest {
    pub count: i64,
    /// One chain's main symbol; every chain by default.
    pub base_symbol: Option<String>,
}

/// Mines `count` blocks.
pub async fn blocks(
    State(sim): State<SimState>,
    Json(request): Json<BlocksRequest>,
) -> Result<Json<Value>, ControlError> {
    if !(1..=1_000_000).contains(&request.count) {
        return Err(bad("count must be 1..=1000000"));
    }
    let mut data = sim.data.lock().unwrap();
    if let Some(base) = &request.base_symbol
        && !data.heights.contains_key(base)
    {
        return Err(bad(format!("unknown chain {base}")));
    }
    for (base, height) in data.heights.iter_mut() {
        if request.base_symbol.as_ref().is_none_or(|b| b == base) {
            *height += request.count;
        }
    }
    Ok(Json(json!({ "heights": data.heights })))
}

pub async fn list_withdrawals(State(sim): State<SimState>) -> Json<Vec<SimWithdrawal>> {
    Json(
        sim.data
            .lock()
            .unwrap()
            .withdrawals
            .values()
            .cloned()
            .collect(),
    )
}

pub async fn state(State(sim): State<SimState>) -> Json<Value> {
    let data = sim.data.lock().unwrap();
    Json(json!({
        "sub_wallets": data.sub_wallets.values().collect::<Vec<_>>(),
        "addresses": data.addresses,
        "deposits": data.deposits.len(),
        "withdrawals": data.withdrawals.len(),
        "heights": data.heights,
    }))
}

#[derive(Debug, Deserialize)]
pub struct FaultsRequest {
    #[serde(default)]
    pub withdraw: Vec<WithdrawFault>,
    pub stall_ms: Option<u64>,
    /// Answer the next address request with a system address.
    #[serde(default)]
    pub system_address: bool,
}

pub async fn set_faults(
    State(sim): State<SimState>,
    Json(request): Json<FaultsRequest>,
) -> StatusCode {
    let mut data = sim.data.lock().unwrap();
    data.withdraw_faults.extend(request.withdraw);
    if let Some(stall) = request.stall_ms {
        data.stall_ms = stall;
    }
    data.system_address_next |= request.system_address;
    StatusCode::NO_CONTENT
}

#[derive(Debug, Default, Deserialize)]
pub struct ActionRequest {
    pub txid: Option<String>,
    /// Send the transaction notification (true by default).
    pub notify: Option<bool>,
}

/// `approve`, `reject`, `complete` or `fail` a withdrawal, or `cosign` it (Co-Signer's calls).
pub async fn withdrawal_action(
    State(sim): State<SimState>,
    Path((request_id, action)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ControlError> {
    let body = body.map(|Json(b)| b).unwrap_or_else(|| json!({}));
    if action == "cosign" {
        let request: CosignRequest =
            serde_json::from_value(body).map_err(|e| bad(e.to_string()))?;
        return cosign(&sim, &request_id, request).await;
    }
    let request: ActionRequest = serde_json::from_value(body).map_err(|e| bad(e.to_string()))?;
    let status = match action.as_str() {
        "approve" => 1100,
        "reject" => 2200,
        "complete" => 2000,
        "fail" => 2400,
        other => return Err(not_found(format!("no action {other}"))),
    };
    let record = {
        let mut data = sim.data.lock().unwrap();
        let height = {
            let base = data
                .withdrawals
                .get(&request_id)
                .map(|w| w.record.base_symbol.clone())
                .ok_or_else(|| not_found(format!("no withdrawal {request_id}")))?;
            data.heights.get(&base).copied().unwrap_or(0)
        };
        let withdrawal = data
            .withdrawals
            .get_mut(&request_id)
            .ok_or_else(|| not_found(format!("no withdrawal {request_id}")))?;
        let record = &mut withdrawal.record;
        record.status = status;
        record.updated_at = now_ms();
        if status == 2000 {
            record.txid = request.txid.clone().unwrap_or_else(random_txid);
            record.tx_height = height;
            record.real_fee = Some("0.00042".into());
        }
        record.clone()
    };
    let notified = if request.notify.unwrap_or(true) {
        Some(
            sim.notify("withdraw", &record)
                .await
                .map_err(gateway_unreachable)?,
        )
    } else {
        None
    };
    Ok(Json(
        json!({ "record": listed(&sim, &record), "notified": notified }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CosignRequest {
    /// `sign_start` (asks for approval) or `sign_success` (reports the signed transaction).
    pub stage: String,
    /// Overrides of what Co-Signer reports, to ask about something other than what was submitted
    /// (`txid`: a hash other than the one ChainUp records).
    pub amount: Option<String>,
    pub address: Option<String>,
    pub request_id: Option<String>,
    pub symbol: Option<String>,
    pub txid: Option<String>,
    /// Name the withdrawal `withdraw_id` with a string amount, as the deploy guide's form has it;
    /// otherwise `transfer_id` with a numeric amount, as the API docs have it.
    #[serde(default)]
    pub use_withdraw_id_field: bool,
    #[serde(default)]
    pub pending_round: bool,
}

/// Posts what Co-Signer posts before (`sign_start`) and after (`sign_success`) signing (A9b).
/// For a request id the simulator does not know, the call describes a withdrawal out of nowhere.
async fn cosign(
    sim: &SimState,
    request_id: &str,
    request: CosignRequest,
) -> Result<Json<Value>, ControlError> {
    if !matches!(request.stage.as_str(), "sign_start" | "sign_success") {
        return Err(bad("stage is sign_start or sign_success"));
    }
    let known = {
        let mut data = sim.data.lock().unwrap();
        data.withdrawals.get_mut(request_id).map(|w| {
            // Once Co-Signer has signed, ChainUp broadcasts: the record is paying, with its txid.
            if request.stage == "sign_success" && w.record.status < 1200 {
                w.record.status = 1200;
                w.record.updated_at = now_ms();
                if w.record.txid.is_empty() {
                    w.record.txid = random_txid();
                }
            }
            w.record.clone()
        })
    };
    let (id, amount, address, symbol, txid) = match &known {
        Some(r) => (
            r.id,
            r.amount.clone(),
            r.address_to.clone(),
            r.symbol.clone(),
            r.txid.clone(),
        ),
        None => (
            rand::random_range(900_000..1_000_000),
            "1".to_owned(),
            coins::new_address("ETH"),
            "ETH".to_owned(),
            String::new(),
        ),
    };
    let amount = request.amount.clone().unwrap_or(amount);
    let mut body = Map::new();
    body.insert("type".into(), json!(request.stage));
    if request.use_withdraw_id_field {
        body.insert("withdraw_id".into(), json!(id.to_string()));
        body.insert("amount".into(), json!(amount));
    } else {
        body.insert("transfer_id".into(), json!(id));
        let number =
            serde_json::Number::from_str(&amount).map_err(|_| bad("amount is not a number"))?;
        body.insert("amount".into(), Value::Number(number));
    }
    body.insert(
        "request_id".into(),
        json!(request.request_id.clone().unwrap_or(request_id.to_owned())),
    );
    body.insert("pending_round".into(), json!(request.pending_round));
    body.insert("from".into(), json!(""));
    body.insert(
        "to".into(),
        json!(request.address.clone().unwrap_or(address)),
    );
    body.insert("memo".into(), json!(""));
    body.insert(
        "symbol".into(),
        json!(request.symbol.clone().unwrap_or(symbol)),
    );
    if request.stage == "sign_success" {
        let txid = request
            .txid
            .clone()
            .filter(|t| !t.is_empty())
            .or(Some(txid).filter(|t| !t.is_empty()))
            .unwrap_or_else(random_txid);
        body.insert("txid".into(), json!(txid));
    }
    let sent = sim
        .call_cosigner(&body)
        .await
        .map_err(gateway_unreachable)?;
    Ok(Json(
        json!({ "status": sent.status, "body": sent.body, "sent": body }),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct VerifyRequest {
    /// Send a hash of another key, as a Co-Signer configured with the wrong key would.
    #[serde(default)]
    pub wrong_key: bool,
}

/// Co-Signer's start-up self-check (`verify_public_hash`): the hashes of the keys it holds.
pub async fn verify_keys(
    State(sim): State<SimState>,
    body: Option<Json<VerifyRequest>>,
) -> Result<Json<Value>, ControlError> {
    let request = body.map(|Json(b)| b).unwrap_or_default();
    let client_key = if request.wrong_key {
        sim.private_key.public_key()
    } else {
        sim.gateway_key.clone()
    };
    let sign_key = sim.sign_key.clone().unwrap_or_else(|| client_key.clone());
    let hash = |key| public_key_hash(&sim.app_id, key).map_err(|e| bad(e.to_string()));
    let mut call = Map::new();
    call.insert("type".into(), json!("verify_public_hash"));
    call.insert("app_id".into(), json!(sim.app_id));
    call.insert(
        "client_system_pubkey_hash".into(),
        json!(hash(&client_key)?),
    );
    call.insert("verify_sign_pub_hash".into(), json!(hash(&sign_key)?));
    let sent = sim
        .call_cosigner(&call)
        .await
        .map_err(gateway_unreachable)?;
    Ok(Json(json!({ "status": sent.status, "body": sent.body })))
}
