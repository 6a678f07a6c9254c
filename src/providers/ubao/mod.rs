//! UBAO adapter (seed 003; shared/providers/ubao.md). Requests are forms whose `body` is Base64 of
//! the JSON, signed `md5(body + api_key + nonce + timestamp)`; callbacks are signed the same way.
//! UBAO pays out only from the account's collection wallet on each chain, into which deposits are
//! swept; it also watches outside addresses, proves address ownership and reports balances.

mod callbacks;
mod client;
pub mod settings;
pub mod sign;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::json;

use crate::config::{ProviderAccountSettings, SettingsError};
use crate::domain::ChainAsset;
use crate::providers::{
    AddressRequest, AssetInfo, CallbackError, Capability, Inbound, NewAddress, Outcome, Provider,
    ProviderError, ProviderKind, ProviderReply, RawCallback, RemoteAsset, Submitted,
    WithdrawalRequest, http_client,
};

use settings::{UbaoAsset, UbaoSettings};

/// UBAO in the registry: `kind = "ubao"`, settings in `[providers.ubao]`, simulated under
/// `/sim/ubao`.
pub const KIND: ProviderKind = ProviderKind {
    name: "ubao",
    build: |account, base_url| Ok(Arc::new(UbaoProvider::new(account, base_url)?)),
    simulator: Some(crate::sim::ubao::SIMULATOR),
};

/// The account's own table: `[providers.ubao]`.
pub const SECTION: &str = "ubao";

/// A configured chain/asset with UBAO's numbers for it.
#[derive(Debug, Clone)]
struct UbaoCoin {
    chain_asset: ChainAsset,
    decimals: u32,
    coin_id: String,
    chain_type: i64,
    sweep_min: Option<Decimal>,
}

pub struct UbaoProvider {
    account_id: String,
    base_url: String,
    merchant_id: i64,
    api_key: SecretString,
    collection_wallets: BTreeMap<String, String>,
    assets: Vec<AssetInfo>,
    coins: Vec<UbaoCoin>,
    http: reqwest::Client,
}

impl UbaoProvider {
    pub fn new(
        account: &ProviderAccountSettings,
        base_url: String,
    ) -> Result<UbaoProvider, SettingsError> {
        let invalid =
            |what: String| SettingsError::Invalid(format!("account {:?}: {what}", account.id));
        let settings: UbaoSettings = account.section(SECTION)?;
        let mut assets = Vec::new();
        let mut coins = Vec::new();
        for asset in account.assets::<UbaoAsset>()? {
            let info = AssetInfo::configured(account, &asset.chain, &asset.asset, asset.decimals)?;
            let sweep_min = asset
                .sweep_min
                .as_deref()
                .map(|m| {
                    crate::domain::money::Amount::parse(m, asset.decimals)
                        .map(|a| a.value())
                        .map_err(|e| {
                            invalid(format!("{} sweep_min {m:?}: {e}", info.chain_asset()))
                        })
                })
                .transpose()?;
            coins.push(UbaoCoin {
                chain_asset: info.chain_asset(),
                decimals: asset.decimals,
                coin_id: asset.coin_id.to_string(),
                chain_type: asset.chain_type,
                sweep_min,
            });
            assets.push(info);
        }
        Ok(UbaoProvider {
            account_id: account.id.clone(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            merchant_id: settings.merchant_id,
            api_key: settings.api_key(&account.id).map_err(invalid)?,
            collection_wallets: settings.collection_wallets,
            assets,
            coins,
            http: http_client(account)?,
        })
    }

    fn coin(&self, chain_asset: &ChainAsset) -> Result<&UbaoCoin, ProviderError> {
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

    fn coin_by_id(&self, coin_id: &str) -> Option<&UbaoCoin> {
        self.coins.iter().find(|c| c.coin_id == coin_id)
    }

    /// UBAO's chain number for our chain.
    fn chain_type(&self, chain: &str) -> Result<i64, ProviderError> {
        self.coins
            .iter()
            .find(|c| c.chain_asset.chain == chain)
            .map(|c| c.chain_type)
            .ok_or_else(|| {
                ProviderError::Unsupported(format!("{chain} is not served by {}", self.account_id))
            })
    }

    /// `/mch/address/create` (§1) of a wallet of `kind` on `chain`.
    async fn new_wallet(
        &self,
        chain: &str,
        kind: i64,
        callback_url: &str,
    ) -> Result<String, ProviderError> {
        let reply = self
            .call(
                wire::PATH_ADDRESS_CREATE,
                &json!({ "chainType": self.chain_type(chain)?, "callUrl": callback_url, "type": kind }),
            )
            .await?;
        reply
            .address
            .filter(|a| !a.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                detail: "address/create gave no address".into(),
                timed_out: false,
            })
    }
}

#[async_trait]
impl Provider for UbaoProvider {
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn assets(&self) -> &[AssetInfo] {
        &self.assets
    }

    /// A receive address (§1, `type` 0). One per user and chain: the gateway asks only for a
    /// user's first address on a chain, and a token shares it with the chain's own coin.
    async fn create_address(
        &self,
        request: &AddressRequest<'_>,
    ) -> Result<NewAddress, ProviderError> {
        self.coin(request.chain_asset)?;
        let address = self
            .new_wallet(
                &request.chain_asset.chain,
                wire::WALLET_RECEIVE,
                request.callback_url,
            )
            .await?;
        Ok(NewAddress {
            address,
            memo: None,
            wallet_ref: None,
        })
    }

    /// `/mch/withdraw` (§2) from the collection wallet, `order_sn` = our request id.
    async fn submit_withdrawal(
        &self,
        request: &WithdrawalRequest<'_>,
    ) -> Result<Submitted, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let from = request.from_wallet.ok_or_else(|| {
            ProviderError::Unsupported("UBAO pays only from a collection wallet".into())
        })?;
        let body = json!({
            "from": from,
            "to": request.to_address,
            "amount": request.amount.normalize().to_string(),
            "coinID": coin.coin_id.parse::<i64>().unwrap_or_default(),
            "chainType": coin.chain_type,
            "order_sn": request.request_id,
        });
        match self.call(wire::PATH_WITHDRAW, &body).await {
            Ok(_) => Ok(Submitted::default()),
            Err(ProviderError::Refused { code, message }) => Err(match code.as_str() {
                wire::CODE_INSUFFICIENT_BALANCE => {
                    ProviderError::InsufficientFunds(format!("collection wallet {from}: {message}"))
                }
                wire::CODE_ORDER_SN_USED => ProviderError::Duplicate,
                _ => ProviderError::Refused { code, message },
            }),
            Err(err) => Err(err),
        }
    }

    /// `/mch/address/check` (§3).
    async fn validate_address(
        &self,
        chain_asset: &ChainAsset,
        address: &str,
    ) -> Result<bool, ProviderError> {
        let body = json!({ "chainType": self.chain_type(&chain_asset.chain)?, "address": address });
        match self.call(wire::PATH_ADDRESS_CHECK, &body).await {
            Ok(_) => Ok(true),
            Err(ProviderError::Refused { code, .. }) if code == wire::CODE_INVALID_ADDRESS => {
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// `/mch/coins` (§5), each coin with the chain/asset its `coinID` maps to here.
    async fn supported_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError> {
        let reply = self.call(wire::PATH_COINS, &json!({})).await?;
        let coins = match reply.coins {
            // The seed gives the list as JSON text: `"coins":"[]"`.
            Some(serde_json::Value::String(text)) => serde_json::from_str(&text),
            Some(other) => serde_json::from_value(other),
            None => Ok(Vec::new()),
        };
        let coins: Vec<wire::Coin> = coins.map_err(|e| ProviderError::Unknown {
            detail: format!("coins: {e}"),
            timed_out: false,
        })?;
        Ok(coins
            .into_iter()
            .map(|c| RemoteAsset {
                symbol: c.coin_name.clone().unwrap_or_default(),
                name: c.coin_type.clone().unwrap_or_default(),
                decimals: c
                    .decimals
                    .as_deref()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or_default(),
                provider_ids: json!({ "coinID": c.coin_id, "chainType": c.chain_type }),
                mapped_to: self.coin_by_id(&c.coin_id).map(|m| m.chain_asset.clone()),
            })
            .collect())
    }

    async fn read_callback(&self, raw: &RawCallback) -> Result<Inbound, CallbackError> {
        self.read_ubao_callback(raw).map(Inbound::Events)
    }

    /// Plain `SUCCESS` once stored (§8.4); anything else makes UBAO send it again at 5, 15 and
    /// 30 minutes.
    fn reply(&self, _raw: &RawCallback, outcome: Outcome) -> ProviderReply {
        match outcome {
            Outcome::Stored | Outcome::Duplicate | Outcome::Approved => {
                ProviderReply::text(StatusCode::OK, "SUCCESS")
            }
            Outcome::Refused | Outcome::Declined => {
                ProviderReply::text(StatusCode::BAD_REQUEST, "FAIL")
            }
            Outcome::RetryLater => ProviderReply::text(StatusCode::SERVICE_UNAVAILABLE, "FAIL"),
        }
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[
            Capability::WatchAddresses,
            Capability::OwnershipProof,
            Capability::AddressValidation,
            Capability::Balances,
            Capability::Sweeps,
        ]
    }

    /// `/mch/address/add` (§4).
    async fn watch_address(
        &self,
        chain: &str,
        address: &str,
        callback_url: &str,
    ) -> Result<(), ProviderError> {
        self.call(
            wire::PATH_ADDRESS_ADD,
            &json!({ "chainType": self.chain_type(chain)?, "address": address, "callUrl": callback_url }),
        )
        .await
        .map(|_| ())
    }

    /// `/mch/address/verify` (§7): `result` `"true"` proves the owner.
    async fn verify_ownership(
        &self,
        chain: &str,
        address: &str,
        message: &str,
        signature: &str,
    ) -> Result<bool, ProviderError> {
        let reply = self
            .call(
                wire::PATH_VERIFY,
                &json!({ "address": address, "message": message, "sign": signature,
                         "chainType": self.chain_type(chain)? }),
            )
            .await?;
        Ok(reply.result.as_deref() == Some("true"))
    }

    fn pays_from_collection_wallet(&self) -> bool {
        true
    }

    fn configured_collection_wallet(&self, chain: &str) -> Option<String> {
        self.collection_wallets.get(chain).cloned()
    }

    /// A collection wallet (§1, `type` 2), whose transfers are notified to `callback_url`.
    async fn create_collection_wallet(
        &self,
        chain: &str,
        callback_url: &str,
    ) -> Result<String, ProviderError> {
        self.new_wallet(chain, wire::WALLET_COLLECTION, callback_url)
            .await
    }

    fn sweep_threshold(&self, chain_asset: &ChainAsset) -> Option<Decimal> {
        self.coins
            .iter()
            .find(|c| &c.chain_asset == chain_asset)
            .and_then(|c| c.sweep_min)
    }

    /// `/mch/address/pooling` (§6).
    async fn sweep(&self, chain_asset: &ChainAsset, address: &str) -> Result<(), ProviderError> {
        let coin = self.coin(chain_asset)?;
        self.call(
            wire::PATH_POOLING,
            &json!({ "coinID": coin.coin_id.parse::<i64>().unwrap_or_default(), "address": address }),
        )
        .await
        .map(|_| ())
    }
}
