//! WaaS (UUWallet) adapter (shared/providers/waas.md part C; seed 004). Requests are sealed with
//! WaaS's public key and replies opened with it (`transport`); every callback comes to one
//! address with a `type` (`callbacks`), including the second confirmation WaaS asks before it pays
//! a withdrawal out. WaaS offers no status query: a withdrawal whose last callback is lost waits in
//! `/ops/withdrawals/attention`.

mod callbacks;
pub mod settings;
pub mod transport;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{ProviderAccountSettings, SettingsError};
use crate::domain::ChainAsset;
use crate::domain::money::to_wire;
use crate::providers::crypto::rsa::PublicKey;
use crate::providers::{
    AddressRequest, ApprovalEndpoint, AssetInfo, CallbackError, Inbound, NewAddress, Outcome,
    Provider, ProviderError, ProviderKind, ProviderReply, RawCallback, RemoteAsset, Submitted,
    WithdrawalRequest, http_client, send_for_text,
};

use settings::{WaasAsset, WaasSettings, WaasWithdrawMode};
use transport::{open_reply, seal_for_waas};

/// WaaS in the registry: `kind = "waas"`, settings in `[providers.waas]`, simulated under
/// `/sim/waas`.
pub const KIND: ProviderKind = ProviderKind {
    name: "waas",
    build: |account, base_url| Ok(Arc::new(WaasProvider::new(account, base_url)?)),
    simulator: Some(crate::sim::waas::SIMULATOR),
};

/// The account's own table: `[providers.waas]`.
pub const SECTION: &str = "waas";

/// A configured chain/asset with WaaS's names for it.
#[derive(Debug, Clone)]
struct WaasCoin {
    chain_asset: ChainAsset,
    decimals: u32,
    chain_name: String,
    symbol: String,
}

pub struct WaasProvider {
    account_id: String,
    base_url: String,
    api_key: SecretString,
    public_key: PublicKey,
    user_id: i64,
    withdraw_mode: WaasWithdrawMode,
    hold_at_risk: Option<i16>,
    assets: Vec<AssetInfo>,
    coins: Vec<WaasCoin>,
    http: reqwest::Client,
}

/// A stable WaaS user for a merchant's user. WaaS accounts are shared by all our merchants, so two
/// merchants' `alice` must not share a wallet.
pub fn tenant_user_id(merchant_id: uuid::Uuid, user_id: &str) -> String {
    let digest = Sha256::digest(format!("{merchant_id}:{user_id}").as_bytes());
    format!("u{}", &hex::encode(digest)[..31])
}

/// The merchant's own WaaS user, from whose balance its withdrawals are paid.
pub fn payout_tenant(merchant_id: uuid::Uuid) -> String {
    format!("m{}", merchant_id.simple())
}

impl WaasProvider {
    pub fn new(
        account: &ProviderAccountSettings,
        base_url: String,
    ) -> Result<WaasProvider, SettingsError> {
        let invalid =
            |what: String| SettingsError::Invalid(format!("account {:?}: {what}", account.id));
        let settings: WaasSettings = account.section(SECTION)?;
        let mut assets = Vec::new();
        let mut coins = Vec::new();
        for asset in account.assets::<WaasAsset>()? {
            let info = AssetInfo::configured(account, &asset.chain, &asset.asset, asset.decimals)?;
            coins.push(WaasCoin {
                chain_asset: info.chain_asset(),
                decimals: asset.decimals,
                chain_name: asset.chain_name,
                symbol: asset.symbol,
            });
            assets.push(info);
        }
        Ok(WaasProvider {
            account_id: account.id.clone(),
            base_url,
            api_key: settings.api_key(&account.id).map_err(invalid)?,
            public_key: settings.public_key().map_err(invalid)?,
            user_id: settings.user_id,
            withdraw_mode: settings.withdraw_mode,
            hold_at_risk: settings.hold_deposits_at_risk,
            assets,
            coins,
            http: http_client(account)?,
        })
    }

    fn coin(&self, chain_asset: &ChainAsset) -> Result<&WaasCoin, ProviderError> {
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

    fn coin_by_names(&self, chain_name: &str, symbol: &str) -> Option<&WaasCoin> {
        self.coins.iter().find(|c| {
            c.chain_name.eq_ignore_ascii_case(chain_name) && c.symbol.eq_ignore_ascii_case(symbol)
        })
    }

    /// Our chain for WaaS's chain name.
    fn chain_of(&self, chain_name: &str) -> Option<&str> {
        self.coins
            .iter()
            .find(|c| c.chain_name.eq_ignore_ascii_case(chain_name))
            .map(|c| c.chain_asset.chain.as_str())
    }

    /// Seals `fields` and posts them to `path` (C1, C2); the decrypted `data` of a `code` 0 reply.
    async fn call(&self, path: &str, fields: Value) -> Result<Value, ProviderError> {
        let data =
            seal_for_waas(&fields, &self.public_key).map_err(|e| ProviderError::Refused {
                code: "encrypt".into(),
                message: e.to_string(),
            })?;
        let request = self
            .http
            .post(format!("{}{}", self.base_url, path))
            .header("X-API-KEY", self.api_key.expose_secret())
            .form(&[("data", data.as_str())]);
        let (_, body) = send_for_text(request, path).await?;
        let reply = open_reply(&body, &self.public_key).map_err(|e| ProviderError::Unknown {
            detail: format!("reply from {path}: {e}"),
            timed_out: false,
        })?;
        if reply.is_ok() {
            Ok(reply.data)
        } else {
            Err(ProviderError::Refused {
                code: reply.code,
                message: reply.message,
            })
        }
    }
}

#[async_trait]
impl Provider for WaasProvider {
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn assets(&self) -> &[AssetInfo] {
        &self.assets
    }

    /// `getUserAddress` (C2): one address per WaaS user and chain, for every symbol on it.
    async fn create_address(
        &self,
        request: &AddressRequest<'_>,
    ) -> Result<NewAddress, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let tenant = tenant_user_id(request.merchant_id, request.user_id);
        let data = self
            .call(
                wire::PATH_USER_ADDRESS,
                json!({ "tenantUserId": tenant, "chainName": coin.chain_name, "symbol": coin.symbol }),
            )
            .await?;
        let created: wire::UserAddress =
            serde_json::from_value(data).map_err(|e| ProviderError::Unknown {
                detail: format!("getUserAddress data: {e}"),
                timed_out: false,
            })?;
        Ok(NewAddress {
            address: created.address,
            memo: None,
            wallet_ref: Some(tenant),
        })
    }

    /// `withdrawRequest` (WaaS then asks us to confirm, type 2) or `withdrawWithoutVerify`, with
    /// `callBackId` = our request id and the amount as a decimal string.
    async fn submit_withdrawal(
        &self,
        request: &WithdrawalRequest<'_>,
    ) -> Result<Submitted, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let path = match self.withdraw_mode {
            WaasWithdrawMode::Verify => wire::PATH_WITHDRAW_VERIFY,
            WaasWithdrawMode::Direct => wire::PATH_WITHDRAW_DIRECT,
        };
        let data = self
            .call(
                path,
                json!({
                    "userId": self.user_id,
                    "tenantUserId": payout_tenant(request.merchant_id),
                    "tenantType": 1,
                    "callBackId": request.request_id,
                    "symbol": coin.symbol,
                    "chainName": coin.chain_name,
                    "toAddr": request.to_address,
                    "amount": to_wire(request.amount),
                }),
            )
            .await?;
        let accepted: wire::WithdrawAccepted = serde_json::from_value(data).unwrap_or_default();
        Ok(Submitted {
            provider_ref: accepted.id,
            awaits_approval: self.withdraw_mode == WaasWithdrawMode::Verify,
        })
    }

    async fn validate_address(
        &self,
        _chain_asset: &ChainAsset,
        _address: &str,
    ) -> Result<bool, ProviderError> {
        Err(ProviderError::Unsupported(
            "WaaS offers no address check".into(),
        ))
    }

    /// WaaS publishes no coin list: the configured mapping is all there is.
    async fn supported_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError> {
        Ok(self
            .coins
            .iter()
            .map(|c| RemoteAsset {
                symbol: c.symbol.clone(),
                name: c.symbol.clone(),
                decimals: c.decimals,
                provider_ids: json!({ "chainName": c.chain_name, "symbol": c.symbol }),
                mapped_to: Some(c.chain_asset.clone()),
            })
            .collect())
    }

    async fn read_callback(&self, raw: &RawCallback) -> Result<Inbound, CallbackError> {
        self.read_waas_callback(raw)
    }

    fn reply(&self, raw: &RawCallback, outcome: Outcome) -> ProviderReply {
        self.waas_reply(raw, outcome)
    }

    /// The second confirmation may come to the approval address too; WaaS's key authenticates it.
    fn approvals(&self) -> ApprovalEndpoint {
        ApprovalEndpoint::Provider
    }
}
