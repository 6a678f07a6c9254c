//! The JSON shapes of the ops API. Rows that other modules own (callbacks, provider events, poll
//! reports, provider coins) are described here field by field; `tests/openapi.rs` checks that the
//! answers have exactly these fields.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{OneOfBuilder, Ref, Schema};
use uuid::Uuid;

use crate::store::callbacks::{CallbackRow, EventRow};

use crate::orders::views::WithdrawalView;
use crate::store::transitions::TransitionRow;
use crate::store::webhooks::Delivery;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderKindName {
    Deposit,
    Withdrawal,
}

/// A deposit or withdrawal with the merchant it belongs to.
#[derive(Serialize, ToSchema)]
pub struct OrderMatch {
    pub kind: OrderKindName,
    pub merchant_id: Uuid,
    #[schema(schema_with = deposit_or_withdrawal)]
    pub order: Value,
}

/// A deposit or withdrawal with its merchant, and why it is flagged for review if it is.
#[derive(Serialize, ToSchema)]
pub struct OpsOrder {
    pub kind: OrderKindName,
    pub merchant_id: Uuid,
    #[schema(schema_with = deposit_or_withdrawal)]
    pub order: Value,
    pub review_reason: Option<String>,
    /// What the provider said when a submission failed, in its own words (withdrawals).
    pub provider_error: Option<ProviderErrorText>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderErrorText {
    /// The provider's refusal code, when it refused.
    pub code: Option<String>,
    pub text: String,
}

fn deposit_or_withdrawal() -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(Ref::from_schema_name("DepositView"))
            .item(Ref::from_schema_name("WithdrawalView"))
            .build(),
    )
}

/// An order, its state history and the provider events behind it.
#[derive(Serialize, ToSchema)]
pub struct OrderDetail {
    pub order: OpsOrder,
    pub history: Vec<TransitionRow>,
    /// Provider events of this order, newest first (at most 200).
    pub events: Vec<EventRow>,
}

#[derive(Serialize, ToSchema)]
pub struct OrderSearch {
    pub data: Vec<OrderMatch>,
}

#[derive(Serialize, ToSchema)]
pub struct Reconciliation {
    /// The provider's status as it answered; null when it does not know the withdrawal.
    pub provider_status: Option<String>,
    /// Whether the answer was news (a new event, applied or recorded).
    pub new_event: bool,
    pub withdrawal: WithdrawalView,
}

#[derive(Serialize, ToSchema)]
pub struct PollResult {
    #[schema(value_type = PollReportRecord)]
    pub report: Value,
}

/// What one poll round did (`workers::pollers::PollReport`).
#[derive(Serialize, ToSchema)]
pub struct PollReportRecord {
    /// Another instance holds the account's lock: nothing was done.
    pub skipped: bool,
    pub pages: u32,
    pub new_events: u32,
    pub confirmed: u32,
    /// Open withdrawals whose status query brought news.
    pub reconciled: u32,
}

#[derive(Serialize, ToSchema)]
pub struct CallbackList {
    pub data: Vec<CallbackRow>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderEventList {
    pub data: Vec<EventRow>,
}

/// A withdrawal that is flagged, or not final after 30 minutes.
#[derive(Serialize, ToSchema)]
pub struct AttentionItem {
    pub merchant_id: Uuid,
    pub withdrawal: WithdrawalView,
    pub review_reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AttentionList {
    pub data: Vec<AttentionItem>,
}

/// One chain/asset of an account as configured (`providers::AssetInfo`).
#[derive(Serialize, ToSchema)]
pub struct AccountAsset {
    pub chain: String,
    pub asset: String,
    pub decimals: u32,
}

#[derive(Serialize, ToSchema)]
pub struct Account {
    pub id: String,
    /// `udun` or `chainup_mpc`.
    pub kind: String,
    #[schema(value_type = Vec<AccountAsset>)]
    pub assets: Value,
    /// Where the provider sends this account's callbacks.
    pub callback_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub data: Vec<Account>,
}

/// A coin the provider reports for the account (`providers::RemoteAsset`).
#[derive(Serialize, ToSchema)]
pub struct RemoteAssetRecord {
    pub symbol: String,
    pub name: String,
    pub decimals: u32,
    /// The provider's own identifiers, e.g. Udun `mainCoinType`/`coinType`.
    #[schema(value_type = Object)]
    pub provider_ids: Value,
    /// The chain/asset it maps to in this account's configuration; null when unmapped.
    pub mapped_to: Option<ChainAssetRecord>,
}

#[derive(Serialize, ToSchema)]
pub struct ChainAssetRecord {
    pub chain: String,
    pub asset: String,
}

#[derive(Serialize, ToSchema)]
pub struct RemoteAssetList {
    #[schema(value_type = Vec<RemoteAssetRecord>)]
    pub data: Value,
    /// The account's configured chain/assets, each with what stops it being used, if anything.
    pub configured: Vec<ConfiguredAsset>,
}

/// A configured chain/asset of an account, checked against the provider.
#[derive(Serialize, ToSchema)]
pub struct ConfiguredAsset {
    pub chain: String,
    pub asset: String,
    pub decimals: u32,
    /// Why it is not used for now (e.g. decimals that differ from the provider's); null when it
    /// is in use.
    pub problem: Option<String>,
}

/// A renotification asked of the provider.
#[derive(Serialize, ToSchema)]
pub struct Renotified {
    /// The order's provider account.
    pub account: String,
    /// What the provider was asked to send again about: `deposit` or `withdrawal`.
    pub kind: OrderKindName,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<Delivery>,
}

#[derive(Serialize, ToSchema)]
pub struct Replayed {
    /// How many deliveries were queued again.
    pub replayed: u64,
}

/// The delivery states a replay can start from.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplayState {
    Failed,
    Delivered,
}

impl ReplayState {
    pub fn parse(text: &str) -> Option<ReplayState> {
        Some(match text {
            "failed" => ReplayState::Failed,
            "delivered" => ReplayState::Delivered,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ReplayState::Failed => "failed",
            ReplayState::Delivered => "delivered",
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SweepList {
    pub data: Vec<crate::store::treasury::SweepRow>,
}

#[derive(Serialize, ToSchema)]
pub struct BalanceList {
    pub data: Vec<crate::store::treasury::BalanceRow>,
}
