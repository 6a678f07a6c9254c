//! The account's own funds: the collection wallet withdrawals are paid from, sweeps of deposits
//! into it, the balances the provider reports, and transfers seen on addresses merchants watch.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::orders::notify::record_notice;
use crate::orders::{Core, EventOutcome};
use crate::providers::{BalanceEvent, DepositEvent, Provider, ProviderError};
use crate::store::treasury::{self, SweepRow};

/// The account's collection wallet on `chain`: from the configuration, else as made before, else
/// made now (under a lock, so that two instances never make two).
pub async fn collection_wallet(
    core: &Core,
    provider: &dyn Provider,
    chain: &str,
) -> Result<String, ProviderError> {
    if let Some(address) = provider.configured_collection_wallet(chain) {
        return Ok(address);
    }
    let account = provider.account_id();
    let unavailable = |e: sqlx::Error| ProviderError::Unreachable(format!("database: {e}"));
    if let Some(address) = treasury::collection_wallet(&core.pool, account, chain)
        .await
        .map_err(unavailable)?
    {
        return Ok(address);
    }
    // One maker per process; the database lock keeps it to one across instances.
    let _turn = core.making_collection_wallet.lock().await;
    let mut tx = treasury::lock_collection_wallet(&core.pool, account, chain)
        .await
        .map_err(unavailable)?;
    if let Some(address) = treasury::collection_wallet_in(&mut tx, account, chain)
        .await
        .map_err(unavailable)?
    {
        return Ok(address);
    }
    let address = provider
        .create_collection_wallet(chain, &core.callback_url(account))
        .await?;
    treasury::insert_collection_wallet(&mut tx, account, chain, &address)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    tracing::info!(account, chain, address = %address, "collection wallet made");
    Ok(address)
}

/// Writes every account's sweep thresholds from the configuration.
pub async fn sync_sweep_policies(core: &Core) -> Result<(), sqlx::Error> {
    for provider in core.registry.all() {
        let policies: Vec<(String, String, Decimal)> = provider
            .assets()
            .iter()
            .filter_map(|a| {
                provider
                    .sweep_threshold(&a.chain_asset())
                    .map(|min| (a.chain.clone(), a.asset.clone(), min))
            })
            .collect();
        treasury::set_sweep_policies(&core.pool, provider.account_id(), &policies).await?;
    }
    Ok(())
}

/// How asking for a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepOutcome {
    Requested,
    Refused,
    /// To be asked again later.
    Retrying,
}

/// Asks the provider for one claimed sweep and records how that ended. Refusals are final (an
/// operator can sweep by hand); anything else is asked again, later each time.
pub async fn ask_for_sweep(
    core: &Core,
    sweep: &SweepRow,
) -> Result<(SweepRow, SweepOutcome), sqlx::Error> {
    let Some(provider) = core.registry.get(&sweep.account_id) else {
        let row = treasury::record_sweep_attempt(
            &core.pool,
            sweep.id,
            "failed",
            Some("the account is no longer configured"),
            0,
        )
        .await?;
        return Ok((row, SweepOutcome::Refused));
    };
    let chain_asset = crate::domain::ChainAsset {
        chain: sweep.chain.clone(),
        asset: sweep.asset.clone(),
    };
    // Sweeps go into the collection wallet, which must be there first.
    let wallet = if provider.pays_from_collection_wallet() {
        collection_wallet(core, provider.as_ref(), &sweep.chain)
            .await
            .map(|_| ())
    } else {
        Ok(())
    };
    let result = match wallet {
        Ok(()) => provider.sweep(&chain_asset, &sweep.address).await,
        Err(err) => Err(err),
    };
    let (state, error, retry_in, outcome) = match &result {
        Ok(()) => ("requested", None, 0, SweepOutcome::Requested),
        Err(
            err @ (ProviderError::Refused { .. }
            | ProviderError::InsufficientFunds(_)
            | ProviderError::Unsupported(_)),
        ) => ("failed", Some(err.to_string()), 0, SweepOutcome::Refused),
        Err(err) => (
            "pending",
            Some(err.to_string()),
            retry_delay_secs(sweep.attempts),
            SweepOutcome::Retrying,
        ),
    };
    if let Some(error) = &error {
        tracing::warn!(account = %sweep.account_id, sweep = %sweep.id, address = %sweep.address, error = %error, state, "sweep not requested");
    } else {
        tracing::info!(account = %sweep.account_id, sweep = %sweep.id, address = %sweep.address, "sweep requested");
    }
    let error = error.map(|e| crate::domain::text::escape_nul(&e).into_owned());
    let row =
        treasury::record_sweep_attempt(&core.pool, sweep.id, state, error.as_deref(), retry_in)
            .await?;
    Ok((row, outcome))
}

/// 5 s, doubling with each failed attempt, at most 10 minutes.
fn retry_delay_secs(attempts: i32) -> u64 {
    (5u64 << attempts.clamp(0, 7)).min(600)
}

/// Keeps the latest balance the provider reports for one of the account's addresses.
pub async fn apply_balance(
    conn: &mut PgConnection,
    account_id: &str,
    balance: &BalanceEvent,
    event_id: i64,
) -> Result<EventOutcome, sqlx::Error> {
    let Some(chain_asset) = &balance.chain_asset else {
        return Ok(EventOutcome::orphan(
            "coin is not in the account's asset mapping",
        ));
    };
    treasury::record_balance(
        conn,
        account_id,
        &balance.address,
        &chain_asset.chain,
        &chain_asset.asset,
        balance.amount,
        event_id,
    )
    .await?;
    Ok(EventOutcome::recorded())
}

/// A transfer to an address merchants watch (not one of their deposit addresses) reaches each of
/// them as `watch.transfer`; it is never credited. `None` when nobody watches the address.
pub async fn notify_watchers(
    conn: &mut PgConnection,
    account_id: &str,
    deposit: &DepositEvent,
) -> Result<Option<EventOutcome>, sqlx::Error> {
    let Some(chain_asset) = &deposit.chain_asset else {
        return Ok(None);
    };
    let watchers =
        treasury::watchers(conn, account_id, &chain_asset.chain, &deposit.address).await?;
    if watchers.is_empty() {
        return Ok(None);
    }
    for watch in &watchers {
        let notice = serde_json::json!({
            "watch_id": watch.id,
            "chain": chain_asset.chain,
            "asset": chain_asset.asset,
            "address": deposit.address,
            "amount": deposit.amount.to_string(),
            "tx_hash": deposit.tx_hash,
            "provider": account_id,
        });
        record_notice(conn, watch.merchant_id, "watch.transfer", None, &notice).await?;
    }
    Ok(Some(EventOutcome::recorded()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_retries_wait_longer_each_time_up_to_ten_minutes() {
        let delays: Vec<u64> = (0..10).map(retry_delay_secs).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
    }
}
