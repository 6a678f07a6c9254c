//! The JSON shapes of the merchant API, also used as webhook payload `data`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::money::to_wire;
use crate::domain::{DepositState, WithdrawalState};
use crate::providers::RiskScores;
use crate::store::addresses::AddressRow;
use crate::store::deposits::DepositRow;
use crate::store::transitions::TransitionRow;
use crate::store::withdrawals::WithdrawalRow;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddressView {
    pub id: Uuid,
    pub user_id: String,
    pub chain: String,
    pub asset: String,
    pub address: String,
    pub memo: Option<String>,
    pub provider: String,
    pub created_at: DateTime<Utc>,
}

impl From<&AddressRow> for AddressView {
    fn from(row: &AddressRow) -> Self {
        AddressView {
            id: row.id,
            user_id: row.user_id.clone(),
            chain: row.chain.clone(),
            asset: row.asset.clone(),
            address: row.address.clone(),
            memo: row.memo.clone(),
            provider: row.account_id.clone(),
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DepositView {
    pub id: Uuid,
    pub user_id: String,
    pub chain: String,
    pub asset: String,
    pub address: String,
    pub memo: Option<String>,
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$", example = "12.5")]
    pub amount: String,
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub fee: Option<String>,
    pub tx_hash: Option<String>,
    pub block_height: Option<i64>,
    pub state: DepositState,
    pub needs_review: bool,
    /// The provider's risk scores for the transfer, where it gives them.
    pub risk: Option<RiskScores>,
    pub provider: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&DepositRow> for DepositView {
    fn from(row: &DepositRow) -> Self {
        DepositView {
            id: row.id,
            user_id: row.user_id.clone(),
            chain: row.chain.clone(),
            asset: row.asset.clone(),
            address: row.address.clone(),
            memo: row.memo.clone(),
            amount: to_wire(row.amount),
            fee: row.fee.map(to_wire),
            tx_hash: row.tx_hash.clone(),
            block_height: row.block_height,
            state: row.state,
            needs_review: row.needs_review,
            risk: row.risk_source_score.zip(row.risk_target_score).map(
                |(source_score, target_score)| RiskScores {
                    source_score,
                    target_score,
                },
            ),
            provider: row.account_id.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Why a withdrawal waits at the provider, and since when.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DelayView {
    /// E.g. `hot_wallet_short`, `gas_short`.
    pub reason: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorView {
    /// Stable: `provider_refused`, `provider_unavailable`, `provider_timeout`, `unsupported`.
    pub code: String,
    pub message: Option<String>,
    /// The provider's own refusal code, when it refused.
    pub provider_code: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WithdrawalView {
    pub id: Uuid,
    pub client_order_id: String,
    pub chain: String,
    pub asset: String,
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$", example = "25.5")]
    pub amount: String,
    pub to_address: String,
    pub memo: Option<String>,
    pub state: WithdrawalState,
    pub provider: String,
    pub provider_request_id: String,
    pub tx_hash: Option<String>,
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub fee: Option<String>,
    pub error: Option<ErrorView>,
    pub needs_review: bool,
    /// The provider holds the payout back for now (its state stays), and why.
    pub delay: Option<DelayView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The state changes so far, oldest first; in answers about one withdrawal, not in listings
    /// or webhooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<TransitionRow>>,
}

impl From<&WithdrawalRow> for WithdrawalView {
    fn from(row: &WithdrawalRow) -> Self {
        WithdrawalView {
            id: row.id,
            client_order_id: row.client_order_id.clone(),
            chain: row.chain.clone(),
            asset: row.asset.clone(),
            amount: to_wire(row.amount),
            to_address: row.to_address.clone(),
            memo: row.memo.clone(),
            state: row.state,
            provider: row.account_id.clone(),
            provider_request_id: row.provider_request_id.clone(),
            tx_hash: row.tx_hash.clone(),
            fee: row.fee.map(to_wire),
            error: row.error_code.as_ref().map(|code| ErrorView {
                code: code.clone(),
                message: row.error_message.clone(),
                provider_code: row.provider_error_code.clone(),
            }),
            needs_review: row.needs_review,
            delay: row.delay_reason.as_ref().map(|reason| DelayView {
                reason: reason.clone(),
                since: row.delay_since.unwrap_or(row.updated_at),
            }),
            created_at: row.created_at,
            updated_at: row.updated_at,
            history: None,
        }
    }
}

impl WithdrawalView {
    pub fn with_history(mut self, history: Vec<TransitionRow>) -> Self {
        self.history = Some(history);
        self
    }
}
