//! ChainUp Custody MPC adapter (shared/providers/chainup_mpc.md, part A; seed 000). Every request and
//! reply is RSA-encrypted (`transport`, `client`); deposits are pulled from sync lists as well as
//! notified (`records`); confirmations are counted against chain height; withdrawals may be signed
//! (`sign`) and are approved by Co-Signer through the gateway's approval endpoint (`cosigner`).

mod client;
mod cosigner;
mod records;
pub mod settings;
pub mod sign;
pub mod transport;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use serde_json::{Map, json};

use crate::config::{ProviderAccountSettings, SettingsError};
use crate::domain::ChainAsset;
use crate::providers::crypto::rsa::{PrivateKey, PublicKey};
use crate::providers::crypto::{md5_hex, random_alphanumeric};
use crate::providers::{
    AddressRequest, ApprovalEndpoint, AssetInfo, CallbackError, Endpoint, Inbound, NewAddress,
    Outcome, Polled, Provider, ProviderError, ProviderEvent, ProviderKind, ProviderReply,
    RawCallback, RemoteAsset, Submitted, WithdrawalRef, WithdrawalRequest, http_client,
};

use client::{Method, fields, records};
use settings::{ChainupAsset, ChainupSettings};
use sign::{WithdrawalSignFields, chainup_sign, normalized_amount};

/// ChainUp MPC in the registry: `kind = "chainup_mpc"`, settings in `[providers.chainup]`,
/// simulated under `/sim/chainup`.
pub const KIND: ProviderKind = ProviderKind {
    name: "chainup_mpc",
    build: |account, base_url| Ok(Arc::new(ChainupProvider::new(account, base_url)?)),
    simulator: Some(crate::sim::chainup::SIMULATOR),
};

/// The account's own table: `[providers.chainup]`.
pub const SECTION: &str = "chainup";

/// Sync lists return at most this many records a page (A6).
const PAGE: usize = 100;
pub const FEED_DEPOSITS: &str = "deposits";
pub const FEED_WITHDRAWALS: &str = "withdrawals";

#[derive(Debug, Clone)]
struct ChainupCoin {
    chain_asset: ChainAsset,
    decimals: u32,
    symbol: String,
    base_symbol: String,
    confirmations: Option<u32>,
}

pub struct ChainupProvider {
    account_id: String,
    base_url: String,
    app_id: String,
    private_key: PrivateKey,
    chainup_key: PublicKey,
    sign_key: Option<PrivateKey>,
    withdraw_sub_wallet_id: i64,
    assets: Vec<AssetInfo>,
    coins: Vec<ChainupCoin>,
    http: reqwest::Client,
}

impl ChainupProvider {
    pub fn new(
        account: &ProviderAccountSettings,
        base_url: String,
    ) -> Result<ChainupProvider, SettingsError> {
        let invalid =
            |what: String| SettingsError::Invalid(format!("account {:?}: {what}", account.id));
        let settings: ChainupSettings = account.section(SECTION)?;
        let mut assets = Vec::new();
        let mut coins = Vec::new();
        for asset in account.assets::<ChainupAsset>()? {
            let info = AssetInfo::configured(account, &asset.chain, &asset.asset, asset.decimals)?;
            coins.push(ChainupCoin {
                base_symbol: asset.base_symbol.unwrap_or_else(|| info.chain.clone()),
                chain_asset: info.chain_asset(),
                decimals: asset.decimals,
                symbol: asset.symbol,
                confirmations: asset.confirmations,
            });
            assets.push(info);
        }
        Ok(ChainupProvider {
            account_id: account.id.clone(),
            base_url,
            app_id: settings.app_id.clone(),
            private_key: settings.private_key().map_err(invalid)?,
            chainup_key: settings.chainup_public_key().map_err(invalid)?,
            sign_key: settings.sign_key().map_err(invalid)?,
            withdraw_sub_wallet_id: settings.withdraw_sub_wallet_id,
            assets,
            coins,
            http: http_client(account)?,
        })
    }

    fn coin(&self, chain_asset: &ChainAsset) -> Result<&ChainupCoin, ProviderError> {
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

    fn coin_by_symbol(&self, symbol: &str) -> Option<&ChainupCoin> {
        self.coins
            .iter()
            .find(|c| c.symbol.eq_ignore_ascii_case(symbol))
    }
}

#[async_trait]
impl Provider for ChainupProvider {
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn kind(&self) -> &'static str {
        KIND.name
    }

    fn assets(&self) -> &[AssetInfo] {
        &self.assets
    }

    /// One sub-wallet per merchant user (`sub_wallet/create`, type 1 custody), remembered through
    /// `wallet_ref`, then `sub_wallet/create/address`. A system address (`addr_type` 2) is never
    /// handed out.
    async fn create_address(
        &self,
        request: &AddressRequest<'_>,
    ) -> Result<NewAddress, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let sub_wallet_id = match request.wallet_ref {
            Some(id) => id.to_owned(),
            None => {
                // Names are unique at ChainUp: the user's hash for ops, plus a random tail so that
                // a wallet created just before a crash never blocks the next attempt.
                let user_hash = md5_hex(&[&request.merchant_id.to_string(), ":", request.user_id]);
                let name = format!("cg-{}-{}", &user_hash[..24], random_alphanumeric(8));
                let created: wire::SubWalletCreated = self
                    .call_for(
                        Method::Post,
                        "/api/mpc/sub_wallet/create",
                        fields(&[
                            ("sub_wallet_name", json!(name)),
                            ("sub_wallet_type", json!(1)),
                        ]),
                    )
                    .await?;
                created.sub_wallet_id
            }
        };
        let numeric_id: i64 = sub_wallet_id
            .parse()
            .map_err(|_| unknown("sub_wallet_id is not a number"))?;
        let created: wire::AddressCreated = self
            .call_for(
                Method::Post,
                "/api/mpc/sub_wallet/create/address",
                fields(&[
                    ("sub_wallet_id", json!(numeric_id)),
                    ("symbol", json!(coin.symbol)),
                ]),
            )
            .await?;
        if created.addr_type.as_deref() == Some("2") {
            return Err(ProviderError::Refused {
                code: "system_address".into(),
                message: "ChainUp returned a system address, which is never assigned to users"
                    .into(),
            });
        }
        Ok(NewAddress {
            address: created.address,
            memo: created.memo,
            wallet_ref: Some(sub_wallet_id),
        })
    }

    /// `billing/withdraw` (A7) with `request_id` = our request id, the amount without trailing
    /// zeros, and `sign` (A5) when the account has a sign key. ChainUp answers its `withdraw_id`.
    async fn submit_withdrawal(
        &self,
        request: &WithdrawalRequest<'_>,
    ) -> Result<Submitted, ProviderError> {
        let coin = self.coin(request.chain_asset)?;
        let amount = normalized_amount(request.amount);
        let mut body = fields(&[
            ("request_id", json!(request.request_id)),
            ("sub_wallet_id", json!(self.withdraw_sub_wallet_id)),
            ("symbol", json!(coin.symbol)),
            ("address_to", json!(request.to_address)),
            ("amount", json!(amount)),
        ]);
        if let Some(memo) = request.memo {
            body.insert("memo".into(), json!(memo));
        }
        if let Some(key) = &self.sign_key {
            let text = WithdrawalSignFields {
                request_id: request.request_id,
                sub_wallet_id: self.withdraw_sub_wallet_id,
                symbol: &coin.symbol,
                address_to: request.to_address,
                amount: request.amount,
                memo: request.memo,
                outputs: None,
            }
            .signed_text();
            let sign = chainup_sign(&text, key).map_err(|e| ProviderError::Refused {
                code: "sign".into(),
                message: e.to_string(),
            })?;
            body.insert("sign".into(), json!(sign));
        }
        match self
            .call(Method::Post, "/api/mpc/billing/withdraw", body)
            .await
        {
            Ok(data) => {
                let accepted: wire::WithdrawAccepted =
                    serde_json::from_value(data).unwrap_or_default();
                Ok(Submitted {
                    provider_ref: accepted.withdraw_id,
                    // Co-Signer asks before it signs; ChainUp itself waits for nothing of ours.
                    awaits_approval: false,
                })
            }
            Err(ProviderError::Refused { code, .. }) if code == wire::CODE_DUPLICATE_REQUEST => {
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
            "ChainUp MPC offers no address check".into(),
        ))
    }

    /// `coin_list`, fetched unfiltered (the SDK's filter names differ from the docs').
    async fn supported_assets(&self) -> Result<Vec<RemoteAsset>, ProviderError> {
        let coins: Vec<wire::Coin> = self
            .call_for(Method::Get, "/api/mpc/coin_list", Map::new())
            .await?;
        Ok(coins
            .into_iter()
            .map(|coin| RemoteAsset {
                mapped_to: self
                    .coin_by_symbol(&coin.symbol)
                    .map(|c| c.chain_asset.clone()),
                decimals: coin
                    .decimals
                    .as_deref()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0),
                provider_ids: json!({ "symbol": coin.symbol, "base_symbol": coin.base_symbol,
                                      "contract_address": coin.contract_address,
                                      "deposit_confirmation": coin.deposit_confirmation }),
                name: coin.real_symbol,
                symbol: coin.symbol,
            })
            .collect())
    }

    /// Transaction notifications on the callback address; Co-Signer on the approval address.
    async fn read_callback(&self, raw: &RawCallback) -> Result<Inbound, CallbackError> {
        match raw.endpoint {
            Endpoint::Callbacks => self.read_notification(raw).map(Inbound::Events),
            Endpoint::Approvals => self.read_cosigner_call(&raw.body),
        }
    }

    /// Notifications are answered with the plain text `SUCCESS` (or `FAILURE`), never encrypted.
    fn reply(&self, raw: &RawCallback, outcome: Outcome) -> ProviderReply {
        if raw.endpoint == Endpoint::Approvals {
            return Self::cosigner_reply(outcome);
        }
        match outcome {
            Outcome::Stored | Outcome::Duplicate | Outcome::Approved => {
                ProviderReply::text(StatusCode::OK, "SUCCESS")
            }
            Outcome::Refused | Outcome::Declined => {
                ProviderReply::text(StatusCode::BAD_REQUEST, "FAILURE")
            }
            Outcome::RetryLater => ProviderReply::text(StatusCode::SERVICE_UNAVAILABLE, "FAILURE"),
        }
    }

    fn feeds(&self) -> &'static [&'static str] {
        &[FEED_DEPOSITS, FEED_WITHDRAWALS]
    }

    /// `sync_deposit_list` / `sync_withdraw_list` by `max_id` (A6): up to 100 records after it.
    async fn poll(&self, feed: &str, cursor: Option<&str>) -> Result<Polled, ProviderError> {
        let path = match feed {
            FEED_DEPOSITS => "/api/mpc/billing/sync_deposit_list",
            FEED_WITHDRAWALS => "/api/mpc/billing/sync_withdraw_list",
            other => return Err(ProviderError::Unsupported(format!("no feed {other}"))),
        };
        let max_id: i64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let data = self
            .call(Method::Get, path, fields(&[("max_id", json!(max_id))]))
            .await?;
        let records = records(data)?;
        let last = records
            .iter()
            .filter_map(|r| r.id.parse::<i64>().ok())
            .max();
        let events = records
            .iter()
            .map(|r| {
                if feed == FEED_DEPOSITS {
                    self.deposit_event(r)
                } else {
                    self.withdrawal_event(r)
                }
            })
            .collect();
        Ok(Polled {
            events,
            next_cursor: last.filter(|l| *l > max_id).map(|l| l.to_string()),
            more: records.len() >= PAGE,
        })
    }

    fn required_confirmations(&self, chain_asset: &ChainAsset) -> Option<u32> {
        self.coins
            .iter()
            .find(|c| &c.chain_asset == chain_asset)?
            .confirmations
    }

    /// `chain_height` for the chain's base symbol; `height` or `block_height`.
    async fn chain_height(&self, chain: &str) -> Result<i64, ProviderError> {
        let base = self
            .coins
            .iter()
            .find(|c| c.chain_asset.chain == chain)
            .map(|c| c.base_symbol.clone())
            .unwrap_or_else(|| chain.to_owned());
        let height: wire::ChainHeight = self
            .call_for(
                Method::Get,
                "/api/mpc/chain_height",
                fields(&[("base_symbol", json!(base))]),
            )
            .await?;
        height
            .height
            .or(height.block_height)
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| unknown("chain_height without a height"))
    }

    fn has_status_query(&self) -> bool {
        true
    }

    /// `withdraw_list?ids=<request_id>`.
    async fn withdrawal_status(
        &self,
        withdrawal: &WithdrawalRef<'_>,
    ) -> Result<Option<ProviderEvent>, ProviderError> {
        let data = self
            .call(
                Method::Get,
                "/api/mpc/billing/withdraw_list",
                fields(&[("ids", json!(withdrawal.request_id))]),
            )
            .await?;
        Ok(records(data)?
            .iter()
            .find(|r| r.request_id.as_deref() == Some(withdrawal.request_id))
            .map(|r| self.withdrawal_event(r)))
    }

    /// Co-Signer asks before it signs (A9b).
    fn approvals(&self) -> ApprovalEndpoint {
        ApprovalEndpoint::Token
    }
}

fn unknown(detail: &str) -> ProviderError {
    ProviderError::Unknown {
        detail: detail.to_owned(),
        timed_out: false,
    }
}

#[cfg(test)]
mod tests {
    use super::wire::{deposit_state, withdrawal_state};
    use crate::domain::{DepositState, WithdrawalState};

    #[test]
    fn statuses_map_to_states_and_unknown_ones_to_none() {
        assert_eq!(deposit_state("1000"), Some(DepositState::Detected));
        assert_eq!(deposit_state("1100"), Some(DepositState::Detected));
        assert_eq!(deposit_state("2000"), Some(DepositState::Confirmed));
        assert_eq!(deposit_state("3000"), Some(DepositState::Failed));
        assert_eq!(deposit_state("9999"), None);
        assert_eq!(withdrawal_state("1200"), Some(WithdrawalState::Broadcast));
        assert_eq!(withdrawal_state("2300"), Some(WithdrawalState::Rejected));
        assert_eq!(withdrawal_state("2400"), Some(WithdrawalState::Failed));
        assert_eq!(withdrawal_state("5"), None);
    }
}
