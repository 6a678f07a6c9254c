//! Callback ingress (DESIGN §4): one transaction per callback — store the raw callback, claim each
//! event key, apply the new events, queue notifications — and only after the commit, acknowledge.

use axum::http::HeaderMap;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::OrderKind;
use crate::orders::EventOutcome;
use crate::orders::deposits::apply_deposit_event;
use crate::orders::withdrawals::apply_withdrawal_event;
use crate::providers::{AckResult, EventBody, InvalidEvent, Provider, ProviderEvent, RawCallback};
use crate::store::{callbacks, deposits, withdrawals};

/// Headers that may carry credentials are not stored.
const REDACTED_HEADERS: [&str; 5] = [
    "authorization",
    "cookie",
    "x-api-key",
    "x-pay-key",
    "proxy-authorization",
];

pub async fn ingest_callback(
    pool: &PgPool,
    provider: &dyn Provider,
    raw: &RawCallback,
) -> AckResult {
    let account_id = provider.account_id();
    let result = match store_callback(pool, provider, raw).await {
        Ok(result) => result,
        Err(err) => {
            tracing::error!(account = account_id, error = %err, "callback could not be stored; asking the provider to retry");
            AckResult::RetryLater
        }
    };
    let label = match result {
        AckResult::Processed => "processed",
        AckResult::Rejected => "rejected",
        AckResult::RetryLater => "retry_later",
    };
    metrics::counter!("custody_callbacks_total", "account" => account_id.to_owned(), "result" => label)
        .increment(1);
    result
}

async fn store_callback(
    pool: &PgPool,
    provider: &dyn Provider,
    raw: &RawCallback,
) -> Result<AckResult, sqlx::Error> {
    let account_id = provider.account_id();
    let headers = redacted_headers(&raw.headers);
    let body = String::from_utf8_lossy(&raw.body);
    let callback_id = Uuid::now_v7();
    let mut record = callbacks::NewCallback {
        id: callback_id,
        account_id,
        content_type: raw.content_type(),
        headers: &headers,
        body: &body,
        verified: false,
        outcome: "rejected",
        reject_reason: None,
        event_count: 0,
    };

    let events = match provider.parse_callback(raw) {
        Ok(events) => events,
        Err(err) => {
            let reason = err.to_string();
            tracing::warn!(account = account_id, callback_id = %callback_id, reason = %reason, "callback rejected");
            store_rejected_call(pool, account_id, raw, &reason, err.signature_verified()).await?;
            return Ok(AckResult::Rejected);
        }
    };

    let mut tx = pool.begin().await?;
    record.verified = true;
    record.outcome = "processed";
    record.event_count = events.len() as i32;
    callbacks::insert_callback(&mut *tx, &record).await?;
    let mut new_events = 0;
    for event in &events {
        if record_event(&mut tx, account_id, Some(callback_id), "callback", event).await? {
            new_events += 1;
        }
    }
    if new_events == 0 {
        callbacks::set_callback_outcome(&mut tx, callback_id, "duplicate").await?;
    }
    tx.commit().await?;
    tracing::info!(account = account_id, callback_id = %callback_id, events = events.len(), new_events, "callback stored");
    Ok(AckResult::Processed)
}

/// [`record_event`] in a transaction of its own, for an event learnt by asking (a poll, a status
/// query, an operator) rather than from a callback.
pub async fn record_asked_event(
    pool: &PgPool,
    account_id: &str,
    source: &str,
    event: &ProviderEvent,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let new = record_event(&mut tx, account_id, None, source, event).await?;
    tx.commit().await?;
    Ok(new)
}

/// Claims the event's key and applies it; false when the key was already taken (a duplicate).
pub async fn record_event(
    conn: &mut PgConnection,
    account_id: &str,
    callback_id: Option<Uuid>,
    source: &str,
    event: &ProviderEvent,
) -> Result<bool, sqlx::Error> {
    let payload = serde_json::to_value(&event.body).expect("events serialize");
    let order_kind = event.body.order_kind().as_str();
    let claimed = callbacks::insert_event(
        conn,
        &callbacks::NewEvent {
            account_id,
            event_key: &event.event_key,
            callback_id,
            source,
            order_kind,
            provider_ref: &event.provider_ref,
            provider_status: &event.provider_status,
            payload: &payload,
        },
    )
    .await?;
    let Some(event_id) = claimed else {
        return Ok(false);
    };
    let outcome: EventOutcome = match &event.body {
        EventBody::Deposit(deposit) => {
            apply_deposit_event(
                conn,
                account_id,
                &event.provider_ref,
                deposit,
                event_id,
                source,
            )
            .await?
        }
        EventBody::Withdrawal(withdrawal) => {
            apply_withdrawal_event(
                conn,
                account_id,
                &event.provider_ref,
                withdrawal,
                event_id,
                source,
            )
            .await?
        }
        EventBody::Invalid(invalid) => {
            flag_order_of_invalid_event(conn, account_id, &event.provider_ref, invalid).await?
        }
    };
    if outcome.outcome != "applied" {
        tracing::warn!(account = account_id, event_key = %event.event_key, outcome = outcome.outcome,
            detail = outcome.detail.as_deref().unwrap_or(""), "event recorded, not applied");
    }
    callbacks::set_event_outcome(
        conn,
        event_id,
        outcome.outcome,
        outcome.detail.as_deref(),
        outcome.order_id,
    )
    .await?;
    Ok(true)
}

/// An event that cannot be applied puts the order it names, if we have one, under review.
async fn flag_order_of_invalid_event(
    conn: &mut PgConnection,
    account_id: &str,
    provider_ref: &str,
    invalid: &InvalidEvent,
) -> Result<EventOutcome, sqlx::Error> {
    let reason = format!(
        "provider reported what cannot be applied: {}",
        invalid.reason
    );
    let order_id = match invalid.order_kind {
        OrderKind::Deposit => {
            let row = deposits::lock_by_provider_ref(conn, account_id, provider_ref).await?;
            if let Some(row) = &row {
                deposits::flag_for_review(conn, row.id, &reason).await?;
            }
            row.map(|r| r.id)
        }
        OrderKind::Withdrawal => {
            let row = match invalid.request_id.as_deref() {
                Some(request_id) => {
                    withdrawals::lock_by_request_id(conn, account_id, request_id).await?
                }
                None => None,
            };
            if let Some(row) = &row {
                withdrawals::flag_for_review(conn, row.id, &reason).await?;
            }
            row.map(|r| r.id)
        }
    };
    Ok(EventOutcome::invalid(order_id, invalid.reason.clone()))
}

/// Keeps a refused call as received, with the reason, for ops.
pub async fn store_rejected_call(
    pool: &PgPool,
    account_id: &str,
    raw: &RawCallback,
    reason: &str,
    verified: bool,
) -> Result<(), sqlx::Error> {
    let headers = redacted_headers(&raw.headers);
    callbacks::insert_callback(
        pool,
        &callbacks::NewCallback {
            id: Uuid::now_v7(),
            account_id,
            content_type: raw.content_type(),
            headers: &headers,
            body: &String::from_utf8_lossy(&raw.body),
            verified,
            outcome: "rejected",
            reject_reason: Some(reason),
            event_count: 0,
        },
    )
    .await
}

pub fn redacted_headers(headers: &HeaderMap) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (name, value) in headers {
        let text = if REDACTED_HEADERS.contains(&name.as_str()) {
            "[redacted]".to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        map.insert(name.as_str().to_owned(), serde_json::Value::String(text));
    }
    serde_json::Value::Object(map)
}
