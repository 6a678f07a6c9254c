//! A state change and its merchant notification, written together in the caller's transaction.

use chrono::Utc;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::OrderKind;
use crate::store::{outbox, transitions};

pub struct Transition<'a> {
    pub merchant_id: Uuid,
    pub kind: OrderKind,
    pub order_id: Uuid,
    pub from: Option<&'a str>,
    pub to: &'a str,
    /// api | callback | poll | ops
    pub source: &'a str,
    pub event_id: Option<i64>,
    /// Why, when an operator decided it.
    pub reason: Option<&'a str>,
}

/// Records the transition and queues `<kind>.<state>` for the merchant, with the order as `data`.
/// `accepted` withdrawals are not announced: the merchant's own request created them.
pub async fn record_transition(
    conn: &mut PgConnection,
    transition: &Transition<'_>,
    data: &impl Serialize,
) -> Result<(), sqlx::Error> {
    let sequence = transitions::insert(
        conn,
        &transitions::NewTransition {
            order_kind: transition.kind.as_str(),
            order_id: transition.order_id,
            from_state: transition.from,
            to_state: transition.to,
            source: transition.source,
            event_id: transition.event_id,
            reason: transition.reason,
        },
    )
    .await?;
    if transition.kind == OrderKind::Withdrawal && transition.to == "accepted" {
        return Ok(());
    }
    let event_type = format!("{}.{}", transition.kind.as_str(), transition.to);
    queue(
        conn,
        transition.merchant_id,
        &event_type,
        Some(transition.order_id),
        sequence,
        data,
    )
    .await
}

/// Queues a notice that is not a state change (`withdrawal.delayed`, `address.changed`), in order
/// with the transitions around it.
pub async fn record_notice(
    conn: &mut PgConnection,
    merchant_id: Uuid,
    event_type: &str,
    order_id: Option<Uuid>,
    data: &impl Serialize,
) -> Result<(), sqlx::Error> {
    let sequence = transitions::next_sequence(conn).await?;
    queue(conn, merchant_id, event_type, order_id, sequence, data).await
}

async fn queue(
    conn: &mut PgConnection,
    merchant_id: Uuid,
    event_type: &str,
    order_id: Option<Uuid>,
    sequence: i64,
    data: &impl Serialize,
) -> Result<(), sqlx::Error> {
    let (id, payload) = announcement(event_type, sequence, data);
    outbox::insert(
        conn,
        &outbox::NewNotification {
            id,
            merchant_id,
            event_type,
            order_id,
            sequence,
            payload: &payload,
        },
    )
    .await
}

/// A notification's id and the payload the merchant receives.
pub fn announcement(
    event_type: &str,
    sequence: i64,
    data: &impl Serialize,
) -> (Uuid, serde_json::Value) {
    let id = Uuid::now_v7();
    let payload = serde_json::json!({
        "id": id,
        "type": event_type,
        "created_at": Utc::now(),
        "sequence": sequence,
        "data": data,
    });
    (id, payload)
}
