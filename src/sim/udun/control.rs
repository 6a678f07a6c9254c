//! The simulator's control API: make deposits happen and move withdrawals, each reaching the gateway
//! as a callback signed exactly as Udun signs it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{SimState, WithdrawFault, coins, signed_callback_form};

type ControlError = (StatusCode, String);

fn bad(message: impl Into<String>) -> ControlError {
    (StatusCode::BAD_REQUEST, message.into())
}

/// What the simulator sent, and how the gateway answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentCallback {
    pub url: String,
    /// The form body exactly as posted, so that a test can deliver it again byte for byte.
    pub form: String,
    /// The signed business JSON inside it.
    pub body: String,
    pub trade_id: String,
    pub status: Option<u16>,
    pub response: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DepositRequest {
    pub address: String,
    /// In whole units ("0.5"); or give `amount_units` in the smallest unit.
    pub amount: Option<String>,
    pub amount_units: Option<String>,
    /// Defaults to the address's main coin; a token's contract address for tokens.
    pub coin_type: Option<String>,
    /// Udun status, 3 (success) by default.
    pub status: Option<u8>,
    pub trade_id: Option<String>,
    pub tx_id: Option<String>,
    pub fee_units: Option<String>,
    /// Build and sign the callback but do not send it.
    #[serde(default)]
    pub hold: bool,
    /// For an address the simulator did not create: whose it is and where to call.
    pub merchant_id: Option<String>,
    pub main_coin_type: Option<String>,
    pub call_url: Option<String>,
}

pub async fn deposit(
    State(sim): State<SimState>,
    Json(request): Json<DepositRequest>,
) -> Result<Json<SentCallback>, ControlError> {
    let known = sim
        .data
        .lock()
        .unwrap()
        .addresses
        .get(&request.address)
        .cloned();
    let (merchant_id, main_coin_type, call_url) = match known {
        Some(a) => (a.merchant_id, a.main_coin_type, a.call_url),
        None => unknown_address_owner(&sim, &request)?,
    };
    let coin_type = request
        .coin_type
        .clone()
        .unwrap_or_else(|| main_coin_type.clone());
    let coin = coins::find(&main_coin_type, &coin_type).ok_or_else(|| bad("unknown coin"))?;
    let units = match (&request.amount_units, &request.amount) {
        (Some(units), _) => units.clone(),
        (None, Some(amount)) => to_units(amount, coin.decimals)?,
        (None, None) => return Err(bad("give amount or amount_units")),
    };
    let trade_id = request
        .trade_id
        .clone()
        .unwrap_or_else(|| sim.next_trade_id());
    let body = json!({
        "address": request.address,
        "amount": units,
        "blockHigh": "102419",
        "businessId": "",
        "coinType": coin.coin_type,
        "decimals": coin.decimals.to_string(),
        "fee": request.fee_units.clone().unwrap_or_else(|| "0".into()),
        "mainCoinType": main_coin_type,
        "memo": "",
        "status": request.status.unwrap_or(3),
        "tradeId": trade_id,
        "tradeType": 1,
        "txId": request.tx_id.clone().unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>())),
    })
    .to_string();
    let sent = send(&sim, &merchant_id, &call_url, body, trade_id, !request.hold).await?;
    Ok(Json(sent))
}

/// Who an address the simulator did not create belongs to: as the request says, or else the single
/// account of the gateway it runs inside, on the chain the address's form suggests.
fn unknown_address_owner(
    sim: &SimState,
    request: &DepositRequest,
) -> Result<(String, String, String), ControlError> {
    let fallback = (sim.gateway_callbacks.len() == 1)
        .then(|| sim.gateway_callbacks.iter().next())
        .flatten();
    let merchant_id = request
        .merchant_id
        .clone()
        .or_else(|| fallback.map(|(m, _)| m.clone()));
    let call_url = request
        .call_url
        .clone()
        .or_else(|| fallback.map(|(_, url)| url.clone()));
    let main_coin_type = request
        .main_coin_type
        .clone()
        .unwrap_or_else(|| coins::main_coin_type_of(&request.address).to_owned());
    match (merchant_id, call_url) {
        (Some(merchant_id), Some(call_url)) => Ok((merchant_id, main_coin_type, call_url)),
        _ => Err(bad(
            "unknown address: create it first, or give merchant_id, main_coin_type and call_url",
        )),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ActionBody {
    pub tx_id: Option<String>,
    pub fee_units: Option<String>,
    /// Report a different amount (smallest units) or address than requested: a tampered callback.
    pub amount_units: Option<String>,
    pub address: Option<String>,
    #[serde(default)]
    pub hold: bool,
}

/// `approve` (1), `reject` (2), `complete` (3), `fail` (4), `review` (0): sets the status and sends
/// the matching callback. Any order is allowed, so that late and repeated callbacks can be tested.
pub async fn withdrawal_action(
    State(sim): State<SimState>,
    Path((business_id, action)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Json<SentCallback>, ControlError> {
    let options: ActionBody = if raw.is_empty() {
        ActionBody::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| bad(format!("body: {e}")))?
    };
    let status: u8 = match action.as_str() {
        "review" => 0,
        "approve" => 1,
        "reject" => 2,
        "complete" => 3,
        "fail" => 4,
        other => return Err(bad(format!("unknown action {other:?}"))),
    };
    let withdrawal = {
        let mut data = sim.data.lock().unwrap();
        let withdrawal = data
            .withdrawals
            .get_mut(&business_id)
            .ok_or((StatusCode::NOT_FOUND, "no such withdrawal".to_owned()))?;
        withdrawal.status = status;
        withdrawal.clone()
    };
    let coin = coins::find(&withdrawal.main_coin_type, &withdrawal.coin_type)
        .ok_or_else(|| bad("unknown coin"))?;
    let units = match options.amount_units {
        Some(units) => units,
        None => to_units(&withdrawal.amount, coin.decimals)?,
    };
    let tx_id = match (status, options.tx_id) {
        (_, Some(tx)) => tx,
        (3, None) => hex::encode(rand::random::<[u8; 32]>()),
        _ => String::new(),
    };
    let fee = options.fee_units.unwrap_or_else(|| {
        if status == 3 {
            "1000".into()
        } else {
            "0".into()
        }
    });
    let body = json!({
        "address": options.address.unwrap_or(withdrawal.address),
        "amount": units,
        "blockHigh": if status == 3 { "102420" } else { "-1" },
        "businessId": withdrawal.business_id,
        "coinType": withdrawal.coin_type,
        "decimals": coin.decimals.to_string(),
        "fee": fee,
        "mainCoinType": withdrawal.main_coin_type,
        "memo": withdrawal.memo.unwrap_or_default(),
        "status": status,
        "tradeId": withdrawal.trade_id,
        "tradeType": 2,
        "txId": tx_id,
    })
    .to_string();
    let sent = send(
        &sim,
        &withdrawal.merchant_id,
        &withdrawal.call_url,
        body,
        withdrawal.trade_id,
        !options.hold,
    )
    .await?;
    Ok(Json(sent))
}

pub async fn list_withdrawals(State(sim): State<SimState>) -> Json<Vec<super::SimWithdrawal>> {
    let mut list: Vec<_> = sim
        .data
        .lock()
        .unwrap()
        .withdrawals
        .values()
        .cloned()
        .collect();
    list.sort_by(|a, b| a.trade_id.cmp(&b.trade_id));
    Json(list)
}

#[derive(Debug, Deserialize)]
pub struct Faults {
    /// Applied to the next withdraw requests, one each, in order.
    #[serde(default)]
    pub withdraw: Vec<WithdrawFault>,
    pub stall_ms: Option<u64>,
}

pub async fn set_faults(State(sim): State<SimState>, Json(faults): Json<Faults>) -> StatusCode {
    let mut data = sim.data.lock().unwrap();
    data.withdraw_faults.extend(faults.withdraw);
    if let Some(ms) = faults.stall_ms {
        data.stall_ms = ms;
    }
    StatusCode::NO_CONTENT
}

/// Whole units to the smallest unit, refusing anything that is not an exact integer count.
fn to_units(amount: &str, decimals: u32) -> Result<String, ControlError> {
    let value: Decimal = amount
        .parse()
        .map_err(|_| bad(format!("amount {amount:?} is not a decimal")))?;
    let units = value * Decimal::from(10u64.pow(decimals.min(19)));
    let units = if decimals > 19 {
        units * Decimal::from(10u64.pow(decimals - 19))
    } else {
        units
    };
    if units.fract() != Decimal::ZERO || units < Decimal::ZERO {
        return Err(bad(format!(
            "amount {amount:?} has more than {decimals} decimals"
        )));
    }
    Ok(units.trunc().to_string())
}

async fn send(
    sim: &SimState,
    merchant_id: &str,
    url: &str,
    body: String,
    trade_id: String,
    deliver: bool,
) -> Result<SentCallback, ControlError> {
    let key = sim
        .api_key(merchant_id)
        .ok_or_else(|| bad("unknown merchant"))?;
    let form = signed_callback_form(&body, key.expose_secret());
    let mut sent = SentCallback {
        url: url.to_owned(),
        form,
        body,
        trade_id,
        status: None,
        response: None,
    };
    if deliver {
        let response = sim
            .http
            .post(url)
            .header(
                axum::http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(sent.form.clone())
            .send()
            .await
            .map_err(|e| {
                (
                    StatusCode::BAD_GATEWAY,
                    format!("callback not delivered: {e}"),
                )
            })?;
        sent.status = Some(response.status().as_u16());
        sent.response = response.text().await.ok();
    }
    Ok(sent)
}
