use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TransitionRow {
    pub from_state: Option<String>,
    pub to_state: String,
    pub source: String,
    /// Why, when an operator decided it.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A place in the order of transitions, for a notice that is not one.
pub async fn next_sequence(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT nextval('order_transitions_id_seq')")
        .fetch_one(conn)
        .await
}

/// What one state change records.
pub struct NewTransition<'a> {
    pub order_kind: &'a str,
    pub order_id: Uuid,
    pub from_state: Option<&'a str>,
    pub to_state: &'a str,
    pub source: &'a str,
    pub event_id: Option<i64>,
    pub reason: Option<&'a str>,
}

/// Records one state change; returns its id, which also orders an order's notifications.
pub async fn insert(conn: &mut PgConnection, new: &NewTransition<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO order_transitions (order_kind, order_id, from_state, to_state, source, event_id,
                                        reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(new.order_kind)
    .bind(new.order_id)
    .bind(new.from_state)
    .bind(new.to_state)
    .bind(new.source)
    .bind(new.event_id)
    .bind(new.reason)
    .fetch_one(conn)
    .await
}

pub async fn list_for_order(
    pool: &PgPool,
    order_id: Uuid,
) -> Result<Vec<TransitionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT from_state, to_state, source, reason, created_at FROM order_transitions
         WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await
}
