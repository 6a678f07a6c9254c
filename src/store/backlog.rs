//! What is waiting, for the metrics endpoint: counts an operator alerts on.

use sqlx::PgPool;

#[derive(Debug, sqlx::FromRow)]
pub struct Backlog {
    pub webhooks_pending: i64,
    pub webhooks_failed: i64,
    /// Seconds the oldest pending notification has waited since it was written.
    pub oldest_pending_webhook_secs: f64,
    pub withdrawals_unknown: i64,
    pub withdrawals_needing_review: i64,
    pub deposits_needing_review: i64,
    pub deposits_awaiting_confirmation: i64,
}

/// [`backlog`]'s counts, each read from an index of the few rows it counts.
pub const BACKLOG: &str = "SELECT
           (SELECT count(*) FROM webhook_outbox WHERE state = 'pending') AS webhooks_pending,
           (SELECT count(*) FROM webhook_outbox WHERE state = 'failed') AS webhooks_failed,
           COALESCE((SELECT extract(epoch FROM now() - min(created_at))::float8
                     FROM webhook_outbox WHERE state = 'pending'), 0) AS oldest_pending_webhook_secs,
           (SELECT count(*) FROM withdrawals WHERE state = 'unknown') AS withdrawals_unknown,
           (SELECT count(*) FROM withdrawals WHERE needs_review) AS withdrawals_needing_review,
           (SELECT count(*) FROM deposits WHERE needs_review) AS deposits_needing_review,
           (SELECT count(*) FROM deposits WHERE state = 'detected') AS deposits_awaiting_confirmation";

pub async fn backlog(pool: &PgPool) -> Result<Backlog, sqlx::Error> {
    sqlx::query_as(BACKLOG).fetch_one(pool).await
}
