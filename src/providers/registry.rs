//! The provider accounts of this gateway, and the routing of requests to them.

use std::sync::Arc;

use crate::config::{ProviderKind, Settings, SettingsError};
use crate::domain::ChainAsset;

use super::Provider;
use super::chainup_mpc::ChainupProvider;
use super::udun::UdunProvider;

struct Account {
    provider: Arc<dyn Provider>,
    enabled: bool,
}

pub struct Registry {
    accounts: Vec<Account>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("no provider account named {0:?}")]
    UnknownAccount(String),
    #[error("provider account {account:?} does not serve {chain_asset}")]
    AccountDoesNotServe {
        account: String,
        chain_asset: ChainAsset,
    },
    #[error("no provider account serves {0}")]
    NotServed(ChainAsset),
}

impl Registry {
    /// Builds every configured account. `sim_base_url` replaces `base_url = "sim"`.
    pub fn build(
        settings: &Settings,
        sim_base_url: Option<&str>,
    ) -> Result<Registry, SettingsError> {
        let mut accounts = Vec::new();
        for account in &settings.providers {
            let base_url = if account.uses_simulator() {
                let base = sim_base_url.ok_or_else(|| {
                    SettingsError::Invalid(format!(
                        "account {:?} needs the built-in simulator",
                        account.id
                    ))
                })?;
                format!("{base}/sim/{}", account.kind.as_str())
            } else {
                account.base_url.trim_end_matches('/').to_owned()
            };
            let provider: Arc<dyn Provider> = match account.kind {
                ProviderKind::Udun => Arc::new(UdunProvider::new(account, base_url)?),
                ProviderKind::ChainupMpc => Arc::new(ChainupProvider::new(account, base_url)?),
            };
            accounts.push(Account {
                provider,
                enabled: account.enabled,
            });
        }
        Ok(Registry { accounts })
    }

    pub fn get(&self, account_id: &str) -> Option<Arc<dyn Provider>> {
        self.accounts
            .iter()
            .find(|a| a.provider.account_id() == account_id)
            .map(|a| a.provider.clone())
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.accounts.iter().map(|a| &a.provider)
    }

    /// The accounts to try, in order: the named one, or every enabled account serving the pair.
    pub fn route(
        &self,
        chain_asset: &ChainAsset,
        named: Option<&str>,
    ) -> Result<Vec<Arc<dyn Provider>>, RouteError> {
        if let Some(name) = named {
            let provider = self
                .get(name)
                .ok_or_else(|| RouteError::UnknownAccount(name.to_owned()))?;
            if provider.asset(chain_asset).is_none() {
                return Err(RouteError::AccountDoesNotServe {
                    account: name.to_owned(),
                    chain_asset: chain_asset.clone(),
                });
            }
            return Ok(vec![provider]);
        }
        let candidates: Vec<_> = self
            .accounts
            .iter()
            .filter(|a| a.enabled && a.provider.asset(chain_asset).is_some())
            .map(|a| a.provider.clone())
            .collect();
        if candidates.is_empty() {
            return Err(RouteError::NotServed(chain_asset.clone()));
        }
        Ok(candidates)
    }
}
