//! The UBAO simulator's control API: deposits to receive addresses (seed 003 §8), transfers seen on
//! watch addresses (§4), withdrawals completed or failed on chain (§9), each reaching the gateway
//! as UBAO's notification with the `balance` ones that follow (§10); ownership proofs (§7), coin
//! decimals (§5), collection wallet funds, faults, and everything the simulator holds.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::callbacks::{
    CallbackType, Notification, SentCallback, Transfer, balance_body, deliver, deliver_repeatedly,
    recharge_body, transfer_body,
};
use super::{
    PoolingFault, Proof, SimCoin, SimState, WalletType, WithdrawFault, WithdrawalStatus,
    decimal_text, new_address, new_hash, parse_amount,
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

/// The coin a control request names on `chain_type` (its own coin by default), and `amount` in it.
fn coin_and_amount<'a>(
    sim: &'a SimState,
    chain_type: i64,
    coin_id: Option<i64>,
    amount: &str,
) -> Result<(&'a SimCoin, Decimal), ControlError> {
    let coin = sim
        .coin_on_chain(chain_type, coin_id)
        .ok_or_else(|| bad(format!("no coinID {coin_id:?} on chainType {chain_type}")))?;
    let amount = parse_amount(amount, coin.decimals).ok_or_else(|| {
        bad(format!(
            "amount {amount:?} is not a positive decimal with at most {} places",
            coin.decimals
        ))
    })?;
    Ok((coin, amount))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    /// A receive address the simulator gave.
    pub address: String,
    /// In whole units, e.g. `"12.5"`.
    pub amount: String,
    /// The chain's own coin, or its first coin, by default.
    pub coin_id: Option<i64>,
    /// Deliver the same `recharge` notification this many more times, whatever the replies.
    pub repeat: Option<usize>,
    pub from_address: Option<String>,
    pub hash: Option<String>,
}

/// A deposit reaches a receive address: its balance rises, then its `recharge` and `balance`
/// notifications go to the address's `callUrl`.
pub async fn deposit(
    State(sim): State<SimState>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: DepositRequest = parse(&body)?;
    let (coin, recharge, url, balance) = {
        let mut data = sim.data.lock().unwrap();
        let wallet = data
            .wallet_mut(&request.address)
            .filter(|w| w.wallet_type == WalletType::Receive)
            .ok_or_else(|| not_found(format!("no receive address {}", request.address)))?;
        let (coin, amount) =
            coin_and_amount(&sim, wallet.chain_type, request.coin_id, &request.amount)?;
        let balance = wallet.balances.entry(coin.coin_id).or_insert(Decimal::ZERO);
        *balance += amount;
        let balance = *balance;
        let from = request
            .from_address
            .clone()
            .unwrap_or_else(|| new_address(coin.chain_type));
        let hash = request
            .hash
            .clone()
            .unwrap_or_else(|| new_hash(coin.chain_type));
        let recharge = recharge_body(coin, &wallet.address, &from, amount, &hash);
        (coin, recharge, wallet.call_url.clone(), balance)
    };
    let address = recharge["address"].as_str().unwrap_or_default().to_owned();
    let callbacks = recharge_deliveries(&sim, &url, &recharge, request.repeat).await;
    deliver(
        &sim,
        Notification {
            callback_type: CallbackType::Balance,
            url,
            body: balance_body(coin, &address, balance),
        },
    )
    .await;
    Ok(Json(
        json!({ "recharge": recharge, "callbacks": callbacks }),
    ))
}

/// The `recharge` notification once on the schedule, or `1 + repeat` times in a row.
async fn recharge_deliveries(
    sim: &SimState,
    url: &str,
    recharge: &Value,
    repeat: Option<usize>,
) -> Vec<SentCallback> {
    let notification = Notification {
        callback_type: CallbackType::Recharge,
        url: url.to_owned(),
        body: recharge.clone(),
    };
    match repeat.filter(|n| *n > 0) {
        Some(repeat) => deliver_repeatedly(sim, notification, repeat + 1).await,
        None => vec![deliver(sim, notification).await],
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchTransferRequest {
    pub amount: String,
    pub coin_id: Option<i64>,
    pub from_address: Option<String>,
    pub hash: Option<String>,
}

/// A transfer seen on a watch address (§4): its `recharge` notification to the address's
/// `callUrl`. A watch address registered with `/mch/address/add` or made with `type: -2`.
pub async fn watch_transfer(
    State(sim): State<SimState>,
    Path(address): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: WatchTransferRequest = parse(&body)?;
    let (chain_type, url) = {
        let data = sim.data.lock().unwrap();
        data.watch
            .iter()
            .find(|w| super::same_address(&w.address, &address))
            .map(|w| (w.chain_type, w.call_url.clone()))
            .or_else(|| {
                data.wallet(&address)
                    .filter(|w| w.wallet_type == WalletType::Watch)
                    .map(|w| (w.chain_type, w.call_url.clone()))
            })
            .ok_or_else(|| not_found(format!("no watch address {address}")))?
    };
    let (coin, amount) = coin_and_amount(&sim, chain_type, request.coin_id, &request.amount)?;
    let from = request
        .from_address
        .unwrap_or_else(|| new_address(chain_type));
    let hash = request.hash.unwrap_or_else(|| new_hash(chain_type));
    let recharge = recharge_body(coin, &address, &from, amount, &hash);
    let callbacks = recharge_deliveries(&sim, &url, &recharge, None).await;
    Ok(Json(
        json!({ "recharge": recharge, "callbacks": callbacks }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    /// The notification's `message`; `insufficient energy` by default.
    pub message: Option<String>,
}

/// `complete` or `fail` a pending withdrawal (§9): its `transfer` notification (result 1 with a
/// new hash, or 0 with the reserved amount returned) to the collection wallet's `callUrl`, then
/// the wallet's `balance` notification.
pub async fn withdrawal_action(
    State(sim): State<SimState>,
    Path((order_sn, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let success = match action.as_str() {
        "complete" => true,
        "fail" => false,
        other => return Err(not_found(format!("no action {other}"))),
    };
    let request: FailRequest = if body.iter().all(u8::is_ascii_whitespace) {
        FailRequest::default()
    } else {
        parse(&body)?
    };
    let (record, transfer, balance, url) = {
        let mut data = sim.data.lock().unwrap();
        let requests = data.withdraw_requests.get(&order_sn).copied().unwrap_or(1);
        let status = data
            .withdrawal_mut(&order_sn)
            .map(|w| w.status)
            .ok_or_else(|| not_found(format!("no withdrawal {order_sn}")))?;
        if status != WithdrawalStatus::Pending {
            return Err(conflict(format!(
                "withdrawal {order_sn} is {status:?}, not pending"
            )));
        }
        let trade_id = data.next_trade_id();
        let withdrawal = data
            .withdrawal_mut(&order_sn)
            .ok_or_else(|| not_found(format!("no withdrawal {order_sn}")))?;
        let coin = sim
            .coin(withdrawal.coin_id)
            .ok_or_else(|| bad(format!("no coinID {}", withdrawal.coin_id)))?;
        withdrawal.trade_id = Some(trade_id);
        if success {
            withdrawal.status = WithdrawalStatus::Completed;
            withdrawal.hash = Some(new_hash(withdrawal.chain_type));
            withdrawal.message = Some("OK".to_owned());
        } else {
            withdrawal.status = WithdrawalStatus::Failed;
            withdrawal.message = Some(
                request
                    .message
                    .clone()
                    .unwrap_or_else(|| "insufficient energy".to_owned()),
            );
        }
        let withdrawal = withdrawal.clone();
        let transfer = transfer_body(
            coin,
            &Transfer {
                success,
                from: &withdrawal.from,
                to: &withdrawal.to,
                amount: withdrawal.value,
                hash: withdrawal.hash.as_deref().unwrap_or_default(),
                order_sn: &withdrawal.order_sn,
                message: withdrawal.message.as_deref().unwrap_or_default(),
                trade_id,
            },
        );
        let wallet = data
            .wallet_mut(&withdrawal.from)
            .ok_or_else(|| not_found(format!("no collection wallet {}", withdrawal.from)))?;
        let balance = wallet.balances.entry(coin.coin_id).or_insert(Decimal::ZERO);
        if !success {
            *balance += withdrawal.value;
        }
        let balance = balance_body(coin, &wallet.address, *balance);
        (
            withdrawal.to_json(requests),
            transfer,
            balance,
            wallet.call_url.clone(),
        )
    };
    let first = deliver(
        &sim,
        Notification {
            callback_type: CallbackType::Transfer,
            url: url.clone(),
            body: transfer,
        },
    )
    .await;
    deliver(
        &sim,
        Notification {
            callback_type: CallbackType::Balance,
            url,
            body: balance,
        },
    )
    .await;
    Ok(Json(json!({ "withdrawal": record, "callbacks": [first] })))
}

/// Registers a proof that `/mch/address/verify` then accepts (§7).
pub async fn add_proof(
    State(sim): State<SimState>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let proof: Proof = parse(&body)?;
    let mut data = sim.data.lock().unwrap();
    if !data.proofs.contains(&proof) {
        data.proofs.push(proof);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoinDecimals {
    pub coin_id: i64,
    pub decimals: u32,
}

/// What `/mch/coins` reports as a coin's decimals, to differ from the account's (notifications
/// keep the account's).
pub async fn set_coin_decimals(
    State(sim): State<SimState>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let request: CoinDecimals = parse(&body)?;
    if sim.coin(request.coin_id).is_none() {
        return Err(not_found(format!("no coinID {}", request.coin_id)));
    }
    sim.data
        .lock()
        .unwrap()
        .reported_decimals
        .insert(request.coin_id, request.decimals);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundRequest {
    pub amount: String,
    pub coin_id: i64,
}

/// Adds to a collection wallet's balance, with no notification, so that withdrawals can be paid.
pub async fn fund_collection(
    State(sim): State<SimState>,
    Path(address): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let request: FundRequest = parse(&body)?;
    let mut data = sim.data.lock().unwrap();
    let wallet = data
        .wallet_mut(&address)
        .filter(|w| w.wallet_type == WalletType::Collection)
        .ok_or_else(|| not_found(format!("no collection wallet {address}")))?;
    let (coin, amount) = coin_and_amount(
        &sim,
        wallet.chain_type,
        Some(request.coin_id),
        &request.amount,
    )?;
    *wallet.balances.entry(coin.coin_id).or_insert(Decimal::ZERO) += amount;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Consumed one per `/mch/withdraw`.
    #[serde(default)]
    pub withdraw: Vec<WithdrawFault>,
    /// Consumed one per `/mch/address/create`.
    #[serde(default)]
    pub address: Vec<WithdrawFault>,
    /// Consumed one per `/mch/address/pooling`.
    #[serde(default)]
    pub pooling: Vec<PoolingFault>,
    pub stall_ms: Option<u64>,
    pub drop_callbacks: Option<bool>,
}

pub async fn set_faults(
    State(sim): State<SimState>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let faults: Faults = parse(&body)?;
    let mut data = sim.data.lock().unwrap();
    data.withdraw_faults.extend(faults.withdraw);
    data.address_faults.extend(faults.address);
    data.pooling_faults.extend(faults.pooling);
    if let Some(ms) = faults.stall_ms {
        data.stall_ms = ms;
    }
    if let Some(drop_callbacks) = faults.drop_callbacks {
        data.drop_callbacks = drop_callbacks;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Wallets with their balances, sweeps and pooling requests, withdrawals with their requests,
/// watch addresses, proofs, every notification attempt, and how many requests failed
/// authentication.
pub async fn state(State(sim): State<SimState>) -> Json<Value> {
    let data = sim.data.lock().unwrap();
    let wallets: Vec<Value> = data
        .wallets
        .iter()
        .map(|w| {
            let balances: serde_json::Map<String, Value> = sim
                .coins
                .iter()
                .filter(|c| c.chain_type == w.chain_type)
                .map(|c| {
                    (
                        c.coin_id.to_string(),
                        json!(decimal_text(w.balance(c.coin_id))),
                    )
                })
                .collect();
            json!({
                "address": w.address,
                "type": w.wallet_type,
                "chainType": w.chain_type,
                "callUrl": w.call_url,
                "balances": balances,
            })
        })
        .collect();
    let sweeps: Vec<Value> = data.sweeps.iter().map(|s| s.to_json()).collect();
    let pooling_requests: Vec<Value> = data
        .pooling_requests
        .iter()
        .map(|((address, coin_id), count)| {
            json!({ "address": address, "coinID": coin_id, "count": count })
        })
        .collect();
    let withdrawals: Vec<Value> = data
        .withdrawals
        .iter()
        .map(|w| {
            w.to_json(
                data.withdraw_requests
                    .get(&w.order_sn)
                    .copied()
                    .unwrap_or(1),
            )
        })
        .collect();
    let withdraw_requests: Vec<Value> = data
        .withdraw_requests
        .iter()
        .map(|(order_sn, count)| json!({ "order_sn": order_sn, "count": count }))
        .collect();
    Json(json!({
        "wallets": wallets,
        "sweeps": sweeps,
        "pooling_requests": pooling_requests,
        "withdrawals": withdrawals,
        "withdraw_requests": withdraw_requests,
        "watch": data.watch,
        "proofs": data.proofs,
        "callbacks": data.callbacks,
        "refused_requests": data.refused_requests,
    }))
}
