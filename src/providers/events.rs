//! The events a provider reports, in the core's terms. Each has a stable key, so that the same fact
//! always gets the same key and is stored once however often it arrives.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{ChainAsset, DepositState, OrderKind, WithdrawalState};

/// A normalized provider event.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderEvent {
    pub event_key: String,
    /// The provider's id of what it reports (a transfer, a balance record, a notice).
    pub provider_ref: String,
    /// The provider's status as it sent it, kept for audit.
    pub provider_status: String,
    pub body: EventBody,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    Deposit(DepositEvent),
    Withdrawal(WithdrawalEvent),
    /// A user's deposit address changed at the provider.
    AddressChanged(AddressChangedEvent),
    /// The balance the provider reports for one of the account's addresses.
    Balance(BalanceEvent),
    /// A movement of the account's own funds, not a merchant order (a sweep, a gas top-up).
    TreasuryTransfer(TreasuryTransferEvent),
    /// Authentic and recorded, never applied.
    Notice(NoticeEvent),
    /// Authentic, but its content cannot be applied as it stands.
    Invalid(InvalidEvent),
}

/// What an event is about; stored with it (`provider_events.order_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Deposit,
    Withdrawal,
    Address,
    Balance,
    Treasury,
    Notice,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Deposit => "deposit",
            EventKind::Withdrawal => "withdrawal",
            EventKind::Address => "address",
            EventKind::Balance => "balance",
            EventKind::Treasury => "treasury",
            EventKind::Notice => "notice",
        }
    }

    /// The merchant order kind, for events about one.
    pub fn order_kind(self) -> Option<OrderKind> {
        match self {
            EventKind::Deposit => Some(OrderKind::Deposit),
            EventKind::Withdrawal => Some(OrderKind::Withdrawal),
            _ => None,
        }
    }
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::Deposit(_) => EventKind::Deposit,
            EventBody::Withdrawal(_) => EventKind::Withdrawal,
            EventBody::AddressChanged(_) => EventKind::Address,
            EventBody::Balance(_) => EventKind::Balance,
            EventBody::TreasuryTransfer(_) => EventKind::Treasury,
            EventBody::Notice(_) => EventKind::Notice,
            EventBody::Invalid(invalid) => invalid.about,
        }
    }
}

/// An authentic provider record whose content cannot be applied as it stands, e.g. an amount that
/// is not a plain decimal within the asset's decimals: recorded, never applied, and its order (if
/// we have one) flagged for review.
#[derive(Debug, Clone, Serialize)]
pub struct InvalidEvent {
    /// What the record is about.
    pub about: EventKind,
    /// Our request id as the provider echoed it (withdrawals).
    pub request_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepositEvent {
    /// `None` when the provider's coin is not in the account's asset mapping.
    pub chain_asset: Option<ChainAsset>,
    pub address: String,
    pub memo: Option<String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub fee: Option<Decimal>,
    pub tx_hash: Option<String>,
    pub block_height: Option<i64>,
    /// `None` for a provider status we do not know: recorded, never applied.
    pub state: Option<DepositState>,
    /// The risk scores the provider gives the transfer, where it gives them.
    pub risk: Option<RiskScores>,
    /// Why the deposit must wait for an operator before it is credited (e.g. a risk score at or
    /// above the account's threshold).
    pub hold: Option<String>,
}

/// A provider's risk scores for a transfer, 0 (clean) to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RiskScores {
    /// The address the funds came from.
    pub source_score: i16,
    /// The address they went to.
    pub target_score: i16,
}

/// What a provider says of one of our withdrawals. A field its message does not carry is `None`
/// and not checked; one it does carry must match the withdrawal we made.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawalEvent {
    /// Our request id as the provider echoes it.
    pub request_id: String,
    pub asset: AssetReport,
    pub address: Option<String>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub amount: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub fee: Option<Decimal>,
    pub tx_hash: Option<String>,
    pub state: Option<WithdrawalState>,
    /// The provider holds the payout back for now, and why (e.g. its hot wallet is short).
    pub delayed: Option<String>,
    /// Why the provider ended it unpaid, in its words, for ops.
    pub failure: Option<String>,
}

/// The asset a provider's message names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetReport {
    /// The message names no asset.
    NotReported,
    /// It names one the account's mapping does not hold: it matches nothing of ours.
    Unmapped,
    Mapped(ChainAsset),
}

impl AssetReport {
    /// A named asset, as the account's mapping found it (or did not).
    pub fn named(mapped: Option<ChainAsset>) -> AssetReport {
        mapped.map_or(AssetReport::Unmapped, AssetReport::Mapped)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AddressChangedEvent {
    pub chain: String,
    /// The user's address until now, when the provider says.
    pub old_address: Option<String>,
    pub new_address: String,
    /// The provider's id of the user or wallet the address belongs to.
    pub wallet_ref: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BalanceEvent {
    pub address: String,
    /// `None` when the provider's coin is not in the account's asset mapping.
    pub chain_asset: Option<ChainAsset>,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, Serialize)]
pub struct TreasuryTransferEvent {
    pub chain_asset: Option<ChainAsset>,
    pub from_address: Option<String>,
    pub to_address: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub tx_hash: Option<String>,
    /// What the movement is, in the provider's words (e.g. `sweep`, `gas`).
    pub purpose: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoticeEvent {
    /// What kind of notice, in the provider's words (e.g. ChainUp `web3-trans`).
    pub topic: String,
    /// The notice as the provider sent it, for ops.
    pub content: serde_json::Value,
}
