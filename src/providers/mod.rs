//! The provider abstraction (DESIGN §3): what the core asks of a custody provider, in its own terms.
//! Everything provider-shaped (field names, units, signing, reply forms) stays inside an adapter.

pub mod chainup_mpc;
pub mod crypto;
pub mod events;
pub mod inbound;
pub mod payprotocol;
pub mod registry;
pub mod text_fields;
pub mod ubao;
pub mod udun;
pub mod waas;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::{ProviderAccountSettings, SettingsError};
use crate::domain::ChainAsset;

pub use events::{
    AddressChangedEvent, AssetReport, BalanceEvent, DepositEvent, EventBody, EventKind,
    InvalidEvent, NoticeEvent, ProviderEvent, RiskScores, TreasuryTransferEvent, WithdrawalEvent,
};
pub use inbound::{
    ApprovalRequest, ApprovalStage, CallbackError, Endpoint, Inbound, Outcome, ProviderReply,
    RawCallback,
};
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
    /// The merchant the withdrawal is for (providers that keep users pay from the merchant's own).
    pub merchant_id: uuid::Uuid,
    /// Our idempotency key at the provider, identical on every attempt.
    pub request_id: &'a str,
    pub chain_asset: &'a ChainAsset,
    pub amount: Decimal,
    pub to_address: &'a str,
    pub memo: Option<&'a str>,
    pub callback_url: &'a str,
    /// The account's wallet to pay from, for providers that pay only from one of ours
    /// ([`Provider::pays_from_collection_wallet`]).
    pub from_wallet: Option<&'a str>,
}

/// Who may call an account's approval endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalEndpoint {
    /// The provider asks no approvals there.
    None,
    /// Its signer posts plaintext that proves nothing (ChainUp Co-Signer): only callers holding the
    /// account's token (`[providers.approvals]`) are heard, and outside simulator mode the gateway
    /// refuses to start without one.
    Token,
    /// Its calls there are authenticated by its own protocol (a key, a signature, encryption),
    /// which the adapter checks in `read_callback`.
    Provider,
}

/// What the provider said when it took a withdrawal in, kept on the withdrawal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submitted {
    /// Its own id for the withdrawal, when it gives one at once.
    pub provider_ref: Option<String>,
    /// Whether it now waits for our second confirmation before it pays.
    pub awaits_approval: bool,
}

/// A withdrawal as a provider knows it: our request id, and its own id once it gave one.
#[derive(Debug, Clone, Copy)]
pub struct WithdrawalRef<'a> {
    pub request_id: &'a str,
    pub provider_ref: Option<&'a str>,
}

/// What an account can do beyond addresses, deposits and withdrawals (`/v1/assets`
/// `capabilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Watches outside addresses: `POST /v1/watch-addresses`.
    WatchAddresses,
    /// Checks a signed message proves an address's owner: `POST /v1/addresses/verify-ownership`.
    OwnershipProof,
    /// Checks addresses itself: `POST /v1/addresses/validate`.
    AddressValidation,
    /// Reports the balances of the account's addresses.
    Balances,
    /// Sweeps deposits into the wallet it pays out from.
    Sweeps,
}

/// An order the provider told us about, by the ids it knows it by.
#[derive(Debug, Clone, Copy)]
pub enum OrderRef<'a> {
    /// A deposit, by the provider's id of the transfer.
    Deposit {
        provider_ref: &'a str,
    },
    Withdrawal(WithdrawalRef<'a>),
}

/// How a provider call ended when it did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider certainly did not act (bad address, balance, parameters, signature).
    #[error("provider refused ({code}): {message}")]
    Refused { code: String, message: String },
    /// A refusal because the wallet paying out does not hold enough: the provider did not act.
    #[error("the paying wallet does not hold enough: {0}")]
    InsufficientFunds(String),
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

/// Sends a provider request and reads its reply's text. A 5xx (or a reply cut off) may mean the
/// provider acted: `Unknown`. Other statuses are the adapter's to read, with the body.
pub async fn send_for_text(
    request: reqwest::RequestBuilder,
    path: &str,
) -> Result<(reqwest::StatusCode, String), ProviderError> {
    let response = request
        .send()
        .await
        .map_err(ProviderError::from_transport)?;
    let status = response.status();
    if status.is_server_error() {
        return Err(ProviderError::Unknown {
            detail: format!("HTTP {status} from {path}"),
            timed_out: false,
        });
    }
    let text = response
        .text()
        .await
        .map_err(ProviderError::from_transport)?;
    Ok((status, text))
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

/// One page of a pulled feed (DESIGN §3 `poll`).
#[derive(Debug, Default)]
pub struct Polled {
    pub events: Vec<ProviderEvent>,
    /// Where the next page starts; stored with the events in one transaction.
    pub next_cursor: Option<String>,
    /// Whether another page is ready now.
    pub more: bool,
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
    async fn submit_withdrawal(
        &self,
        request: &WithdrawalRequest<'_>,
    ) -> Result<Submitted, ProviderError>;

    /// Asks the provider whether an address is valid; `Unsupported` when it offers no check.
    async fn validate_address(
        &self,
        chain_asset: &ChainAsset,
        address: &str,
    ) -> Result<bool, ProviderError>;

    /// The coins the provider serves for this account.
    async fn supported_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError>;

    /// Reads what the provider POSTed to `raw.endpoint`, verified on its raw bytes first. It may
    /// ask the provider to confirm what the call says (`CallbackError::Unavailable` when it
    /// cannot: the provider is then asked to retry, never refused).
    async fn read_callback(&self, raw: &RawCallback) -> Result<Inbound, CallbackError>;

    /// The answer in the provider's own form to the call `raw`, given what became of it.
    fn reply(&self, raw: &RawCallback, outcome: Outcome) -> ProviderReply;

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

    /// Whether [`Provider::withdrawal_status`] is offered: quiet withdrawals are then reconciled
    /// by asking, whether or not the account has feeds.
    fn has_status_query(&self) -> bool {
        false
    }

    /// The withdrawal as the provider knows it now; `None` when it has no record of it.
    async fn withdrawal_status(
        &self,
        _withdrawal: &WithdrawalRef<'_>,
    ) -> Result<Option<ProviderEvent>, ProviderError> {
        Err(ProviderError::Unsupported(
            "no withdrawal status query".into(),
        ))
    }

    /// Whether the account's approval endpoint (`/callbacks/{id}/approvals`) is served, and who
    /// authenticates its callers.
    fn approvals(&self) -> ApprovalEndpoint {
        ApprovalEndpoint::None
    }

    /// Asks the provider to send its callback about `order` again, where it offers that.
    async fn renotify(&self, _order: &OrderRef<'_>) -> Result<(), ProviderError> {
        Err(ProviderError::Unsupported(
            "the provider offers no renotification".into(),
        ))
    }

    /// Checks the configuration against what the provider says of the account's assets (ids,
    /// decimals), at start and when an operator asks. Where it differs, the asset is not used
    /// until it agrees again: see [`Provider::asset_problem`].
    async fn refresh(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Why `chain_asset` must not be used now (e.g. its decimals differ from the provider's), if
    /// it must not. Addresses and withdrawals are then refused, and callbacks about it are asked
    /// to come again, rather than paying or crediting with the wrong decimals.
    fn asset_problem(&self, _chain_asset: &ChainAsset) -> Option<String> {
        None
    }

    /// What the account offers beyond addresses, deposits and withdrawals.
    fn capabilities(&self) -> &'static [Capability] {
        &[]
    }

    /// Has the provider watch an outside address, its transfers notified to `callback_url`.
    async fn watch_address(
        &self,
        _chain: &str,
        _address: &str,
        _callback_url: &str,
    ) -> Result<(), ProviderError> {
        Err(ProviderError::Unsupported(
            "the provider watches no outside addresses".into(),
        ))
    }

    /// Whether `signature` of `message` proves the owner of `address`.
    async fn verify_ownership(
        &self,
        _chain: &str,
        _address: &str,
        _message: &str,
        _signature: &str,
    ) -> Result<bool, ProviderError> {
        Err(ProviderError::Unsupported(
            "the provider offers no ownership proof".into(),
        ))
    }

    /// Whether withdrawals are paid only from a wallet of the account's own on each chain (UBAO's
    /// collection wallet), which the gateway then keeps and passes as `from_wallet`.
    fn pays_from_collection_wallet(&self) -> bool {
        false
    }

    /// The collection wallet the configuration gives for `chain`, if any.
    fn configured_collection_wallet(&self, _chain: &str) -> Option<String> {
        None
    }

    /// Makes the account's collection wallet on `chain`, its notifications to `callback_url`.
    async fn create_collection_wallet(
        &self,
        chain: &str,
        _callback_url: &str,
    ) -> Result<String, ProviderError> {
        Err(ProviderError::Unsupported(format!(
            "no collection wallet on {chain}"
        )))
    }

    /// The smallest confirmed deposit of `chain_asset` that is swept into the collection wallet;
    /// `None`: no sweeps.
    fn sweep_threshold(&self, _chain_asset: &ChainAsset) -> Option<Decimal> {
        None
    }

    /// Asks the provider to sweep `address`'s `chain_asset` into the collection wallet.
    async fn sweep(&self, chain_asset: &ChainAsset, _address: &str) -> Result<(), ProviderError> {
        Err(ProviderError::Unsupported(format!(
            "no sweeps of {chain_asset}"
        )))
    }
}
