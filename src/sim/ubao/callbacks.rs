//! UBAO's notifications (seed 003 §0.5, §8–§10): a form of exactly `body` (standard Base64 of the
//! JSON), `nonce`, `timestamp` and `sign`, `POST`ed to the address's `callUrl`, accepted only on
//! HTTP 200 with the body `SUCCESS`, and sent again on the resend schedule until then (§8.5).

use std::sync::Arc;

use rand::Rng;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{SimCoin, SimState, to_units};
use crate::providers::ubao::sign::{encode_body, ubao_sign};

/// `callbackType` (§0.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackType {
    Recharge,
    Transfer,
    Balance,
}

/// The four form fields of a notification, as sent (§0.5.1).
#[derive(Debug, Clone, Serialize)]
pub struct CallbackFields {
    pub body: String,
    pub nonce: String,
    pub timestamp: String,
    pub sign: String,
}

/// One attempt at a notification, with what the gateway answered.
#[derive(Debug, Clone, Serialize)]
pub struct SentCallback {
    pub callback_type: CallbackType,
    pub url: String,
    pub fields: CallbackFields,
    /// `body` decoded.
    pub body: Value,
    /// The HTTP status of the gateway's answer, 0 when there was none.
    pub status: u16,
    pub reply: String,
    /// HTTP 200 with the body exactly `SUCCESS` (§8.4).
    pub accepted: bool,
    /// 1 for the first send.
    pub attempt: usize,
    /// Not sent at all (the `drop_callbacks` fault, or an address without a `callUrl`).
    pub dropped: bool,
}

/// A notification to send: its type, the `callUrl` it goes to, and its JSON.
pub struct Notification {
    pub callback_type: CallbackType,
    pub url: String,
    pub body: Value,
}

/// The `recharge` notification (§8.3) of `amount` arriving at `address`.
pub fn recharge_body(
    coin: &SimCoin,
    address: &str,
    from_address: &str,
    amount: Decimal,
    hash: &str,
) -> Value {
    json!({
        "callbackType": "recharge",
        "amount": to_units(amount, coin.decimals),
        "decimals": coin.decimals,
        "address": address,
        "chainType": coin.chain_type,
        "coinType": coin.coin_type(),
        "coinID": coin.coin_id,
        "hash": hash,
        "fromAddress": from_address,
        "coinName": coin.coin_name,
    })
}

/// What a `transfer` notification (§9.3) reports.
pub struct Transfer<'a> {
    pub success: bool,
    pub from: &'a str,
    pub to: &'a str,
    pub amount: Decimal,
    pub hash: &'a str,
    /// Empty for a sweep, which no order asked for.
    pub order_sn: &'a str,
    pub message: &'a str,
    pub trade_id: i64,
}

/// The `transfer` notification (§9.3). `chainType` is a string there, as the seed's table types it.
pub fn transfer_body(coin: &SimCoin, transfer: &Transfer<'_>) -> Value {
    json!({
        "callbackType": "transfer",
        "result": if transfer.success { 1 } else { 0 },
        "amount": to_units(transfer.amount, coin.decimals),
        "decimals": coin.decimals,
        "coinID": coin.coin_id,
        "coinName": coin.coin_name,
        "address": transfer.from,
        "toAddress": transfer.to,
        "coinType": coin.coin_type(),
        "hash": transfer.hash,
        "order_sn": transfer.order_sn,
        "chain": coin.notify_chain(),
        "chainType": coin.chain_type.to_string(),
        "message": transfer.message,
        "tradeId": transfer.trade_id,
    })
}

/// The `balance` notification (§10.3): `address`'s latest balance of the coin.
pub fn balance_body(coin: &SimCoin, address: &str, balance: Decimal) -> Value {
    json!({
        "callbackType": "balance",
        "address": address,
        "amount": to_units(balance, coin.decimals),
        "decimals": coin.decimals,
        "coinID": coin.coin_id,
        "coinName": coin.coin_name,
        "coinType": coin.coin_type(),
        "chainType": coin.chain_type,
    })
}

/// Sends a notification: the first attempt now (returned), the resends in the background at their
/// offsets from now, stopping at the first accepted reply and giving up after the last.
pub async fn deliver(sim: &SimState, notification: Notification) -> SentCallback {
    let start = Instant::now();
    let Notification {
        callback_type,
        url,
        body,
    } = notification;
    if let Some(dropped) = dropped(sim, callback_type, &url, &body) {
        return dropped;
    }
    let mut offsets = sim.schedule.clone().into_iter();
    if let Some(first) = offsets.next() {
        tokio::time::sleep_until(start + first).await;
    }
    let first = send_once(sim, callback_type, &url, &body, 1).await;
    if !first.accepted {
        let sim = Arc::clone(sim);
        tokio::spawn(async move {
            for (index, offset) in offsets.enumerate() {
                tokio::time::sleep_until(start + offset).await;
                if send_once(&sim, callback_type, &url, &body, index + 2)
                    .await
                    .accepted
                {
                    break;
                }
            }
        });
    }
    first
}

/// Sends the same notification `times` times in a row, whatever the replies, as UBAO's own
/// resends would arrive; no further resends.
pub async fn deliver_repeatedly(
    sim: &SimState,
    notification: Notification,
    times: usize,
) -> Vec<SentCallback> {
    let Notification {
        callback_type,
        url,
        body,
    } = notification;
    if let Some(dropped) = dropped(sim, callback_type, &url, &body) {
        return vec![dropped];
    }
    let mut sent = Vec::with_capacity(times);
    for attempt in 1..=times {
        sent.push(send_once(sim, callback_type, &url, &body, attempt).await);
    }
    sent
}

/// Sends notifications one after another in the background (those a merchant API call causes).
pub fn deliver_later(sim: &SimState, notifications: Vec<Notification>) {
    let sim = Arc::clone(sim);
    tokio::spawn(async move {
        for notification in notifications {
            deliver(&sim, notification).await;
        }
    });
}

/// The record of a notification that is not sent: the `drop_callbacks` fault, or no `callUrl`.
fn dropped(
    sim: &SimState,
    callback_type: CallbackType,
    url: &str,
    body: &Value,
) -> Option<SentCallback> {
    let drop_callbacks = sim.data.lock().unwrap().drop_callbacks;
    if !drop_callbacks && !url.is_empty() {
        return None;
    }
    let record = SentCallback {
        callback_type,
        url: url.to_owned(),
        fields: signed_fields(sim, body),
        body: body.clone(),
        status: 0,
        reply: if drop_callbacks {
            "dropped".to_owned()
        } else {
            "no callUrl for this address".to_owned()
        },
        accepted: false,
        attempt: 1,
        dropped: true,
    };
    sim.data.lock().unwrap().callbacks.push(record.clone());
    Some(record)
}

/// The form fields for `body`: a fresh 6-digit nonce and the current Unix seconds (§0.5.1).
fn signed_fields(sim: &SimState, body: &Value) -> CallbackFields {
    let encoded = encode_body(body);
    let nonce = rand::rng().random_range(100_000..=999_999u32).to_string();
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let sign = ubao_sign(&encoded, &sim.api_key, &nonce, &timestamp);
    CallbackFields {
        body: encoded,
        nonce,
        timestamp,
        sign,
    }
}

async fn send_once(
    sim: &SimState,
    callback_type: CallbackType,
    url: &str,
    body: &Value,
    attempt: usize,
) -> SentCallback {
    let fields = signed_fields(sim, body);
    let result = sim
        .http
        .post(url)
        .form(&[
            ("body", fields.body.as_str()),
            ("nonce", fields.nonce.as_str()),
            ("timestamp", fields.timestamp.as_str()),
            ("sign", fields.sign.as_str()),
        ])
        .send()
        .await;
    let (status, reply) = match result {
        Ok(response) => (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        ),
        Err(err) => (0, err.to_string()),
    };
    let sent = SentCallback {
        callback_type,
        url: url.to_owned(),
        fields,
        body: body.clone(),
        status,
        accepted: status == 200 && reply == "SUCCESS",
        reply,
        attempt,
        dropped: false,
    };
    sim.data.lock().unwrap().callbacks.push(sent.clone());
    sent
}
