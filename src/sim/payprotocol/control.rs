//! The Pay Protocol simulator's control API: recharges arrive, withdrawals move through the
//! console's approval and the chain (payprotocol.md C6), each change reaching the gateway as Pay
//! Protocol's callback (C5); faults; and everything the simulator holds.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::callbacks::{CallbackKind, deliver};
use super::{
    CallbackSigning, RECHARGE_FAILURE, RECHARGE_PENDING, RECHARGE_SUCCESS, RequestFault,
    SimRecharge, SimState, WITHDRAW_CONFIRMING, WITHDRAW_FAILURE, WITHDRAW_PENDING_APPROVAL,
    WITHDRAW_REJECTED, WITHDRAW_SUCCESS, WITHDRAW_UNDER_REVIEW, new_address, random_hash,
    to_minor_units,
};

pub type ControlError = (StatusCode, Json<Value>);

fn error(status: StatusCode, message: impl Into<String>) -> ControlError {
    (status, Json(json!({ "error": message.into() })))
}

fn bad(message: impl Into<String>) -> ControlError {
    error(StatusCode::BAD_REQUEST, message)
}

fn not_found(message: impl Into<String>) -> ControlError {
    error(StatusCode::NOT_FOUND, message)
}

fn conflict(message: impl Into<String>) -> ControlError {
    error(StatusCode::CONFLICT, message)
}

/// A control request's JSON body, refused with `{"error"}` when it does not read as `T`.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("body: {e}")))
}

fn parse_id(id: &str, what: &str) -> Result<i64, ControlError> {
    id.parse()
        .map_err(|_| not_found(format!("no {what} {id:?}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RechargeRequest {
    /// A wallet address the simulator gave.
    pub address: String,
    /// In whole units, e.g. `"12.5"`; stored in minor units.
    pub amount: String,
    /// `rechargeStatus`: 0 success (default), 1 recharging, 2 failure.
    pub status: Option<u8>,
    /// Our asset name, e.g. `USDT`; the first currency of the address's chain by default.
    pub currency: Option<String>,
    pub from_address: Option<String>,
    pub tx_hash: Option<String>,
}

/// A recharge reaches a user's wallet; its callback is sent unless it is still recharging.
pub async fn create_recharge(
    State(sim): State<SimState>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: RechargeRequest = parse(&body)?;
    let status = request.status.unwrap_or(RECHARGE_SUCCESS);
    if ![RECHARGE_SUCCESS, RECHARGE_PENDING, RECHARGE_FAILURE].contains(&status) {
        return Err(bad("status must be 0, 1 or 2"));
    }
    let now = sim.now();
    let recharge = {
        let mut data = sim.data.lock().unwrap();
        let (user, wallet) = data
            .wallet_owner(&request.address)
            .ok_or_else(|| not_found(format!("no wallet {}", request.address)))?;
        let chain = sim
            .chain(wallet.chain_id)
            .ok_or_else(|| bad(format!("chainId {} is not enabled", wallet.chain_id)))?;
        let currency = sim
            .currencies
            .iter()
            .filter(|c| c.chain_id == wallet.chain_id)
            .find(|c| {
                request
                    .currency
                    .as_ref()
                    .is_none_or(|asset| c.asset == *asset)
            })
            .ok_or_else(|| {
                bad(format!(
                    "{} is not a currency of chainId {}",
                    request.currency.as_deref().unwrap_or_default(),
                    wallet.chain_id
                ))
            })?;
        let amount_units = to_minor_units(&request.amount, currency.decimals).ok_or_else(|| {
            bad(format!(
                "amount {:?} is not a positive decimal with at most {} places",
                request.amount, currency.decimals
            ))
        })?;
        let mut recharge = SimRecharge {
            recharge_id: 0,
            chain_id: wallet.chain_id,
            currency_id: currency.currency_id,
            user_id: user.user_id,
            uuid: user.uuid.clone(),
            amount_units,
            status,
            transfer_hash: request.tx_hash.clone().unwrap_or_else(random_hash),
            wallet_id: wallet.wallet_id,
            wallet_address: wallet.wallet_address.clone(),
            from_address: request
                .from_address
                .clone()
                .unwrap_or_else(|| new_address(&chain.chain)),
            created: now,
            block_time: now,
        };
        recharge.recharge_id = data.next_recharge_id;
        data.next_recharge_id += 1;
        data.recharges
            .insert(recharge.recharge_id, recharge.clone());
        recharge
    };
    let callbacks = if status == RECHARGE_PENDING {
        Vec::new()
    } else {
        recharge_callback(&sim, &recharge).await
    };
    Ok(Json(
        json!({ "recharge": recharge.to_json(), "callbacks": callbacks }),
    ))
}

async fn recharge_callback(sim: &SimState, recharge: &SimRecharge) -> Vec<super::SentCallback> {
    deliver(
        sim,
        CallbackKind::Recharge,
        recharge.recharge_id,
        sim.recharge_callback_url.clone(),
        recharge.to_json(),
    )
    .await
}

/// `succeed` or `fail` a recharging (1) recharge, with its callback.
pub async fn recharge_action(
    State(sim): State<SimState>,
    Path((recharge_id, action)): Path<(String, String)>,
) -> Result<Json<Value>, ControlError> {
    let recharge_id = parse_id(&recharge_id, "recharge")?;
    let status = match action.as_str() {
        "succeed" => RECHARGE_SUCCESS,
        "fail" => RECHARGE_FAILURE,
        other => return Err(not_found(format!("no action {other}"))),
    };
    let now = sim.now();
    let recharge = {
        let mut data = sim.data.lock().unwrap();
        let recharge = data
            .recharges
            .get_mut(&recharge_id)
            .ok_or_else(|| not_found(format!("no recharge {recharge_id}")))?;
        if recharge.status != RECHARGE_PENDING {
            return Err(conflict(format!(
                "recharge {recharge_id} has rechargeStatus {}",
                recharge.status
            )));
        }
        recharge.status = status;
        recharge.block_time = now;
        recharge.clone()
    };
    let callbacks = recharge_callback(&sim, &recharge).await;
    Ok(Json(
        json!({ "recharge": recharge.to_json(), "callbacks": callbacks }),
    ))
}

/// Moves a withdrawal as the console and the chain do (C6 `withdrawStatus`): `approve` 1 → 2,
/// `broadcast` 2 → 3 (with a transfer hash), `complete` 2|3 → 0, `fail` 2|3 → 4, `reject`
/// 1|2 → 5; each with its callback to the `notifyUrl`.
pub async fn withdrawal_action(
    State(sim): State<SimState>,
    Path((withdraw_id, action)): Path<(String, String)>,
) -> Result<Json<Value>, ControlError> {
    let withdraw_id = parse_id(&withdraw_id, "withdrawal")?;
    let (from, to): (&[u8], u8) = match action.as_str() {
        "approve" => (&[WITHDRAW_PENDING_APPROVAL], WITHDRAW_UNDER_REVIEW),
        "broadcast" => (&[WITHDRAW_UNDER_REVIEW], WITHDRAW_CONFIRMING),
        "complete" => (
            &[WITHDRAW_UNDER_REVIEW, WITHDRAW_CONFIRMING],
            WITHDRAW_SUCCESS,
        ),
        "fail" => (
            &[WITHDRAW_UNDER_REVIEW, WITHDRAW_CONFIRMING],
            WITHDRAW_FAILURE,
        ),
        "reject" => (
            &[WITHDRAW_PENDING_APPROVAL, WITHDRAW_UNDER_REVIEW],
            WITHDRAW_REJECTED,
        ),
        other => return Err(not_found(format!("no action {other}"))),
    };
    let withdrawal = {
        let mut data = sim.data.lock().unwrap();
        let withdrawal = data
            .withdrawals
            .get_mut(&withdraw_id)
            .ok_or_else(|| not_found(format!("no withdrawal {withdraw_id}")))?;
        if !from.contains(&withdrawal.status) {
            return Err(conflict(format!(
                "withdrawal {withdraw_id} has withdrawStatus {}; {action} needs {from:?}",
                withdrawal.status
            )));
        }
        withdrawal.status = to;
        if matches!(to, WITHDRAW_CONFIRMING | WITHDRAW_SUCCESS)
            && withdrawal.transfer_hash.is_none()
        {
            withdrawal.transfer_hash = Some(random_hash());
        }
        withdrawal.clone()
    };
    let callbacks = deliver(
        &sim,
        CallbackKind::Withdraw,
        withdraw_id,
        Some(withdrawal.notify_url.clone()),
        withdrawal.to_json(),
    )
    .await;
    Ok(Json(
        json!({ "withdrawal": withdrawal.to_json(), "callbacks": callbacks }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyDecimals {
    pub chain_id: i64,
    pub currency_id: i64,
    pub decimals: u32,
}

/// What `/conf/list/currency` reports as a currency's decimals, to differ from the account's.
pub async fn set_currency_decimals(
    State(sim): State<SimState>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let request: CurrencyDecimals = parse(&body)?;
    if sim
        .currency(request.chain_id, request.currency_id)
        .is_none()
    {
        return Err(not_found(format!(
            "no currencyId {} on chainId {}",
            request.currency_id, request.chain_id
        )));
    }
    sim.data
        .lock()
        .unwrap()
        .reported_decimals
        .insert((request.chain_id, request.currency_id), request.decimals);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Consumed one per `/withdraw/apply`.
    #[serde(default)]
    pub withdraw: Vec<RequestFault>,
    /// Consumed one per `/user/create`.
    #[serde(default)]
    pub user_create: Vec<RequestFault>,
    pub stall_ms: Option<u64>,
    pub drop_callbacks: Option<bool>,
    pub callback_signing: Option<CallbackSigning>,
    /// Moves the simulator's clock (request checks, callback timestamps, record times).
    pub clock_skew_secs: Option<i64>,
    /// Both detail endpoints answer HTTP 500 while set.
    pub detail_500: Option<bool>,
}

pub async fn set_faults(
    State(sim): State<SimState>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let faults: Faults = parse(&body)?;
    let mut data = sim.data.lock().unwrap();
    data.withdraw_faults.extend(faults.withdraw);
    data.user_create_faults.extend(faults.user_create);
    if let Some(ms) = faults.stall_ms {
        data.stall_ms = ms;
    }
    if let Some(drop_callbacks) = faults.drop_callbacks {
        data.drop_callbacks = drop_callbacks;
    }
    if let Some(signing) = faults.callback_signing {
        data.callback_signing = signing;
    }
    if let Some(skew) = faults.clock_skew_secs {
        data.clock_skew_secs = skew;
    }
    if let Some(detail_500) = faults.detail_500 {
        data.detail_500 = detail_500;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Users with their wallets and create requests, recharges, withdrawals with their applies and
/// `notifyUrl`, every callback attempt, and how many requests failed authentication.
pub async fn state(State(sim): State<SimState>) -> Json<Value> {
    let data = sim.data.lock().unwrap();
    let users: Vec<Value> = data
        .users
        .values()
        .map(|u| {
            let detail = u.to_json(None);
            json!({
                "userId": u.user_id,
                "uuid": u.uuid,
                "createTime": detail["createTime"],
                "creates": data.creates.get(&u.uuid).copied().unwrap_or_default(),
                "wallets": detail["userWallet"],
            })
        })
        .collect();
    let recharges: Vec<Value> = data.recharges.values().map(SimRecharge::to_json).collect();
    let withdrawals: Vec<Value> = data
        .withdrawals
        .values()
        .map(|w| {
            let mut record = w.to_json();
            record["applies"] = json!(data.applies.get(&w.out_trade_no).copied().unwrap_or(1));
            record["notifyUrl"] = json!(w.notify_url);
            record
        })
        .collect();
    Json(json!({
        "users": users,
        "recharges": recharges,
        "withdrawals": withdrawals,
        "callbacks": data.callbacks,
        "refused_requests": data.refused_requests,
    }))
}
