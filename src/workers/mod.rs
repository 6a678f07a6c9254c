//! Background work: webhook delivery, pollers of pulled feeds, and resolving withdrawals whose first
//! submission did not settle.

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
        while tasks.join_next().await.is_some() {}
    })
}
