//! Pay Protocol adapter (seed 002; shared/providers/payprotocol.md). Requests are JSON signed with
//! an HMAC header; each user gets a sub-contract wallet per chain; callbacks are taken only as
//! prompts to ask Pay Protocol's own API, whose answer is what is applied; withdrawals wait for a
//! person to approve them in its console.

mod callbacks;
mod client;
mod limiter;
mod records;
pub mod settings;
pub mod sign;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::{ProviderAccountSettings, SettingsError};
use crate::domain::ChainAsset;
use crate::providers::{
    AddressRequest, AssetInfo, CallbackError, Inbound, NewAddress, OrderRef, Outcome, Polled,
    Provider, ProviderError, ProviderEvent, ProviderKind, ProviderReply, RawCallback, RemoteAsset,
    Submitted, WithdrawalRef, WithdrawalRequest, http_client,
};

use limiter::PerMinute;
use settings::{PayProtocolAsset, PayProtocolSettings};

/// Pay Protocol in the registry: `kind = "payprotocol"`, settings in `[providers.payprotocol]`,
/// simulated under `/sim/payprotocol`.
pub const KIND: ProviderKind = ProviderKind {
    name: "payprotocol",
    build: |account, base_url| Ok(Arc::new(PayProtocolProvider::new(account, base_url)?)),
    simulator: Some(crate::sim::payprotocol::SIMULATOR),
};

/// The account's own table: `[providers.payprotocol]`.
pub const SECTION: &str = "payprotocol";

/// The recharge list, read for recharges whose callbacks were lost (C4 `recharge/list`).
const FEED_RECHARGES: &str = "recharges";

/// A configured chain/asset with Pay Protocol's ids for it.
#[derive(Debug, Clone)]
struct PayCoin {
    chain_asset: ChainAsset,
    decimals: u32,
    chain_id: String,
    currency_id: String,
}

pub struct PayProtocolProvider {
    account_id: String,
    base_url: String,
    api_key: SecretString,
    api_secret: SecretString,
    assets: Vec<AssetInfo>,
    coins: Vec<PayCoin>,
    http: reqwest::Client,
    callback_window_secs: u64,
    unverified_prompts: PerMinute,
    recharge_overlap_secs: u64,
    recharge_lookback_secs: u64,
    /// What stops each configured asset being used, from the latest check of Pay Protocol's
    /// lists, with the number of that check: an older check that ends later never overwrites it.
    asset_problems: RwLock<(u64, BTreeMap<ChainAsset, String>)>,
    checks: AtomicU64,
}

/// Pay Protocol's `uuid` for a merchant's user: stable, and distinct across merchants, since one
/// account serves them all.
pub fn user_uuid(merchant_id: uuid::Uuid, user_id: &str) -> String {
    let digest = Sha256::digest(format!("{merchant_id}:{user_id}").as_bytes());
    format!("cg{}", &hex::encode(digest)[..32])
}

impl PayProtocolProvider {
    pub fn new(
        account: &ProviderAccountSettings,
        base_url: String,
    ) -> Result<PayProtocolProvider, SettingsError> {
        let invalid =
            |what: String| SettingsError::Invalid(format!("account {:?}: {what}", account.id));
        let settings: PayProtocolSettings = account.section(SECTION)?;
        let mut assets = Vec::new();
        let mut coins = Vec::new();
        for asset in account.assets::<PayProtocolAsset>()? {
            let info = AssetInfo::configured(account, &asset.chain, &asset.asset, asset.decimals)?;
            coins.push(PayCoin {
                chain_asset: info.chain_asset(),
                decimals: asset.decimals,
                chain_id: asset.chain_id.to_string(),
                currency_id: asset.currency_id.to_string(),
            });
            assets.push(info);
        }
        Ok(PayProtocolProvider {
            account_id: account.id.clone(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: settings.api_key(&account.id).map_err(invalid)?,
            api_secret: settings.api_secret(&account.id).map_err(invalid)?,
            assets,
            coins,
            http: http_client(account)?,
            callback_window_secs: settings.callback_window_secs,
            unverified_prompts: PerMinute::new(settings.unverified_prompts_per_minute),
            recharge_overlap_secs: settings.recharge_overlap_secs,
            recharge_lookback_secs: settings.recharge_lookback_secs,
            asset_problems: RwLock::new((0, BTreeMap::new())),
            checks: AtomicU64::new(0),
        })
    }

    fn coin(&self, chain_asset: &ChainAsset) -> Result<&PayCoin, ProviderError> {
        self.coins
            .iter()
            .find(|c| &c.chain_asset == chain_asset)
            .ok_or_else(|| {
                ProviderError::Unsupported(format!(
                    "{chain_asset} is not mapped for {}",
                    self.account_id
                ))
            })
    }

    fn coin_by_ids(&self, chain_id: &str, currency_id: &str) -> Option<&PayCoin> {
        self.coins
            .iter()
            .find(|c| c.chain_id == chain_id && c.currency_id == currency_id)
    }

    /// The user's wallet address on `chain_id`, if Pay Protocol knows the user (C4 `user/detail`).
    async fn wallet_of(&self, uuid: &str, chain_id: &str) -> Result<Option<String>, ProviderError> {
        let detail: wire::UserDetail = match self
            .get_for(wire::PATH_USER_DETAIL, &[("UUID", uuid)])
            .await
        {
            Ok(detail) => detail,
            // No public error table: any refusal here is taken as "no such user yet".
            Err(ProviderError::Refused { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(detail
            .user_wallet
            .into_iter()
            .find(|w| w.chain_id == chain_id)
            .map(|w| w.wallet_address))
    }

    /// Compares the configured ids and decimals with Pay Protocol's lists (C4 `conf/list/*`),
    /// remembers what differs, and returns the currencies as the provider reports them.
    async fn check_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError> {
        let check = self.checks.fetch_add(1, Ordering::SeqCst) + 1;
        let chains: Vec<wire::Chain> = self.get_for(wire::PATH_CHAINS, &[]).await?;
        let mut remote = Vec::new();
        let mut problems = BTreeMap::new();
        let chain_ids: std::collections::BTreeSet<&str> =
            self.coins.iter().map(|c| c.chain_id.as_str()).collect();
        for chain_id in chain_ids {
            let Some(chain) = chains.iter().find(|c| c.chain_id == chain_id) else {
                for coin in self.coins.iter().filter(|c| c.chain_id == chain_id) {
                    problems.insert(
                        coin.chain_asset.clone(),
                        format!("chain {chain_id} is not in Pay Protocol's chain list"),
                    );
                }
                continue;
            };
            let currencies: Vec<wire::Currency> = self
                .get_for(wire::PATH_CURRENCIES, &[("chainId", chain_id)])
                .await?;
            for currency in &currencies {
                let decimals = currency.decimals.as_deref().and_then(|d| d.parse().ok());
                let mapped = self.coin_by_ids(chain_id, &currency.currency_id);
                remote.push(RemoteAsset {
                    symbol: currency.currency_name.clone().unwrap_or_default(),
                    name: chain.chain_name.clone().unwrap_or_default(),
                    decimals: decimals.unwrap_or_default(),
                    provider_ids: json!({ "chainId": chain_id, "currencyId": currency.currency_id }),
                    mapped_to: mapped.map(|c| c.chain_asset.clone()),
                });
            }
            for coin in self.coins.iter().filter(|c| c.chain_id == chain_id) {
                let listed = currencies
                    .iter()
                    .find(|c| c.currency_id == coin.currency_id);
                let problem = match listed
                    .map(|c| c.decimals.as_deref().and_then(|d| d.parse::<u32>().ok()))
                {
                    None => Some(format!(
                        "currency {} is not in Pay Protocol's list for chain {chain_id}",
                        coin.currency_id
                    )),
                    Some(None) => Some(format!(
                        "Pay Protocol gives no decimals for currency {}",
                        coin.currency_id
                    )),
                    Some(Some(d)) if d != coin.decimals => Some(format!(
                        "Pay Protocol gives currency {} {d} decimals, the configuration {}",
                        coin.currency_id, coin.decimals
                    )),
                    Some(Some(_)) => None,
                };
                if let Some(problem) = problem {
                    problems.insert(coin.chain_asset.clone(), problem);
                }
            }
        }
        for (asset, problem) in &problems {
            tracing::error!(account = %self.account_id, %asset, %problem, "asset not used until the configuration agrees with Pay Protocol");
        }
        let mut latest = self.asset_problems.write().unwrap();
        if check > latest.0 {
            *latest = (check, problems);
        }
        Ok(remote)
    }

    fn unusable(&self, chain_asset: &ChainAsset) -> Option<String> {
        self.asset_problems
            .read()
            .unwrap()
            .1
            .get(chain_asset)
            .cloned()
    }
}

#[async_trait]
impl Provider for PayProtocolProvider {
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn assets(&self) -> &[AssetInfo] {
        &self.assets
    }

    /// `user/detail`, else `user/create` then `user/detail` (C4, seed 002 "Recharge Process"): a
    /// user created earlier (a repeat, or a crash between the two calls) is found, not made again.
    async fn create_address(
        &self,
        request: &AddressRequest<'_>,
    ) -> Result<NewAddress, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let uuid = user_uuid(request.merchant_id, request.user_id);
        let found = |address: String| NewAddress {
            address,
            memo: None,
            wallet_ref: None,
        };
        if let Some(address) = self.wallet_of(&uuid, &coin.chain_id).await? {
            return Ok(found(address));
        }
        let created = self
            .post_for::<serde_json::Value>(wire::PATH_USER_CREATE, &json!({ "uuid": uuid }))
            .await;
        // Refused may mean another request created the user meanwhile: ask again either way.
        if let Some(address) = self.wallet_of(&uuid, &coin.chain_id).await? {
            return Ok(found(address));
        }
        match created {
            Err(err) => Err(err),
            Ok(_) => Err(ProviderError::Refused {
                code: "no_wallet".into(),
                message: format!(
                    "Pay Protocol gave the user no wallet on chain {}",
                    coin.chain_id
                ),
            }),
        }
    }

    /// `withdraw/apply` (C4) with `outTradeNo` = our request id and the amount as a decimal.
    async fn submit_withdrawal(
        &self,
        request: &WithdrawalRequest<'_>,
    ) -> Result<Submitted, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        if let Some(problem) = self.unusable(request.chain_asset) {
            // Not sent: kept to be sent once the configuration agrees with Pay Protocol.
            return Err(ProviderError::Unreachable(problem));
        }
        let body = json!({
            "chainId": coin.chain_id.parse::<i64>().unwrap_or_default(),
            "currencyId": coin.currency_id.parse::<i64>().unwrap_or_default(),
            "withdrawAddress": request.to_address,
            "withdrawAmount": request.amount.normalize().to_string(),
            "outTradeNo": request.request_id,
            "notifyUrl": request.callback_url,
        });
        match self
            .post_for::<wire::Applied>(wire::PATH_WITHDRAW_APPLY, &body)
            .await
        {
            Ok(applied) => Ok(Submitted {
                provider_ref: Some(applied.withdraw_id),
                awaits_approval: false,
            }),
            Err(ProviderError::Refused { code, .. }) if code == wire::CODE_OUT_TRADE_NO_TAKEN => {
                Err(ProviderError::Duplicate)
            }
            Err(err) => Err(err),
        }
    }

    async fn validate_address(
        &self,
        _chain_asset: &ChainAsset,
        _address: &str,
    ) -> Result<bool, ProviderError> {
        Err(ProviderError::Unsupported(
            "Pay Protocol offers no address check".into(),
        ))
    }

    async fn supported_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError> {
        self.check_assets().await
    }

    async fn read_callback(&self, raw: &RawCallback) -> Result<Inbound, CallbackError> {
        self.read_pay_callback(raw).await
    }

    /// HTTP 200 `text/plain` `success` once stored (C5); anything else makes Pay Protocol send
    /// it again.
    fn reply(&self, _raw: &RawCallback, outcome: Outcome) -> ProviderReply {
        use axum::http::StatusCode;
        match outcome {
            Outcome::Stored | Outcome::Duplicate | Outcome::Approved => {
                ProviderReply::text(StatusCode::OK, "success")
            }
            Outcome::Refused | Outcome::Declined => {
                ProviderReply::text(StatusCode::BAD_REQUEST, "fail")
            }
            Outcome::RetryLater => ProviderReply::text(StatusCode::SERVICE_UNAVAILABLE, "retry"),
        }
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        &[sign::TIMESTAMP_HEADER, sign::SIGN_HEADER]
    }

    fn feeds(&self) -> &'static [&'static str] {
        &[FEED_RECHARGES]
    }

    async fn poll(&self, feed: &str, cursor: Option<&str>) -> Result<Polled, ProviderError> {
        match feed {
            FEED_RECHARGES => self.poll_recharges(cursor).await,
            other => Err(ProviderError::Unsupported(format!("no feed {other}"))),
        }
    }

    fn has_status_query(&self) -> bool {
        true
    }

    /// `withdraw/detail` by `withdrawId` when Pay Protocol gave one, else by `outTradeNo`.
    async fn withdrawal_status(
        &self,
        withdrawal: &WithdrawalRef<'_>,
    ) -> Result<Option<ProviderEvent>, ProviderError> {
        let query = match withdrawal.provider_ref {
            Some(id) => ("withdrawId", id),
            None => ("outTradeNo", withdrawal.request_id),
        };
        match self
            .get_for::<wire::Withdraw>(wire::PATH_WITHDRAW_DETAIL, &[query])
            .await
        {
            Ok(record) => {
                let event = self.withdraw_event(&record);
                match self.problem_of(&event) {
                    Some(problem) => Err(ProviderError::Unreachable(problem)),
                    None => Ok(Some(event)),
                }
            }
            Err(ProviderError::Refused { code, .. }) if code == wire::CODE_WITHDRAW_NOT_FOUND => {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// `recharge/notify` and `withdraw/notify` (C4), by Pay Protocol's ids.
    async fn renotify(&self, order: &OrderRef<'_>) -> Result<(), ProviderError> {
        match order {
            OrderRef::Deposit { provider_ref } => {
                self.get_for::<serde_json::Value>(
                    wire::PATH_RECHARGE_NOTIFY,
                    &[("rechargeId", provider_ref)],
                )
                .await?;
            }
            OrderRef::Withdrawal(withdrawal) => {
                let withdraw_id = match withdrawal.provider_ref {
                    Some(id) => id.to_owned(),
                    None => {
                        self.get_for::<wire::Withdraw>(
                            wire::PATH_WITHDRAW_DETAIL,
                            &[("outTradeNo", withdrawal.request_id)],
                        )
                        .await?
                        .withdraw_id
                    }
                };
                self.get_for::<serde_json::Value>(
                    wire::PATH_WITHDRAW_NOTIFY,
                    &[("withdrawId", &withdraw_id)],
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn refresh(&self) -> Result<(), ProviderError> {
        self.check_assets().await.map(|_| ())
    }

    fn asset_problem(&self, chain_asset: &ChainAsset) -> Option<String> {
        self.unusable(chain_asset)
    }
}

/// How long ago `secs` (Unix seconds) was, from our clock.
fn skew(secs: i64) -> Duration {
    Duration::from_secs(chrono::Utc::now().timestamp().abs_diff(secs))
}
