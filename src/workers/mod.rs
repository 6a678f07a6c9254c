//! Background work: webhook delivery and its wake-ups, hearing of credential changes, pollers of
//! pulled feeds, resolving withdrawals whose first submission did not settle, sweeps into
//! collection wallets, checking each account's assets with its provider at start, and metrics
//! upkeep.

pub mod outbox;
pub mod pollers;
pub mod resubmit;
pub mod sweeps;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::AppState;

pub fn spawn(state: AppState, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..state.settings.webhooks.workers {
            tasks.spawn(outbox::run(state.clone(), stop.clone()));
        }
        let (wake, pool) = (state.outbox_wake.clone(), state.pool.clone());
        tasks.spawn(wake.clone().announce(pool.clone(), stop.clone()));
        if state.settings.webhooks.workers > 0 {
            tasks.spawn(wake.listen(pool, stop.clone()));
        }
        tasks.spawn(
            state
                .known_keys
                .clone()
                .listen(state.pool.clone(), stop.clone()),
        );
        tasks.spawn(resubmit::run(state.clone(), stop.clone()));
        tasks.spawn(pollers::run(state.clone(), stop.clone()));
        tasks.spawn(sweeps::run(state.clone(), stop.clone()));
        tasks.spawn(metrics_upkeep(stop.clone()));
        for provider in state.registry.all() {
            tasks.spawn(check_assets(provider.clone(), stop.clone()));
        }
        while tasks.join_next().await.is_some() {}
    })
}

/// Checks an account's configured assets against its provider at start, again every half minute
/// until the provider has answered once.
async fn check_assets(
    provider: std::sync::Arc<dyn crate::providers::Provider>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match provider.refresh().await {
            Ok(()) => return,
            Err(err) => tracing::warn!(
                account = provider.account_id(),
                error = %err,
                "could not check the account's assets with the provider; trying again in 30 s"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Folds recorded latencies into their histograms, so that memory stays flat between scrapes.
async fn metrics_upkeep(mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = every.tick() => crate::telemetry::metrics_handle().run_upkeep(),
            _ = stop.changed() => return,
        }
    }
}
