//! The JSON shapes the merchant API answers with besides the order views (`orders::views`): pages,
//! lists and small results. The handlers build these types, so what the description says and what
//! the API sends cannot drift apart.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{AnyOfBuilder, Ref, Schema};
use uuid::Uuid;

use crate::orders::views::{AddressView, DepositView, WithdrawalView};
use crate::store::webhooks::{Attempt, WebhookEndpoint};

/// Every error: a machine-readable code, a message, and details where they help.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    #[schema(example = "amount_precision")]
    pub code: String,
    pub message: String,
    /// Present when it helps, e.g. `{"field": "user_id"}` or `{"max_decimals": 6}`.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AddressList {
    pub data: Vec<AddressView>,
}

#[derive(Serialize, ToSchema)]
pub struct DepositPage {
    pub data: Vec<DepositView>,
    /// Pass back as `cursor` for the next page; null at the end.
    pub next_cursor: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct WithdrawalPage {
    pub data: Vec<WithdrawalView>,
    /// Pass back as `cursor` for the next page; null at the end.
    pub next_cursor: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct Validation {
    pub valid: bool,
    /// The provider account that checked it, or `local_rules`.
    pub checked_by: String,
}

#[derive(Serialize, ToSchema)]
pub struct AssetList {
    pub data: Vec<AssetView>,
}

/// One chain/asset that one provider account serves.
#[derive(Serialize, ToSchema)]
pub struct AssetView {
    /// The provider account, to pass as `provider`.
    pub provider: String,
    #[schema(example = "TRX")]
    pub chain: String,
    #[schema(example = "USDT")]
    pub asset: String,
    /// The most decimals an amount of this asset may have.
    pub decimals: u32,
    /// What the account offers beyond addresses, deposits and withdrawals.
    pub capabilities: Vec<crate::providers::Capability>,
}

/// The types of the events in the log (docs/webhooks.md). `withdrawal.accepted` is never sent: the
/// merchant's own request created the withdrawal. `ping` comes only from `POST /v1/webhook/test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "deposit.detected")]
    DepositDetected,
    #[serde(rename = "deposit.confirmed")]
    DepositConfirmed,
    #[serde(rename = "deposit.failed")]
    DepositFailed,
    #[serde(rename = "withdrawal.submitted")]
    WithdrawalSubmitted,
    #[serde(rename = "withdrawal.unknown")]
    WithdrawalUnknown,
    #[serde(rename = "withdrawal.approved")]
    WithdrawalApproved,
    #[serde(rename = "withdrawal.broadcast")]
    WithdrawalBroadcast,
    #[serde(rename = "withdrawal.completed")]
    WithdrawalCompleted,
    #[serde(rename = "withdrawal.rejected")]
    WithdrawalRejected,
    #[serde(rename = "withdrawal.failed")]
    WithdrawalFailed,
    /// The provider holds the payout back for now; the state stays.
    #[serde(rename = "withdrawal.delayed")]
    WithdrawalDelayed,
    #[serde(rename = "address.changed")]
    AddressChanged,
    /// A transfer seen on an address the merchant watches; never a deposit.
    #[serde(rename = "watch.transfer")]
    WatchTransfer,
}

impl EventType {
    pub const ALL: [EventType; 13] = [
        EventType::DepositDetected,
        EventType::DepositConfirmed,
        EventType::DepositFailed,
        EventType::WithdrawalSubmitted,
        EventType::WithdrawalUnknown,
        EventType::WithdrawalApproved,
        EventType::WithdrawalBroadcast,
        EventType::WithdrawalCompleted,
        EventType::WithdrawalRejected,
        EventType::WithdrawalFailed,
        EventType::WithdrawalDelayed,
        EventType::AddressChanged,
        EventType::WatchTransfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::DepositDetected => "deposit.detected",
            EventType::DepositConfirmed => "deposit.confirmed",
            EventType::DepositFailed => "deposit.failed",
            EventType::WithdrawalSubmitted => "withdrawal.submitted",
            EventType::WithdrawalUnknown => "withdrawal.unknown",
            EventType::WithdrawalApproved => "withdrawal.approved",
            EventType::WithdrawalBroadcast => "withdrawal.broadcast",
            EventType::WithdrawalCompleted => "withdrawal.completed",
            EventType::WithdrawalRejected => "withdrawal.rejected",
            EventType::WithdrawalFailed => "withdrawal.failed",
            EventType::WithdrawalDelayed => "withdrawal.delayed",
            EventType::AddressChanged => "address.changed",
            EventType::WatchTransfer => "watch.transfer",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// An event as it is delivered by webhook (docs/webhooks.md, "Event shape").
#[derive(Serialize, ToSchema)]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub created_at: DateTime<Utc>,
    /// Increases along one order's events: the latest state has the highest.
    pub sequence: i64,
    /// The deposit, withdrawal or address as the `/v1` API returns it at that moment.
    #[schema(schema_with = event_data)]
    pub data: Value,
}

fn event_data() -> Schema {
    // anyOf, not oneOf: a deposit has every field an address has.
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(Ref::from_schema_name("DepositView"))
            .item(Ref::from_schema_name("WithdrawalView"))
            .item(Ref::from_schema_name("AddressView"))
            .build(),
    )
}

/// How the delivery of one event stands.
#[derive(Serialize, ToSchema)]
pub struct DeliveryStatus {
    #[schema(value_type = DeliveryState)]
    pub state: String,
    pub attempts: i32,
    /// When the next attempt is due; set only while `pending`.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn parse(text: &str) -> Option<DeliveryState> {
        Some(match text {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One event of the log with its delivery. The event is the stored payload, as delivered.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    #[schema(value_type = Event)]
    pub event: Value,
    pub delivery: DeliveryStatus,
}

/// The event log, oldest first.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub data: Vec<EventView>,
    /// The last event listed (or the cursor given, when nothing is new): pass it back as `cursor`.
    pub next_cursor: Option<Uuid>,
}

/// One event with its delivery and every attempt to deliver it.
#[derive(Serialize, ToSchema)]
pub struct EventDetail {
    #[schema(value_type = Event)]
    pub event: Value,
    pub delivery: DeliveryStatus,
    pub attempts: Vec<Attempt>,
}

#[derive(Serialize, ToSchema)]
pub struct Redelivery {
    pub id: Uuid,
    /// Always `pending`: the event is queued and sent again now.
    pub state: DeliveryState,
}

/// The merchant's webhook endpoint.
#[derive(Serialize, ToSchema)]
pub struct WebhookSettings {
    pub webhook: WebhookEndpoint,
}

#[derive(Serialize, ToSchema)]
pub struct SecretRotation {
    /// The new secret (`whsec_…`); shown this once.
    pub webhook_secret: String,
    /// The old secret keeps signing beside the new one until then.
    pub previous_secret_valid_until: DateTime<Utc>,
}

/// The endpoint's answer to a signed `ping`.
#[derive(Serialize, ToSchema)]
pub struct TestDelivery {
    /// The `webhook-id` the ping carried.
    pub id: Uuid,
    /// Whether the endpoint answered 2xx.
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub latency_ms: i32,
    /// The first kilobyte of the answer.
    pub response_body: Option<String>,
    /// Why it was not delivered (connection refused, timeout, …).
    pub error: Option<String>,
}
