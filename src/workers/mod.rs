//! Background work: webhook delivery, pollers of pulled feeds, resolving withdrawals whose first
//! submission did not settle, and metrics upkeep.

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
        let wakers: Vec<_> = (0..state.settings.webhooks.workers)
            .map(|_| std::sync::Arc::new(tokio::sync::Notify::new()))
            .collect();
        for wake in &wakers {
            tasks.spawn(outbox::run(state.clone(), wake.clone(), stop.clone()));
        }
        if !wakers.is_empty() {
            tasks.spawn(outbox::wake_on_commit(state.clone(), wakers, stop.clone()));
        }
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
