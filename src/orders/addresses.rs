//! Deposit addresses: one per merchant user, chain and provider account, created at the provider
//! once and remembered. Creation may fail over to the next account serving the pair.

use uuid::Uuid;

use crate::domain::ChainAsset;
use crate::orders::EventOutcome;
use crate::orders::notify::record_notice;
use crate::orders::{Core, OrderError};
use crate::providers::AddressChangedEvent;
use crate::providers::{AddressRequest, NewAddress as ProviderNewAddress, Provider, ProviderError};
use crate::store::addresses::{self, AddressRow, NewAddress, Replacement};

/// The user's address for the pair, and whether this call created it.
pub async fn get_or_create_address(
    state: &Core,
    merchant_id: Uuid,
    user_id: &str,
    chain_asset: &ChainAsset,
    provider: Option<&str>,
) -> Result<(AddressRow, bool), OrderError> {
    let candidates = state.registry.route(chain_asset, provider)?;
    for candidate in &candidates {
        let account_id = candidate.account_id();
        let found = addresses::find_user_address(
            &state.pool,
            merchant_id,
            user_id,
            account_id,
            &chain_asset.chain,
        )
        .await?;
        if let Some(row) = found {
            return Ok((row, false));
        }
    }

    // A creation holds a connection while its provider answers: a slow provider may hold only a
    // share of the pool, never all of it.
    let _turn = state
        .address_creations
        .acquire()
        .await
        .expect("the creation turns are never closed");
    let mut last_error: Option<ProviderError> = None;
    for candidate in &candidates {
        let creation = Creation {
            state,
            merchant_id,
            user_id,
            chain_asset,
        };
        match creation.on(candidate.as_ref()).await {
            Err(OrderError::Provider(err)) => {
                tracing::warn!(account = candidate.account_id(), error = %err, "address creation failed; trying the next account");
                last_error = Some(err);
            }
            done => return done,
        }
    }
    Err(last_error
        .map(OrderError::Provider)
        .unwrap_or(OrderError::NoAccount))
}

/// One user's first request for an address on a pair.
struct Creation<'a> {
    state: &'a Core,
    merchant_id: Uuid,
    user_id: &'a str,
    chain_asset: &'a ChainAsset,
}

impl Creation<'_> {
    /// Creates the address at `provider`, under a lock on the user's addresses there, held until
    /// the address is stored: a request that waited finds what this one created. Every read and
    /// the insert use the lock's own connection, so a creation needs one connection, never two.
    async fn on(&self, provider: &dyn Provider) -> Result<(AddressRow, bool), OrderError> {
        let account_id = provider.account_id();
        let chain_asset = self.chain_asset;
        let mut lock = addresses::lock_user_on_account(
            &self.state.pool,
            self.merchant_id,
            self.user_id,
            account_id,
        )
        .await?;
        let found = addresses::find_user_address(
            &mut *lock,
            self.merchant_id,
            self.user_id,
            account_id,
            &chain_asset.chain,
        )
        .await?;
        if let Some(row) = found {
            return Ok((row, false));
        }
        let wallet_ref =
            addresses::user_wallet_ref(&mut *lock, self.merchant_id, self.user_id, account_id)
                .await?;
        let callback_url = self.state.callback_url(account_id);
        let request = AddressRequest {
            merchant_id: self.merchant_id,
            user_id: self.user_id,
            wallet_ref: wallet_ref.as_deref(),
            chain_asset,
            callback_url: &callback_url,
        };
        let created = provider
            .create_address(&request)
            .await
            .and_then(storable_address)?;
        let (row, inserted) = addresses::insert_or_get(
            &mut lock,
            &NewAddress {
                merchant_id: self.merchant_id,
                user_id: self.user_id,
                account_id,
                chain: &chain_asset.chain,
                asset: &chain_asset.asset,
                address: &created.address,
                memo: created.memo.as_deref(),
                provider_wallet_ref: created.wallet_ref.as_deref(),
            },
        )
        .await?;
        lock.commit().await?;
        if inserted {
            tracing::info!(account = account_id, address = %row.address, "deposit address created");
        }
        Ok((row, inserted))
    }
}

/// A provider reply whose text PostgreSQL cannot hold is as good as unreadable.
fn storable_address(created: ProviderNewAddress) -> Result<ProviderNewAddress, ProviderError> {
    let texts = [
        Some(created.address.as_str()),
        created.memo.as_deref(),
        created.wallet_ref.as_deref(),
    ];
    if texts.into_iter().flatten().any(|t| t.contains('\0')) {
        return Err(ProviderError::Unknown {
            detail: "address reply holds a NUL character".into(),
            timed_out: false,
        });
    }
    Ok(created)
}

/// The provider replaced a user's address: the old one is retired (deposits to it stay the
/// user's), the new one serves from now on, and the merchant hears `address.changed`.
pub async fn apply_address_change(
    conn: &mut sqlx::PgConnection,
    account_id: &str,
    change: &AddressChangedEvent,
) -> Result<EventOutcome, sqlx::Error> {
    let Some(old) = change.old_address.as_deref() else {
        return Ok(EventOutcome::orphan(
            "address change without the old address",
        ));
    };
    if old == change.new_address {
        return Ok(EventOutcome::recorded());
    }
    match addresses::replace_address(conn, account_id, &change.chain, old, &change.new_address)
        .await?
    {
        Replacement::NotOurs => Ok(EventOutcome::orphan(format!(
            "address {old} is not a current address of ours on {}",
            change.chain
        ))),
        Replacement::Taken => Ok(EventOutcome::orphan(format!(
            "new address {} already belongs to another user",
            change.new_address
        ))),
        Replacement::Replaced(rows) => {
            let (retired, current) = *rows;
            let notice = serde_json::json!({
                "user_id": current.user_id,
                "chain": current.chain,
                "old_address": retired.address,
                "new_address": current.address,
                "provider": current.account_id,
            });
            record_notice(conn, current.merchant_id, "address.changed", None, &notice).await?;
            tracing::info!(account = account_id, old, new = %current.address, "user address replaced by the provider");
            Ok(EventOutcome::applied(current.id))
        }
    }
}
