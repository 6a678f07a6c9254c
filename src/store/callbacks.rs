//! Raw provider callbacks (audit) and the normalized events they carry.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// The outcome of nearly every event, which `provider_events_unapplied` leaves out.
const APPLIED: &str = "applied";

/// The outcomes of the few callbacks `provider_callbacks_refused` holds.
const REFUSED: [&str; 2] = ["rejected", "limited"];

pub struct NewCallback<'a> {
    pub id: Uuid,
    pub account_id: &'a str,
    pub content_type: Option<&'a str>,
    pub headers: &'a serde_json::Value,
    pub body: &'a str,
    /// The exact bytes, when `body` is an escaped rendering of a body that is not storable text.
    pub raw_body: Option<&'a [u8]>,
    pub verified: bool,
    pub outcome: &'a str,
    pub reject_reason: Option<&'a str>,
    pub event_count: i32,
}

pub async fn insert_callback(
    db: impl PgExecutor<'_>,
    new: &NewCallback<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO provider_callbacks (id, account_id, content_type, headers, body, verified, outcome,
                                         reject_reason, event_count, raw_body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new.id)
    .bind(new.account_id)
    .bind(new.content_type)
    .bind(sqlx::types::Json(new.headers))
    .bind(new.body)
    .bind(new.verified)
    .bind(new.outcome)
    .bind(new.reject_reason)
    .bind(new.event_count)
    .bind(new.raw_body)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_callback_outcome(
    conn: &mut PgConnection,
    id: Uuid,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE provider_callbacks SET outcome = $2 WHERE id = $1")
        .bind(id)
        .bind(outcome)
        .execute(conn)
        .await?;
    Ok(())
}

pub struct NewEvent<'a> {
    pub account_id: &'a str,
    pub event_key: &'a str,
    pub callback_id: Option<Uuid>,
    pub source: &'a str,
    pub order_kind: &'a str,
    pub provider_ref: &'a str,
    pub provider_status: &'a str,
    pub payload: &'a serde_json::Value,
}

/// Claims the event key; `None` when an earlier or concurrent delivery already holds it.
pub async fn insert_event(
    conn: &mut PgConnection,
    new: &NewEvent<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO provider_events (account_id, event_key, callback_id, source, order_kind, provider_ref,
                                      provider_status, payload, outcome)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')
         ON CONFLICT ON CONSTRAINT provider_events_key_unique DO NOTHING
         RETURNING id",
    )
    .bind(new.account_id)
    .bind(new.event_key)
    .bind(new.callback_id)
    .bind(new.source)
    .bind(new.order_kind)
    .bind(new.provider_ref)
    .bind(new.provider_status)
    .bind(sqlx::types::Json(new.payload))
    .fetch_optional(conn)
    .await
}

/// What became of an event already recorded under `event_key`.
pub async fn event_outcome(
    conn: &mut PgConnection,
    account_id: &str,
    event_key: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT outcome FROM provider_events WHERE account_id = $1 AND event_key = $2",
    )
    .bind(account_id)
    .bind(event_key)
    .fetch_optional(conn)
    .await
}

pub async fn set_event_outcome(
    conn: &mut PgConnection,
    id: i64,
    outcome: &str,
    detail: Option<&str>,
    order_id: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE provider_events SET outcome = $2, outcome_detail = $3, order_id = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(outcome)
    .bind(detail)
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A provider callback as received, credentials redacted.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CallbackRow {
    pub id: Uuid,
    pub account_id: String,
    pub received_at: DateTime<Utc>,
    pub content_type: Option<String>,
    /// Each header by name; values outside the harmless ones are `[redacted]`.
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// The body as received; an escaped rendering when it is not storable text.
    pub body: String,
    /// Base64 of the exact bytes, when `body` is an escaped rendering.
    #[serde(serialize_with = "base64_bytes")]
    #[schema(value_type = Option<String>)]
    pub raw_body: Option<Vec<u8>>,
    pub verified: bool,
    /// `processed`, `duplicate` or `rejected`.
    pub outcome: String,
    pub reject_reason: Option<String>,
    pub event_count: i32,
}

fn base64_bytes<S: serde::Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine;
    match bytes {
        Some(bytes) => s.serialize_some(&base64::engine::general_purpose::STANDARD.encode(bytes)),
        None => s.serialize_none(),
    }
}

/// Callbacks received on `accounts`, newest first, optionally by outcome and whether verified.
pub async fn list_callbacks(
    pool: &PgPool,
    accounts: &[&str],
    outcome: Option<&str>,
    verified: Option<bool>,
    limit: i64,
) -> Result<Vec<CallbackRow>, sqlx::Error> {
    callbacks_listing("SELECT c.*", accounts, outcome, verified, limit)
        .build_query_as()
        .fetch_all(pool)
        .await
}

/// [`list_callbacks`] after `select` (of `c`): each account's newest, read from its index
/// (`provider_callbacks_account_received`; the unverified and the refused ones from their own),
/// merged, so that no listing walks the table.
pub fn callbacks_listing(
    select: &str,
    accounts: &[&str],
    outcome: Option<&str>,
    verified: Option<bool>,
    limit: i64,
) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(select);
    query
        .push(" FROM UNNEST(")
        .push_bind(accounts.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        .push("::text[]) AS a(id) CROSS JOIN LATERAL (SELECT * FROM provider_callbacks")
        .push(" WHERE account_id = a.id");
    if let Some(outcome) = outcome {
        query.push(" AND outcome = ").push_bind(outcome.to_owned());
        if REFUSED.contains(&outcome) {
            // Said outright, so that a generic plan can use the index of the refused ones.
            query.push(" AND outcome IN ('rejected', 'limited')");
        }
    }
    match verified {
        Some(true) => query.push(" AND verified"),
        Some(false) => query.push(" AND NOT verified"),
        None => &mut query,
    };
    // The limit is written out: planned for an unknown one, a merge of every account's newest
    // looks costly enough to be compiled (JIT), which takes longer than the query.
    query.push(format_args!(
        " ORDER BY received_at DESC LIMIT {limit}) c ORDER BY c.received_at DESC LIMIT {limit}"
    ));
    query
}

/// A normalized provider event.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EventRow {
    pub id: i64,
    pub account_id: String,
    /// The stable key that makes it count once, e.g. Udun `tradeId:tradeType:status`.
    pub event_key: String,
    pub callback_id: Option<Uuid>,
    /// `callback`, `poll` or `ops`.
    pub source: String,
    /// `deposit` or `withdrawal`.
    pub order_kind: String,
    pub provider_ref: Option<String>,
    pub provider_status: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// `applied`, `stale`, `unknown_status`, `orphan`, `needs_review`, `invalid`; for approval
    /// calls `approved`, `refused` or `noted`.
    pub outcome: String,
    pub outcome_detail: Option<String>,
    pub order_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub async fn list_events(
    pool: &PgPool,
    outcome: Option<&str>,
    order_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    events_listing("SELECT *", outcome, order_id, limit)
        .build_query_as()
        .fetch_all(pool)
        .await
}

/// Events by outcome and order, newest first, after `select`: only the filters given are written,
/// so that each reads through its index (`provider_events_order`, `provider_events_unapplied`).
pub fn events_listing(
    select: &str,
    outcome: Option<&str>,
    order_id: Option<Uuid>,
    limit: i64,
) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(select);
    query.push(" FROM provider_events WHERE TRUE");
    if let Some(outcome) = outcome {
        query.push(" AND outcome = ").push_bind(outcome.to_owned());
        if outcome != APPLIED {
            // Said outright, so that a generic plan can use the index of the other outcomes.
            query.push(" AND outcome <> 'applied'");
        }
    }
    if let Some(order_id) = order_id {
        query.push(" AND order_id = ").push_bind(order_id);
    }
    // Written out, as in `callbacks_listing`.
    query.push(format_args!(" ORDER BY id DESC LIMIT {limit}"));
    query
}
