//! The core: orders and their state machines. Handlers and pollers call in here; SQL stays in `store`.

pub mod addresses;
pub mod approvals;
pub mod deposits;
pub mod group_commit;
pub mod inbound;
pub mod ingest;
pub mod known_addresses;
pub mod known_transfers;
pub mod merchants;
pub mod notify;
pub mod treasury;
pub mod views;
pub mod withdrawals;

use sqlx::PgPool;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::AmountError;
use crate::providers::registry::RouteError;
use crate::providers::{ProviderError, Registry};

/// What the core needs of the running gateway.
pub struct Core {
    pub settings: Settings,
    pub pool: PgPool,
    pub registry: Registry,
    /// The base URL providers reach this gateway at.
    pub public_url: String,
    /// Wakes the webhook workers once notifications are committed.
    pub outbox_wake: std::sync::Arc<crate::webhooks::wake::OutboxWake>,
    /// Stores provider callbacks, grouping those that arrive together.
    pub callbacks: group_commit::CallbackWriter,
    /// Turns for address creations, each of which holds a connection while its provider answers.
    pub address_creations: tokio::sync::Semaphore,
    /// Held while a collection wallet is made, so that those waiting for it wait here rather
    /// than each on the wallet's lock in a transaction holding a pooled connection.
    pub making_collection_wallet: tokio::sync::Mutex<()>,
}

impl Core {
    /// Where `account_id`'s provider sends its callbacks.
    pub fn callback_url(&self, account_id: &str) -> String {
        format!("{}/callbacks/{account_id}", self.public_url)
    }
}

/// Why an order could not be made; the API layer says it in its own words.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Amount(#[from] AmountError),
    #[error("client_order_id {client_order_id:?} was already used for a different withdrawal")]
    IdempotencyConflict {
        client_order_id: String,
        withdrawal_id: Uuid,
        differs: Vec<&'static str>,
    },
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("no provider account was tried")]
    NoAccount,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What became of one provider event, as stored in `provider_events.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventResult {
    Applied,
    /// A late or repeated status: recorded, not applied.
    Stale,
    UnknownStatus,
    /// About an address or withdrawal we do not know: kept for ops.
    Orphan,
    NeedsReview,
    /// Content that cannot be applied (see `InvalidEvent`); its order, if any, is under review.
    Invalid,
    /// Kept as reported; nothing to apply it to (yet): notices, balances, address changes.
    Recorded,
    /// Approval calls: granted, refused, or a signed notice checked with the provider.
    Approved,
    Refused,
    Noted,
}

impl EventResult {
    pub fn as_str(self) -> &'static str {
        match self {
            EventResult::Applied => "applied",
            EventResult::Stale => "stale",
            EventResult::UnknownStatus => "unknown_status",
            EventResult::Orphan => "orphan",
            EventResult::NeedsReview => "needs_review",
            EventResult::Invalid => "invalid",
            EventResult::Recorded => "recorded",
            EventResult::Approved => "approved",
            EventResult::Refused => "refused",
            EventResult::Noted => "noted",
        }
    }

    pub fn parse(text: &str) -> Option<EventResult> {
        [
            EventResult::Applied,
            EventResult::Stale,
            EventResult::UnknownStatus,
            EventResult::Orphan,
            EventResult::NeedsReview,
            EventResult::Invalid,
            EventResult::Recorded,
            EventResult::Approved,
            EventResult::Refused,
            EventResult::Noted,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// What became of one provider event, recorded on its `provider_events` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOutcome {
    pub result: EventResult,
    pub detail: Option<String>,
    pub order_id: Option<Uuid>,
}

impl EventOutcome {
    fn new(result: EventResult, detail: Option<String>, order_id: Option<Uuid>) -> EventOutcome {
        EventOutcome {
            result,
            detail,
            order_id,
        }
    }

    pub fn applied(order_id: Uuid) -> EventOutcome {
        EventOutcome::new(EventResult::Applied, None, Some(order_id))
    }

    pub fn stale(order_id: Uuid, current: &str) -> EventOutcome {
        let detail = format!("order is already {current}");
        EventOutcome::new(EventResult::Stale, Some(detail), Some(order_id))
    }

    pub fn unknown_status(order_id: Option<Uuid>) -> EventOutcome {
        let detail = "provider status not known to the gateway; not applied".to_owned();
        EventOutcome::new(EventResult::UnknownStatus, Some(detail), order_id)
    }

    pub fn orphan(detail: impl Into<String>) -> EventOutcome {
        EventOutcome::new(EventResult::Orphan, Some(detail.into()), None)
    }

    pub fn invalid(order_id: Option<Uuid>, detail: impl Into<String>) -> EventOutcome {
        EventOutcome::new(EventResult::Invalid, Some(detail.into()), order_id)
    }

    pub fn recorded() -> EventOutcome {
        EventOutcome::new(EventResult::Recorded, None, None)
    }

    pub fn needs_review(order_id: Uuid, detail: impl Into<String>) -> EventOutcome {
        EventOutcome::new(
            EventResult::NeedsReview,
            Some(detail.into()),
            Some(order_id),
        )
    }
}
