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
        transition.kind.as_str(),
        transition.order_id,
        transition.from,
        transition.to,
        transition.source,
        transition.event_id,
    )
    .await?;
    if transition.kind == OrderKind::Withdrawal && transition.to == "accepted" {
        return Ok(());
    }
    let id = Uuid::now_v7();
    let event_type = format!("{}.{}", transition.kind.as_str(), transition.to);
    let payload = serde_json::json!({
        "id": id,
        "type": event_type,
        "created_at": Utc::now(),
        "sequence": sequence,
        "data": data,
    });
    outbox::insert(
        conn,
        &outbox::NewNotification {
            id,
            merchant_id: transition.merchant_id,
            event_type: &event_type,
            order_id: transition.order_id,
            sequence,
            payload: &payload,
        },
    )
    .await
}
