//! Withdrawals left `accepted` (the provider was unreachable, or we stopped mid-send) or `unknown`
//! (timeout, 5xx) are resolved: by the provider's status query where it has one (a withdrawal it
//! knows is never sent twice), otherwise by sending it again with the same provider request id, so
//! that the provider's own duplicate check (Udun 4288, ChainUp 110088) makes a repeat harmless.

use std::time::Duration;

use tokio::sync::watch;

use crate::AppState;
use crate::orders::ingest::record_asked_event;
use crate::orders::withdrawals::{Attempt, submit};
use crate::providers::{ProviderError, WithdrawalRef};
use crate::store::withdrawals;

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let settings = state.settings.workers.clone();
    // The first pass comes one interval after start, like every later one: a pass at start would
    // race the submission of a withdrawal made in the first moments.
    let every = Duration::from_secs(settings.resubmit_interval_secs.max(1));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(err) = resubmit_due(&state, settings.resubmit_after_secs).await {
            tracing::warn!(error = %err, "resubmission pass failed");
        }
    }
}

/// One pass; returns how many withdrawals were sent again.
pub async fn resubmit_due(state: &AppState, after_secs: u64) -> Result<usize, sqlx::Error> {
    let lease = state.settings.send_lease_secs();
    let due = withdrawals::claim_for_resubmission(&state.pool, after_secs, lease, 20).await?;
    let count = due.len();
    for row in due {
        let Some(provider) = state.registry.get(&row.account_id) else {
            tracing::error!(withdrawal = %row.id, account = %row.account_id, "withdrawal's account is not configured");
            continue;
        };
        let id = row.id;
        let withdrawal = WithdrawalRef {
            request_id: &row.provider_request_id,
            provider_ref: row.provider_ref.as_deref(),
        };
        match provider.withdrawal_status(&withdrawal).await {
            Ok(Some(event)) => {
                tracing::info!(withdrawal = %id, status = %event.provider_status, "withdrawal found at the provider");
                record_asked_event(&state.pool, &row.account_id, "poll", &event).await?;
                withdrawals::release_send_lease(&state.pool, id).await?;
            }
            Ok(None) | Err(ProviderError::Unsupported(_)) => {
                tracing::info!(withdrawal = %id, state = row.state.as_str(), "sending withdrawal again");
                // `submit` ends the lease with the outcome.
                submit(state, provider.as_ref(), row, Attempt::Repeat).await?;
            }
            Err(err) => {
                tracing::warn!(withdrawal = %id, error = %err, "withdrawal status unavailable; trying later");
                withdrawals::release_send_lease(&state.pool, id).await?;
            }
        }
    }
    if count > 0 {
        state.outbox_wake.committed();
    }
    Ok(count)
}
