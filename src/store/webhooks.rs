//! Webhook deliveries: claiming due notifications, recording attempts, merchant endpoint settings.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// A claimed notification with what is needed to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub order_id: Option<Uuid>,
    pub event_type: String,
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub webhook_url: String,
    pub webhook_secret: String,
    pub previous_webhook_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// The claim of [`claim_due`] (`$1` the limit, `$2` the lease in ms). Driven from the merchants
/// that can receive, so that the pending notifications of one without an endpoint are never
/// scanned; each merchant's due rows are read in claim order from
/// `webhook_outbox_pending_by_merchant`, only as many as are taken.
pub const CLAIM_DUE: &str = "WITH due AS (
             SELECT o.id FROM merchants m
             CROSS JOIN LATERAL (
                 SELECT o.id, o.next_attempt_at, o.sequence FROM webhook_outbox o
                  WHERE o.merchant_id = m.id AND o.state = 'pending' AND o.next_attempt_at <= now()
                    AND NOT EXISTS (SELECT 1 FROM webhook_outbox e
                                    WHERE e.order_id = o.order_id AND e.state = 'pending'
                                      AND e.sequence < o.sequence)
                  ORDER BY o.next_attempt_at, o.sequence
                  LIMIT $1
                  FOR UPDATE OF o SKIP LOCKED) o
             WHERE m.webhook_url IS NOT NULL AND NOT m.disabled AND m.webhook_disabled_at IS NULL
             ORDER BY o.next_attempt_at, o.sequence
             LIMIT $1)
         UPDATE webhook_outbox w
            SET attempts = w.attempts + 1,
                next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)
           FROM due, merchants m
          WHERE w.id = due.id AND m.id = w.merchant_id
         RETURNING w.id, w.merchant_id, w.order_id, w.event_type, w.payload, w.attempts, m.webhook_url,
                   m.webhook_secret, m.previous_webhook_secret, m.previous_secret_expires_at";

/// Claims up to `limit` due notifications, never two of one order at once and never one while an
/// earlier notification of its order is undelivered. The claim pushes `next_attempt_at` out by the
/// lease, so no other worker or instance takes the row while it is being sent.
pub async fn claim_due(
    pool: &PgPool,
    limit: i64,
    lease_ms: i64,
) -> Result<Vec<DueDelivery>, sqlx::Error> {
    sqlx::query_as(CLAIM_DUE)
        .bind(limit)
        .bind(lease_ms as f64)
        .fetch_all(pool)
        .await
}

pub struct NewAttempt<'a> {
    pub outbox_id: Uuid,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub response_body: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub async fn record_attempt(
    conn: &mut PgConnection,
    attempt: &NewAttempt<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_attempts (outbox_id, status_code, latency_ms, response_body, error)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(attempt.outbox_id)
    .bind(attempt.status_code)
    .bind(attempt.latency_ms)
    .bind(attempt.response_body)
    .bind(attempt.error)
    .execute(conn)
    .await?;
    Ok(())
}

/// A delivered attempt, as [`record_delivered`] takes it.
pub struct Delivered {
    pub outbox_id: Uuid,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub response_body: Option<String>,
}

/// Records delivered attempts and marks their notifications delivered, in two statements however
/// many there are.
pub async fn record_delivered(
    conn: &mut PgConnection,
    delivered: &[&Delivered],
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = delivered.iter().map(|d| d.outbox_id).collect();
    sqlx::query(
        "INSERT INTO webhook_attempts (outbox_id, status_code, latency_ms, response_body)
         SELECT * FROM UNNEST($1::uuid[], $2::int4[], $3::int4[], $4::text[])",
    )
    .bind(&ids)
    .bind(delivered.iter().map(|d| d.status_code).collect::<Vec<_>>())
    .bind(delivered.iter().map(|d| d.latency_ms).collect::<Vec<_>>())
    .bind(
        delivered
            .iter()
            .map(|d| d.response_body.as_deref())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE webhook_outbox SET state = 'delivered', delivered_at = now(), last_error = NULL
         WHERE id = ANY($1)",
    )
    .bind(&ids)
    // Planned with the ids as they are: a plan kept from a small table would scan it whole.
    .persistent(false)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn schedule_retry(
    conn: &mut PgConnection,
    id: Uuid,
    delay_ms: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_outbox SET next_attempt_at = now() + make_interval(secs => $2::float8 / 1000), last_error = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(delay_ms as f64)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhook_outbox SET state = 'failed', failed_at = now(), last_error = $2 WHERE id = $1")
        .bind(id)
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// The endpoint answered 410 Gone: stop sending to it; the notification waits, due at once when the
/// merchant sets a URL again.
pub async fn disable_endpoint(
    conn: &mut PgConnection,
    outbox_id: Uuid,
    merchant_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE merchants SET webhook_disabled_at = now(), webhook_disabled_reason = 'endpoint answered 410 Gone'
         WHERE id = $1",
    )
    .bind(merchant_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE webhook_outbox SET attempts = GREATEST(attempts - 1, 0), next_attempt_at = now(),
                last_error = 'endpoint disabled (410 Gone)' WHERE id = $1",
    )
    .bind(outbox_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct WebhookEndpoint {
    pub webhook_url: Option<String>,
    pub webhook_disabled_at: Option<DateTime<Utc>>,
    pub webhook_disabled_reason: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

pub async fn endpoint(pool: &PgPool, merchant_id: Uuid) -> Result<WebhookEndpoint, sqlx::Error> {
    sqlx::query_as(
        "SELECT webhook_url, webhook_disabled_at, webhook_disabled_reason, previous_secret_expires_at
         FROM merchants WHERE id = $1",
    )
    .bind(merchant_id)
    .fetch_one(pool)
    .await
}

/// Sets the endpoint and turns it back on.
pub async fn set_endpoint(
    pool: &PgPool,
    merchant_id: Uuid,
    url: &str,
) -> Result<WebhookEndpoint, sqlx::Error> {
    sqlx::query_as(
        "UPDATE merchants SET webhook_url = $2, webhook_disabled_at = NULL, webhook_disabled_reason = NULL
         WHERE id = $1
         RETURNING webhook_url, webhook_disabled_at, webhook_disabled_reason, previous_secret_expires_at",
    )
    .bind(merchant_id)
    .bind(url)
    .fetch_one(pool)
    .await
}

/// Makes `new_secret` current; the old one keeps signing for `overlap_secs`.
pub async fn rotate_secret(
    pool: &PgPool,
    merchant_id: Uuid,
    new_secret: &str,
    overlap_secs: i64,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE merchants SET previous_webhook_secret = webhook_secret, webhook_secret = $2,
                previous_secret_expires_at = now() + make_interval(secs => $3)
         WHERE id = $1 RETURNING previous_secret_expires_at",
    )
    .bind(merchant_id)
    .bind(new_secret)
    .bind(overlap_secs as f64)
    .fetch_one(pool)
    .await
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub event_type: String,
    pub order_id: Option<Uuid>,
    pub sequence: i64,
    /// The event as delivered.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
}

/// The columns of [`Delivery`], as a literal so that each query stays one static string.
macro_rules! delivery_columns {
    () => {
        "id, merchant_id, event_type, order_id, sequence, payload, state, attempts,
         next_attempt_at, last_error, created_at, delivered_at, failed_at"
    };
}

macro_rules! select_deliveries {
    () => {
        concat!("SELECT ", delivery_columns!(), " FROM webhook_outbox")
    };
}

/// [`list_events`]: `$1` the merchant, `$2` the type or null, `$3` the cursor or null, `$4` the
/// limit.
pub const EVENTS: &str = concat!(
    select_deliveries!(),
    " WHERE merchant_id = $1 AND ($2::text IS NULL OR event_type = $2)
       AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
       AND ($3::uuid IS NULL OR (tx_id, log_position) >
            (SELECT c.tx_id, c.log_position FROM webhook_outbox c WHERE c.id = $3 AND c.merchant_id = $1))
     ORDER BY tx_id, log_position LIMIT $4"
);

/// A merchant's events after `after` (an event id), optionally of one type, in commit-safe order:
/// only events whose transactions are older than every running one are listed, so a later page
/// never gains an event before its cursor.
pub async fn list_events(
    pool: &PgPool,
    merchant_id: Uuid,
    event_type: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(EVENTS)
        .bind(merchant_id)
        .bind(event_type)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Operators' view: deliveries by merchant and state, newest first.
pub async fn list_deliveries(
    pool: &PgPool,
    merchant_id: Option<Uuid>,
    state: Option<&str>,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    deliveries_listing("SELECT d.*", merchant_id, state, limit)
        .build_query_as()
        .fetch_all(pool)
        .await
}

/// [`list_deliveries`] after `select` (of `d`): each merchant's newest, read from an index
/// (`webhook_outbox_merchant`; the failed and pending ones from their own), and without a
/// merchant every merchant's newest merged, so that no listing walks the table.
pub fn deliveries_listing(
    select: &str,
    merchant_id: Option<Uuid>,
    state: Option<&str>,
    limit: i64,
) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(select);
    match merchant_id {
        Some(merchant_id) => query
            .push(" FROM (SELECT ")
            .push_bind(merchant_id)
            .push("::uuid AS id) m"),
        None => query.push(" FROM merchants m"),
    };
    query.push(concat!(
        " CROSS JOIN LATERAL (SELECT ",
        delivery_columns!(),
        " FROM webhook_outbox WHERE merchant_id = m.id"
    ));
    if let Some(state) = state {
        query.push(" AND state = ").push_bind(state.to_owned());
        // The few failed or pending ones have partial indexes; said outright, so that a generic
        // plan can use them.
        match state {
            "failed" => query.push(" AND state = 'failed'"),
            "pending" => query.push(" AND state = 'pending'"),
            _ => &mut query,
        };
    }
    // The limit is written out: planned for an unknown one, a merge of every merchant's newest
    // looks costly enough to be compiled (JIT), which takes longer than the query.
    query.push(format_args!(
        " ORDER BY created_at DESC LIMIT {limit}) d ORDER BY d.created_at DESC LIMIT {limit}"
    ));
    query
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attempt {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: Option<i32>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

pub async fn list_attempts(pool: &PgPool, outbox_id: Uuid) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as(
        "SELECT attempted_at, status_code, latency_ms, response_body, error FROM webhook_attempts
         WHERE outbox_id = $1 ORDER BY id",
    )
    .bind(outbox_id)
    .fetch_all(pool)
    .await
}

/// Queues one of the merchant's events to be sent again now, on a fresh retry schedule.
pub async fn redeliver(pool: &PgPool, merchant_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_outbox SET state = 'pending', attempts = 0, next_attempt_at = now(), failed_at = NULL
         WHERE id = $1 AND merchant_id = $2",
    )
    .bind(id)
    .bind(merchant_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Queues again every delivery in `state` (normally `failed`), optionally for one merchant and
/// created since a time; returns how many.
pub async fn replay(
    pool: &PgPool,
    merchant_id: Option<Uuid>,
    since: Option<DateTime<Utc>>,
    state: &str,
) -> Result<u64, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "UPDATE webhook_outbox SET state = 'pending', attempts = 0, next_attempt_at = now(), failed_at = NULL
         WHERE state = ",
    );
    query.push_bind(state.to_owned());
    if state == "failed" {
        // Said outright, so that the failed ones are read from their own index.
        query.push(" AND state = 'failed'");
    }
    if let Some(merchant_id) = merchant_id {
        query.push(" AND merchant_id = ").push_bind(merchant_id);
    }
    if let Some(since) = since {
        query.push(" AND created_at >= ").push_bind(since);
    }
    let done = query.build().execute(pool).await?;
    Ok(done.rows_affected())
}

pub async fn find_event(
    pool: &PgPool,
    merchant_id: Uuid,
    id: Uuid,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_deliveries!(),
        " WHERE id = $1 AND merchant_id = $2"
    ))
    .bind(id)
    .bind(merchant_id)
    .fetch_optional(pool)
    .await
}
