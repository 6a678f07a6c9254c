//! Sweeps: every confirmed deposit that called for one (its account's threshold, queued in the
//! same transaction as the confirmation) is asked of the provider once, by whichever instance
//! claims it first; a failed ask is tried again later, each time after a longer wait.

use std::time::Duration;

use tokio::sync::watch;

use crate::AppState;
use crate::orders::treasury::{SweepOutcome, ask_for_sweep};
use crate::store::treasury;

/// How long a claimed sweep is left to its instance before another may ask for it.
const LEASE_SECS: u64 = 60;

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(
        state.settings.workers.sweep_interval_ms.max(10),
    ));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(err) = sweep_due(&state).await {
            tracing::warn!(error = %err, "sweep pass failed");
        }
    }
}

/// One pass; returns how many sweeps the providers took.
pub async fn sweep_due(state: &AppState) -> Result<usize, sqlx::Error> {
    let due = treasury::claim_due_sweeps(&state.pool, LEASE_SECS, 20).await?;
    let mut requested = 0;
    for sweep in &due {
        let (_, outcome) = ask_for_sweep(state, sweep).await?;
        metrics::counter!("custody_sweeps_total", "account" => sweep.account_id.clone(),
        "result" => match outcome {
            SweepOutcome::Requested => "requested",
            SweepOutcome::Refused => "refused",
            SweepOutcome::Retrying => "retrying",
        })
        .increment(1);
        if outcome == SweepOutcome::Requested {
            requested += 1;
        }
    }
    Ok(requested)
}
