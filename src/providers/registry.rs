//! The provider kinds this gateway speaks, its provider accounts, and the routing of requests to
//! them.

use std::sync::Arc;

use axum::Router;

use crate::config::{ProviderAccountSettings, Settings, SettingsError};
use crate::domain::ChainAsset;

use super::Provider;

/// Every provider kind, one line each. Adding a provider = its folders in `providers/` and `sim/`,
/// its config section, and its line here (docs/adding-a-provider.md).
pub const KINDS: &[ProviderKind] = &[
    super::udun::KIND,
    super::chainup_mpc::KIND,
    super::waas::KIND,
    super::payprotocol::KIND,
    super::ubao::KIND,
];

/// Builds the adapter for an account of a kind, calling the provider at the given base URL.
pub type BuildAdapter =
    fn(&ProviderAccountSettings, String) -> Result<Arc<dyn Provider>, SettingsError>;

/// Makes a simulator from the configuration; `None` when no account needs it.
pub type BuildSimulator = fn(&Settings, Option<&str>) -> Option<Result<Router, String>>;

/// A provider kind: the name accounts give as `kind`, how to build an adapter for one, and its
/// simulator.
pub struct ProviderKind {
    pub name: &'static str,
    pub build: BuildAdapter,
    pub simulator: Option<SimulatorKind>,
}

/// A provider's simulator: where it is mounted, and how it is made from the configuration
/// (`None` when no account needs it). `gateway_url` is set when it runs inside the gateway.
pub struct SimulatorKind {
    pub mount: &'static str,
    pub router: BuildSimulator,
}

/// The kind named `name`, if this gateway speaks it.
pub fn kind(name: &str) -> Option<&'static ProviderKind> {
    KINDS.iter().find(|k| k.name == name)
}

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
    #[error("{chain_asset} is unavailable on {account:?} for now: {problem}")]
    AssetUnavailable {
        account: String,
        chain_asset: ChainAsset,
        problem: String,
    },
}

impl Registry {
    /// Builds every configured account. `sim_base_url` replaces `base_url = "sim"`.
    pub fn build(
        settings: &Settings,
        sim_base_url: Option<&str>,
    ) -> Result<Registry, SettingsError> {
        let mut accounts = Vec::new();
        for account in &settings.providers {
            let kind = kind(&account.kind).ok_or_else(|| {
                let known: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
                SettingsError::Invalid(format!(
                    "account {:?}: unknown kind {:?} (known: {})",
                    account.id,
                    account.kind,
                    known.join(", ")
                ))
            })?;
            let base_url = if account.uses_simulator() {
                let (base, simulator) =
                    sim_base_url.zip(kind.simulator.as_ref()).ok_or_else(|| {
                        SettingsError::Invalid(format!(
                            "account {:?} needs the built-in simulator",
                            account.id
                        ))
                    })?;
                format!("{base}{}", simulator.mount)
            } else {
                account.base_url.trim_end_matches('/').to_owned()
            };
            let provider = (kind.build)(account, base_url)?;
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
            if let Some(problem) = provider.asset_problem(chain_asset) {
                return Err(RouteError::AssetUnavailable {
                    account: name.to_owned(),
                    chain_asset: chain_asset.clone(),
                    problem,
                });
            }
            return Ok(vec![provider]);
        }
        let serving: Vec<_> = self
            .accounts
            .iter()
            .filter(|a| a.enabled && a.provider.asset(chain_asset).is_some())
            .map(|a| a.provider.clone())
            .collect();
        let Some(first) = serving.first() else {
            return Err(RouteError::NotServed(chain_asset.clone()));
        };
        let usable: Vec<_> = serving
            .iter()
            .filter(|p| p.asset_problem(chain_asset).is_none())
            .cloned()
            .collect();
        if usable.is_empty() {
            return Err(RouteError::AssetUnavailable {
                account: first.account_id().to_owned(),
                chain_asset: chain_asset.clone(),
                problem: first.asset_problem(chain_asset).unwrap_or_default(),
            });
        }
        Ok(usable)
    }
}
