//! The core: orders and their state machines. Handlers and pollers call in here; SQL stays in `store`.

pub mod addresses;
pub mod approvals;
pub mod deposits;
pub mod ingest;
pub mod merchants;
pub mod notify;
pub mod views;
pub mod withdrawals;

use uuid::Uuid;

/// What became of one provider event, recorded on its `provider_events` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOutcome {
    pub outcome: &'static str,
    pub detail: Option<String>,
    pub order_id: Option<Uuid>,
}

impl EventOutcome {
    pub fn applied(order_id: Uuid) -> EventOutcome {
        EventOutcome {
            outcome: "applied",
            detail: None,
            order_id: Some(order_id),
        }
    }

    /// A late or repeated status: recorded, not applied.
    pub fn stale(order_id: Uuid, current: &str) -> EventOutcome {
        EventOutcome {
            outcome: "stale",
            detail: Some(format!("order is already {current}")),
            order_id: Some(order_id),
        }
    }

    pub fn unknown_status(order_id: Option<Uuid>) -> EventOutcome {
        EventOutcome {
            outcome: "unknown_status",
            detail: Some("provider status not known to the gateway; not applied".into()),
            order_id,
        }
    }

    /// About an address or withdrawal we do not know: kept for ops.
    pub fn orphan(detail: impl Into<String>) -> EventOutcome {
        EventOutcome {
            outcome: "orphan",
            detail: Some(detail.into()),
            order_id: None,
        }
    }

    /// Content that cannot be applied (see `InvalidEvent`); its order, if any, is under review.
    pub fn invalid(order_id: Option<Uuid>, detail: impl Into<String>) -> EventOutcome {
        EventOutcome {
            outcome: "invalid",
            detail: Some(detail.into()),
            order_id,
        }
    }

    pub fn needs_review(order_id: Uuid, detail: impl Into<String>) -> EventOutcome {
        EventOutcome {
            outcome: "needs_review",
            detail: Some(detail.into()),
            order_id: Some(order_id),
        }
    }
}
