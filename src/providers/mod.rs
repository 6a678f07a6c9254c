//! The provider abstraction (DESIGN §3): what the core asks of a custody provider, in its own terms.
//! Everything provider-shaped (field names, units, signing, reply forms) stays inside an adapter.

pub mod chainup_mpc;
pub mod crypto;
pub mod registry;
pub mod udun;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::{ProviderAccountSettings, SettingsError};
use crate::domain::{ChainAsset, DepositState, OrderKind, WithdrawalState};

pub use registry::{ProviderKind, Registry, SimulatorKind};

/// One chain/asset an account serves, as the core sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AssetInfo {
    pub chain: String,
    pub asset: String,
    pub decimals: u32,
}

impl AssetInfo {
    /// A configured chain/asset of `account`, checked.
    pub fn configured(
        account: &ProviderAccountSettings,
        chain: &str,
        asset: &str,
        decimals: u32,
    ) -> Result<AssetInfo, SettingsError> {
        let pair = ChainAsset::parse(chain, asset).ok_or_else(|| {
            SettingsError::Invalid(format!(
                "account {:?}: bad chain/asset {chain}/{asset}",
                account.id
            ))
        })?;
        if decimals > crate::domain::money::MAX_DECIMALS {
            return Err(SettingsError::Invalid(format!(
                "account {:?}: {pair} has more decimals than an amount can hold",
                account.id
            )));
        }
        Ok(AssetInfo {
            chain: pair.chain,
            asset: pair.asset,
            decimals,
        })
    }

    pub fn chain_asset(&self) -> ChainAsset {
        ChainAsset {
            chain: self.chain.clone(),
            asset: self.asset.clone(),
        }
    }
}

pub struct AddressRequest<'a> {
    pub merchant_id: uuid::Uuid,
    pub user_id: &'a str,
    /// The provider-side wallet this user already has on the account (ChainUp sub-wallet), if any.
    pub wallet_ref: Option<&'a str>,
    pub chain_asset: &'a ChainAsset,
    /// Where the provider should send this address's deposit notifications.
    pub callback_url: &'a str,
}

#[derive(Debug, Clone)]
pub struct NewAddress {
    pub address: String,
    pub memo: Option<String>,
    /// The provider-side wallet the address belongs to, remembered for the user's next address.
    pub wallet_ref: Option<String>,
}

pub struct WithdrawalRequest<'a> {
    /// Our idempotency key at the provider, identical on every attempt.
    pub request_id: &'a str,
    pub chain_asset: &'a ChainAsset,
    pub amount: Decimal,
    pub to_address: &'a str,
    pub memo: Option<&'a str>,
    pub callback_url: &'a str,
}

/// How a provider call ended when it did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider certainly did not act (bad address, balance, parameters, signature).
    #[error("provider refused ({code}): {message}")]
    Refused { code: String, message: String },
    /// The provider already holds a request with this id: an earlier attempt reached it.
    #[error("provider already has this request")]
    Duplicate,
    /// It may have acted: timeout, connection lost after sending, 5xx, undecodable reply.
    #[error("provider outcome unknown: {detail}")]
    Unknown { detail: String, timed_out: bool },
    /// The provider never received the request (connection refused, DNS): safe to retry.
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    /// The account cannot do this (asset not mapped, operation not offered).
    #[error("not supported: {0}")]
    Unsupported(String),
}

impl ProviderError {
    pub fn from_transport(err: reqwest::Error) -> ProviderError {
        if err.is_connect() {
            ProviderError::Unreachable(without_url(&err))
        } else {
            ProviderError::Unknown {
                detail: without_url(&err),
                timed_out: err.is_timeout(),
            }
        }
    }
}

/// Error text without the request URL, which may carry credentials in some providers' schemes.
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<provider>");
    }
    text
}

/// A coin the provider reports for the account, for comparing with the configured mapping.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteAsset {
    pub symbol: String,
    pub name: String,
    pub decimals: u32,
    /// The provider's own identifiers, e.g. Udun `mainCoinType`/`coinType`.
    pub provider_ids: serde_json::Value,
    /// The chain/asset it maps to in this account's configuration, if any.
    pub mapped_to: Option<ChainAsset>,
}

/// The HTTP client an adapter calls its provider with: the account's timeout, no redirects.
pub fn http_client(account: &ProviderAccountSettings) -> Result<reqwest::Client, SettingsError> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(account.timeout_secs))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| SettingsError::Invalid(format!("account {:?}: HTTP client: {e}", account.id)))
}

/// A callback exactly as it arrived.
pub struct RawCallback {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawCallback {
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("signature does not verify")]
    BadSignature,
    /// Unreadable before its signature could be checked (missing fields, bad envelope).
    #[error("malformed callback: {0}")]
    Malformed(String),
    /// Authentic, but its content is not what the protocol describes.
    #[error("invalid callback content: {0}")]
    Invalid(String),
}

impl CallbackError {
    /// Whether the signature was checked and found good before the callback was refused.
    pub fn signature_verified(&self) -> bool {
        matches!(self, CallbackError::Invalid(_))
    }
}

/// What the gateway tells the provider about one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckResult {
    /// Stored (or already stored): stop sending it.
    Processed,
    /// Refused: not authentic or not understood.
    Rejected,
    /// We could not store it now: send it again later.
    RetryLater,
}

/// A normalized money event, keyed so that the same fact always gets the same key.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderEvent {
    pub event_key: String,
    /// The provider's id of the transfer (Udun `tradeId`).
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
    Invalid(InvalidEvent),
}

impl EventBody {
    pub fn order_kind(&self) -> OrderKind {
        match self {
            EventBody::Deposit(_) => OrderKind::Deposit,
            EventBody::Withdrawal(_) => OrderKind::Withdrawal,
            EventBody::Invalid(invalid) => invalid.order_kind,
        }
    }
}

/// An authentic provider record whose content cannot be applied as it stands, e.g. an amount that
/// is not a plain decimal within the asset's decimals: recorded, never applied, and its order (if
/// we have one) flagged for review.
#[derive(Debug, Clone, Serialize)]
pub struct InvalidEvent {
    pub order_kind: OrderKind,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct WithdrawalEvent {
    /// Our request id as the provider echoes it (Udun `businessId`).
    pub request_id: String,
    pub chain_asset: Option<ChainAsset>,
    pub address: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub fee: Option<Decimal>,
    pub tx_hash: Option<String>,
    pub state: Option<WithdrawalState>,
}

/// One page of a pulled feed (DESIGN §3 `poll`).
#[derive(Debug, Default)]
pub struct Polled {
    pub events: Vec<ProviderEvent>,
    /// Where the next page starts; stored with the events in one transaction.
    pub next_cursor: Option<String>,
    /// Whether another page is ready now.
    pub more: bool,
}

/// A provider asking us to approve a withdrawal before it signs it (ChainUp Co-Signer `sign_start`,
/// WaaS second confirmation), or telling us it has signed it.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalRequest {
    /// A stable key for this question, so that a repeated question gets the same answer.
    pub key: String,
    pub stage: ApprovalStage,
    pub request_id: String,
    /// The provider's id of the withdrawal.
    pub provider_ref: String,
    pub chain_asset: Option<ChainAsset>,
    pub to_address: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStage {
    /// May it be signed?
    SignStart,
    /// It was signed; the transaction is on its way.
    SignSuccess { tx_hash: Option<String> },
}

/// What a provider's approval endpoint received.
pub enum ApprovalCall {
    Withdrawal(ApprovalRequest),
    /// A question the adapter answers alone (e.g. Co-Signer's key self-check).
    Answered(Response),
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn account_id(&self) -> &str;
    /// The kind's name, as in the registry and the config (`udun`, `chainup_mpc`).
    fn kind(&self) -> &'static str;
    fn assets(&self) -> &[AssetInfo];

    fn asset(&self, chain_asset: &ChainAsset) -> Option<&AssetInfo> {
        self.assets()
            .iter()
            .find(|a| a.chain == chain_asset.chain && a.asset == chain_asset.asset)
    }

    async fn create_address(
        &self,
        request: &AddressRequest<'_>,
    ) -> Result<NewAddress, ProviderError>;

    /// Sends a withdrawal. `Duplicate` means an earlier attempt with the same request id arrived.
    async fn submit_withdrawal(&self, request: &WithdrawalRequest<'_>)
    -> Result<(), ProviderError>;

    /// Asks the provider whether an address is valid; `Unsupported` when it offers no check.
    async fn validate_address(
        &self,
        chain_asset: &ChainAsset,
        address: &str,
    ) -> Result<bool, ProviderError>;

    /// The coins the provider serves for this account.
    async fn supported_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError>;

    /// Verifies a callback (on its raw bytes) and turns it into events.
    fn parse_callback(&self, callback: &RawCallback) -> Result<Vec<ProviderEvent>, CallbackError>;

    /// The reply the provider expects.
    fn ack(&self, result: AckResult) -> Response;

    /// Lower-case names of the provider's callback headers that carry no secret (e.g. a signature
    /// or timestamp), stored as received; every other header outside a short common list is
    /// stored with its value redacted.
    fn kept_headers(&self) -> &'static [&'static str] {
        &[]
    }

    /// The pulled feeds this account has (e.g. deposit and withdrawal sync lists).
    fn feeds(&self) -> &'static [&'static str] {
        &[]
    }

    /// One page of `feed` after `cursor`.
    async fn poll(&self, feed: &str, _cursor: Option<&str>) -> Result<Polled, ProviderError> {
        Err(ProviderError::Unsupported(format!("no feed {feed}")))
    }

    /// Confirmations the gateway must count itself before crediting a deposit, where it must.
    fn required_confirmations(&self, _chain_asset: &ChainAsset) -> Option<u32> {
        None
    }

    /// The chain's current height, to count confirmations.
    async fn chain_height(&self, chain: &str) -> Result<i64, ProviderError> {
        Err(ProviderError::Unsupported(format!(
            "no chain height for {chain}"
        )))
    }

    /// The withdrawal as the provider knows it now; `None` when it has no record of the request id.
    async fn withdrawal_status(
        &self,
        _request_id: &str,
    ) -> Result<Option<ProviderEvent>, ProviderError> {
        Err(ProviderError::Unsupported(
            "no withdrawal status query".into(),
        ))
    }

    /// Whether the provider's signer asks this gateway before signing a withdrawal. Such an account's
    /// approval endpoint admits only callers holding its token (`[providers.approvals]`).
    fn takes_approvals(&self) -> bool {
        false
    }

    /// Reads a withdrawal approval request (verified as the provider's protocol requires).
    fn parse_approval(&self, _call: &RawCallback) -> Result<ApprovalCall, CallbackError> {
        Err(CallbackError::Malformed(
            "this provider sends no approval requests".into(),
        ))
    }

    /// The answer to an approval request: approve or refuse.
    fn approval_reply(&self, _request: &ApprovalRequest, approve: bool) -> Response {
        let status = if approve {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        (status, if approve { "SUCCESS" } else { "FAILURE" }).into_response()
    }
}
