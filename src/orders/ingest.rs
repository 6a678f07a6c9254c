//! Callback ingress (DESIGN §4): store the raw callback, claim each event key, apply the new
//! events, queue notifications, all in one commit (which callbacks arriving at the same moment
//! share, `group_commit`), and only after the commit, acknowledge.

use std::borrow::Cow;

use axum::http::HeaderMap;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::OrderKind;
use crate::domain::text::{escape_nul, first_nul, stored_body};
use crate::orders::addresses::apply_address_change;
use crate::orders::deposits::apply_deposit_event;
use crate::orders::group_commit::CallbackWriter;
use crate::orders::treasury::apply_balance;
use crate::orders::withdrawals::apply_withdrawal_event;
use crate::orders::{EventOutcome, EventResult};
use crate::providers::{EventBody, InvalidEvent, Outcome, Provider, ProviderEvent, RawCallback};
use crate::store::{callbacks, deposits, withdrawals};

/// Headers stored as they arrived; every other header is stored by name with its value redacted,
/// since any of them may carry a credential. Providers add their non-secret signature headers.
const KEPT_HEADERS: [&str; 6] = [
    "content-type",
    "content-length",
    "user-agent",
    "x-forwarded-for",
    "forwarded",
    "x-request-id",
];

/// A call as it is stored: headers redacted, body as storable text (the exact bytes beside an
/// escaped rendering when it is not).
pub struct KeptCall<'a> {
    pub content_type: Option<&'a str>,
    pub headers: serde_json::Value,
    pub body: Cow<'a, str>,
    pub raw_body: Option<&'a [u8]>,
}

impl<'a> KeptCall<'a> {
    pub fn of(provider: &dyn Provider, raw: &'a RawCallback) -> KeptCall<'a> {
        let (body, raw_body) = stored_body(&raw.body);
        KeptCall {
            content_type: raw.content_type(),
            headers: redacted_headers(&raw.headers, provider.kept_headers()),
            body,
            raw_body,
        }
    }

    pub fn record(
        &'a self,
        id: Uuid,
        account_id: &'a str,
        verified: bool,
        outcome: &'a str,
        reject_reason: Option<&'a str>,
        event_count: i32,
    ) -> callbacks::NewCallback<'a> {
        callbacks::NewCallback {
            id,
            account_id,
            content_type: self.content_type,
            headers: &self.headers,
            body: &self.body,
            raw_body: self.raw_body,
            verified,
            outcome,
            reject_reason,
            event_count,
        }
    }
}

/// A verified (or prompted) call and its events, owned, as it waits to be stored.
pub struct PendingCallback {
    pub id: Uuid,
    pub account_id: String,
    pub content_type: Option<String>,
    pub headers: serde_json::Value,
    pub body: String,
    pub raw_body: Option<Vec<u8>>,
    /// Whether the call itself was authenticated (or only prompted the adapter to ask).
    pub verified: bool,
    pub events: Vec<ProviderEvent>,
}

impl PendingCallback {
    pub fn record(&self, outcome: &'static str) -> callbacks::NewCallback<'_> {
        callbacks::NewCallback {
            id: self.id,
            account_id: &self.account_id,
            content_type: self.content_type.as_deref(),
            headers: &self.headers,
            body: &self.body,
            raw_body: self.raw_body.as_deref(),
            verified: self.verified,
            outcome,
            reject_reason: None,
            event_count: self.events.len() as i32,
        }
    }
}

/// Stores a callback's events in one transaction with the raw call, each event once, through
/// `writer` (which may share the transaction with callbacks arriving at the same moment).
/// Text PostgreSQL cannot hold can never be stored: such a call is refused for good (and kept, as
/// refused), never answered "retry later".
pub async fn store_events(
    writer: &CallbackWriter,
    provider: &dyn Provider,
    raw: &RawCallback,
    events: Vec<ProviderEvent>,
    verified: bool,
) -> Result<Outcome, sqlx::Error> {
    let account_id = provider.account_id();
    if let Some(field) = events.iter().find_map(unstorable_field) {
        let reason = format!("invalid callback content: {field} contains a NUL character");
        tracing::warn!(account = account_id, reason = %reason, "callback rejected");
        store_rejected_call(writer.pool(), provider, raw, &reason, verified).await?;
        return Ok(Outcome::Refused);
    }
    let kept = KeptCall::of(provider, raw);
    let pending = PendingCallback {
        id: Uuid::now_v7(),
        account_id: account_id.to_owned(),
        content_type: kept.content_type.map(str::to_owned),
        headers: kept.headers,
        body: kept.body.into_owned(),
        raw_body: kept.raw_body.map(<[u8]>::to_vec),
        verified,
        events,
    };
    writer.store(pending).await
}

/// Stores one pending callback in a transaction of its own.
pub async fn store_alone(pool: &PgPool, pending: &PendingCallback) -> Result<Outcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    callbacks::insert_callback(&mut *tx, &pending.record("processed")).await?;
    let mut new_events = 0;
    for event in &pending.events {
        let account = &pending.account_id;
        if record_event(&mut tx, account, Some(pending.id), "callback", event).await? {
            new_events += 1;
        }
    }
    if new_events == 0 {
        callbacks::set_callback_outcome(&mut tx, pending.id, "duplicate").await?;
    }
    tx.commit().await?;
    Ok(logged_outcome(pending, new_events))
}

/// The callback's outcome once committed, logged.
pub fn logged_outcome(pending: &PendingCallback, new_events: usize) -> Outcome {
    tracing::info!(account = %pending.account_id, callback_id = %pending.id,
        events = pending.events.len(), new_events, "callback stored");
    if new_events == 0 {
        Outcome::Duplicate
    } else {
        Outcome::Stored
    }
}

/// Where an event holds text PostgreSQL cannot store (a NUL character), if anywhere.
fn unstorable_field(event: &ProviderEvent) -> Option<String> {
    first_nul(&serde_json::to_value(event).expect("events serialize"))
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
    // A polled or queried record with unstorable text must not stop its feed: it is kept, escaped,
    // as an invalid event.
    let escaped;
    let event = match unstorable_field(event) {
        Some(field) => {
            escaped = escaped_invalid(event, &field);
            &escaped
        }
        None => event,
    };
    let payload = serde_json::to_value(&event.body).expect("events serialize");
    let order_kind = event.body.kind().as_str();
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
    apply_claimed_event(conn, account_id, source, event, event_id).await?;
    Ok(true)
}

/// Applies an event whose key was just claimed (as `event_id`) and records its outcome.
pub async fn apply_claimed_event(
    conn: &mut PgConnection,
    account_id: &str,
    source: &str,
    event: &ProviderEvent,
    event_id: i64,
) -> Result<(), sqlx::Error> {
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
        EventBody::AddressChanged(change) => apply_address_change(conn, account_id, change).await?,
        EventBody::Balance(balance) => apply_balance(conn, account_id, balance, event_id).await?,
        // The account's own movements (sweeps, gas) and notices: kept, never a merchant's order.
        EventBody::TreasuryTransfer(_) | EventBody::Notice(_) => EventOutcome::recorded(),
    };
    log_unapplied(account_id, event, &outcome);
    callbacks::set_event_outcome(
        conn,
        event_id,
        outcome.result.as_str(),
        outcome.detail.as_deref(),
        outcome.order_id,
    )
    .await
}

/// Says why an event was recorded and not applied, if it was not.
pub fn log_unapplied(account_id: &str, event: &ProviderEvent, outcome: &EventOutcome) {
    match outcome.result {
        EventResult::Applied | EventResult::Recorded => {}
        other => {
            tracing::warn!(account = account_id, event_key = %event.event_key, outcome = other.as_str(),
                detail = outcome.detail.as_deref().unwrap_or(""), "event recorded, not applied");
        }
    }
}

/// `event` as an invalid event whose identifying texts have their NULs escaped.
fn escaped_invalid(event: &ProviderEvent, field: &str) -> ProviderEvent {
    let request_id = match &event.body {
        EventBody::Withdrawal(w) => Some(w.request_id.as_str()),
        EventBody::Invalid(i) => i.request_id.as_deref(),
        _ => None,
    };
    ProviderEvent {
        event_key: escape_nul(&event.event_key).into_owned(),
        provider_ref: escape_nul(&event.provider_ref).into_owned(),
        provider_status: escape_nul(&event.provider_status).into_owned(),
        body: EventBody::Invalid(InvalidEvent {
            about: event.body.kind(),
            request_id: request_id.map(|r| escape_nul(r).into_owned()),
            reason: format!("{} contains a NUL character", escape_nul(field)),
        }),
    }
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
    let order_id = match invalid.about.order_kind() {
        None => None,
        Some(OrderKind::Deposit) => {
            let row = deposits::lock_by_provider_ref(conn, account_id, provider_ref).await?;
            if let Some(row) = &row {
                deposits::flag_for_review(conn, row.id, &reason).await?;
            }
            row.map(|r| r.id)
        }
        Some(OrderKind::Withdrawal) => {
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
    provider: &dyn Provider,
    raw: &RawCallback,
    reason: &str,
    verified: bool,
) -> Result<(), sqlx::Error> {
    store_unapplied_call(pool, provider, raw, "rejected", reason, verified).await
}

/// Keeps an unverified call that was over its account's limit (and so not asked about), for ops.
pub async fn store_limited_call(
    pool: &PgPool,
    provider: &dyn Provider,
    raw: &RawCallback,
    reason: &str,
) -> Result<(), sqlx::Error> {
    store_unapplied_call(pool, provider, raw, "limited", reason, false).await
}

async fn store_unapplied_call(
    pool: &PgPool,
    provider: &dyn Provider,
    raw: &RawCallback,
    outcome: &str,
    reason: &str,
    verified: bool,
) -> Result<(), sqlx::Error> {
    let kept = KeptCall::of(provider, raw);
    let reason = escape_nul(reason);
    let record = kept.record(
        Uuid::now_v7(),
        provider.account_id(),
        verified,
        outcome,
        Some(&reason),
        0,
    );
    callbacks::insert_callback(pool, &record).await
}

pub fn redacted_headers(headers: &HeaderMap, provider_kept: &[&str]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        let text = if KEPT_HEADERS.contains(&name) || provider_kept.contains(&name) {
            escape_nul(&String::from_utf8_lossy(value.as_bytes())).into_owned()
        } else {
            "[redacted]".to_owned()
        };
        map.insert(name.to_owned(), serde_json::Value::String(text));
    }
    serde_json::Value::Object(map)
}
