//! Pay Protocol's callbacks (payprotocol.md C5): the record as JSON, `POST`ed with `X-PAY-KEY`,
//! `X-PAY-TIMESTAMP` and `X-PAY-SIGN`, accepted only on HTTP 200 with the body `success`, and sent
//! again on the resend schedule until then.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::{CallbackSigning, SimState};
use crate::providers::payprotocol::sign::{KEY_HEADER, SIGN_HEADER, TIMESTAMP_HEADER, pay_sign};

/// What a callback is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    Recharge,
    Withdraw,
}

/// One attempt at a callback, with what the gateway answered.
#[derive(Debug, Clone, Serialize)]
pub struct SentCallback {
    pub kind: CallbackKind,
    /// `rechargeId` or `withdrawId`.
    pub id: i64,
    pub url: String,
    /// `X-PAY-TIMESTAMP`, Unix seconds of the simulator's clock.
    pub timestamp: i64,
    pub body: Value,
    /// The HTTP status of the gateway's answer, 0 when there was none.
    pub status: u16,
    pub reply: String,
    /// HTTP 200 with the body exactly `success`.
    pub accepted: bool,
    /// 1 for the first send.
    pub attempt: usize,
    /// Not sent at all (the `drop_callbacks` fault, or no URL to send to).
    pub dropped: bool,
}

/// Sends a record's callback: the first attempt now (returned, empty when none was made), the
/// resends on the schedule in the background, stopping at the first accepted reply.
pub async fn deliver(
    sim: &SimState,
    kind: CallbackKind,
    id: i64,
    url: Option<String>,
    body: Value,
) -> Vec<SentCallback> {
    let drop_callbacks = sim.data.lock().unwrap().drop_callbacks;
    let Some(url) = url.filter(|_| !drop_callbacks) else {
        let dropped = SentCallback {
            kind,
            id,
            url: String::new(),
            timestamp: sim.now(),
            body,
            status: 0,
            reply: if drop_callbacks {
                "dropped".to_owned()
            } else {
                "no callback URL: the simulator does not run inside a gateway".to_owned()
            },
            accepted: false,
            attempt: 1,
            dropped: true,
        };
        sim.data.lock().unwrap().callbacks.push(dropped.clone());
        return vec![dropped];
    };
    let mut delays = sim.schedule.clone().into_iter();
    if let Some(first) = delays.next().filter(|d| !d.is_zero()) {
        tokio::time::sleep(first).await;
    }
    let first = send_once(sim, kind, id, &url, &body, 1).await;
    if !first.accepted {
        let sim = Arc::clone(sim);
        tokio::spawn(async move {
            for (index, delay) in delays.enumerate() {
                tokio::time::sleep(delay).await;
                if send_once(&sim, kind, id, &url, &body, index + 2)
                    .await
                    .accepted
                {
                    break;
                }
            }
        });
    }
    vec![first]
}

/// Sends the whole delivery in the background (a callback asked for through the API).
pub fn deliver_later(
    sim: &SimState,
    kind: CallbackKind,
    id: i64,
    url: Option<String>,
    body: Value,
) {
    let sim = Arc::clone(sim);
    tokio::spawn(async move {
        deliver(&sim, kind, id, url, body).await;
    });
}

async fn send_once(
    sim: &SimState,
    kind: CallbackKind,
    id: i64,
    url: &str,
    body: &Value,
    attempt: usize,
) -> SentCallback {
    let timestamp = sim.now();
    let text = body.to_string();
    let signing = sim.data.lock().unwrap().callback_signing;
    let sign = callback_sign(sim, signing, &timestamp.to_string(), url, &text);
    let result = sim
        .http
        .post(url)
        .header("content-type", "application/json")
        .header(KEY_HEADER, &sim.api_key)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGN_HEADER, sign)
        .body(text)
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
        kind,
        id,
        url: url.to_owned(),
        timestamp,
        body: body.clone(),
        status,
        accepted: status == 200 && reply == "success",
        reply,
        attempt,
        dropped: false,
    };
    sim.data.lock().unwrap().callbacks.push(sent.clone());
    sent
}

/// `X-PAY-SIGN` of a callback to `url`, per the `callback_signing` fault.
fn callback_sign(
    sim: &SimState,
    signing: CallbackSigning,
    timestamp: &str,
    url: &str,
    body: &str,
) -> String {
    let (path, query) = match url::Url::parse(url) {
        Ok(parsed) => (parsed.path().to_owned(), parsed.query().map(str::to_owned)),
        Err(_) => (url.to_owned(), None),
    };
    let path_and_query = match &query {
        Some(query) => format!("{path}?{query}"),
        None => path.clone(),
    };
    match signing {
        CallbackSigning::Normal => {
            pay_sign(&sim.api_secret, timestamp, "POST", &path_and_query, body)
        }
        CallbackSigning::PathOnly => pay_sign(&sim.api_secret, timestamp, "POST", &path, body),
        CallbackSigning::WrongSecret => {
            let other = format!("not-{}", sim.api_secret);
            pay_sign(&other, timestamp, "POST", &path_and_query, body)
        }
    }
}
