use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TransitionRow {
    pub from_state: Option<String>,
    pub to_state: String,
    pub source: String,
    pub created_at: DateTime<Utc>,
}

/// Records one state change; returns its id, which also orders an order's notifications.
pub async fn insert(
    conn: &mut PgConnection,
    order_kind: &str,
    order_id: Uuid,
    from_state: Option<&str>,
    to_state: &str,
    source: &str,
    event_id: Option<i64>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO order_transitions (order_kind, order_id, from_state, to_state, source, event_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(order_kind)
    .bind(order_id)
    .bind(from_state)
    .bind(to_state)
    .bind(source)
    .bind(event_id)
    .fetch_one(conn)
    .await
}

pub async fn list_for_order(
    pool: &PgPool,
    order_id: Uuid,
) -> Result<Vec<TransitionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT from_state, to_state, source, created_at FROM order_transitions WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await
}
