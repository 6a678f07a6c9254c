//! Background work: webhook delivery, pollers of pulled feeds, resolving withdrawals whose first
//! submission did not settle, and metrics upkeep.

pub mod outbox;
pub mod pollers;
pub mod resubmit;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::AppState;

pub fn spawn(state: AppState, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..state.settings.webhooks.workers {
            tasks.spawn(outbox::run(state.clone(), stop.clone()));
        }
        tasks.spawn(resubmit::run(state.clone(), stop.clone()));
        tasks.spawn(pollers::run(state.clone(), stop.clone()));
        tasks.spawn(metrics_upkeep(stop.clone()));
        while tasks.join_next().await.is_some() {}
    })
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
