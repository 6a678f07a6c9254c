//! Pollers (DESIGN §3, §5): for every account with pulled feeds or a status query, read each feed
//! page by page, store the events and the advanced cursor in one transaction, count confirmations
//! of deposits still waiting for them, and ask about quiet withdrawals. An advisory lock per account keeps two gateway instances from polling the same
//! account at once; provider errors back off, doubling up to a limit.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;

use crate::AppState;
use crate::domain::{ChainAsset, DepositState};
use crate::orders::ingest::{record_asked_event, record_event};
use crate::providers::{
    DepositEvent, EventBody, Provider, ProviderError, ProviderEvent, WithdrawalRef,
};
use crate::store::{polling, withdrawals};

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// What one round did for one account.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PollReport {
    /// Another instance holds the account's lock.
    pub skipped: bool,
    pub pages: u32,
    pub new_events: u32,
    pub confirmed: u32,
    /// Open withdrawals whose status query brought news.
    pub reconciled: u32,
}

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let settings = state.settings.pollers.clone();
    let interval = Duration::from_millis(settings.interval_ms.max(10));
    let max_backoff = Duration::from_millis(settings.max_backoff_ms.max(settings.interval_ms));
    let mut waits: HashMap<String, (Duration, tokio::time::Instant)> = HashMap::new();
    loop {
        // The first round waits one interval too, so that instances starting together spread out.
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        let now = tokio::time::Instant::now();
        for provider in state.registry.all().filter(|p| is_polled(p.as_ref())) {
            let account = provider.account_id().to_owned();
            if waits.get(&account).is_some_and(|(_, until)| *until > now) {
                continue;
            }
            let result = poll_account(&state, provider.as_ref()).await;
            record_round(&account, &result);
            match result {
                Ok(_) => {
                    waits.remove(&account);
                }
                Err(err) => {
                    let wait =
                        next_wait(waits.get(&account).map(|(w, _)| *w), interval, max_backoff);
                    tracing::warn!(account = %account, error = %err, retry_in_ms = wait.as_millis() as u64, "polling failed");
                    waits.insert(account, (wait, now + wait));
                }
            }
        }
    }
}

/// Whether an account has anything to poll: feeds to read, or withdrawals to ask about. An account
/// with neither shows its quiet withdrawals in `/ops/withdrawals/attention`.
pub fn is_polled(provider: &dyn Provider) -> bool {
    !provider.feeds().is_empty() || provider.has_status_query()
}

fn record_round(account: &str, result: &Result<PollReport, PollError>) {
    let outcome = match result {
        Ok(report) if report.skipped => "skipped",
        Ok(_) => "ok",
        Err(_) => "error",
    };
    metrics::counter!("custody_poll_rounds_total", "account" => account.to_owned(), "result" => outcome)
        .increment(1);
    if let Ok(report) = result {
        let account = account.to_owned();
        metrics::counter!("custody_poll_new_events_total", "account" => account.clone())
            .increment(report.new_events.into());
        metrics::counter!("custody_deposits_confirmed_by_count_total", "account" => account.clone())
            .increment(report.confirmed.into());
        metrics::counter!("custody_withdrawals_reconciled_total", "account" => account)
            .increment(report.reconciled.into());
    }
}

/// How long an account rests after a failed round: one interval, then double the last wait, up to
/// `max`.
fn next_wait(last: Option<Duration>, interval: Duration, max: Duration) -> Duration {
    last.map_or(interval, |w| (w * 2).min(max))
}

/// One round for one account, under its advisory lock.
pub async fn poll_account(
    state: &AppState,
    provider: &dyn Provider,
) -> Result<PollReport, PollError> {
    let Some(lock) = polling::AccountLock::try_take(&state.pool, provider.account_id()).await?
    else {
        return Ok(PollReport {
            skipped: true,
            ..PollReport::default()
        });
    };
    let result = poll_locked(state, provider).await;
    lock.release().await;
    result
}

async fn poll_locked(state: &AppState, provider: &dyn Provider) -> Result<PollReport, PollError> {
    let mut report = PollReport::default();
    for feed in provider.feeds() {
        read_feed(state, provider, feed, &mut report).await?;
    }
    count_confirmations(state, provider, &mut report).await?;
    if provider.has_status_query() {
        reconcile_withdrawals(state, provider, &mut report).await?;
    }
    if report.new_events > 0 || report.confirmed > 0 || report.reconciled > 0 {
        state.outbox_wake.committed();
        tracing::info!(
            account = provider.account_id(),
            pages = report.pages,
            new_events = report.new_events,
            confirmed = report.confirmed,
            reconciled = report.reconciled,
            "poll round"
        );
    }
    Ok(report)
}

async fn read_feed(
    state: &AppState,
    provider: &dyn Provider,
    feed: &str,
    report: &mut PollReport,
) -> Result<(), PollError> {
    let account_id = provider.account_id();
    for _ in 0..state.settings.pollers.max_pages_per_round {
        let cursor = polling::cursor(&state.pool, account_id, feed).await?;
        let page = provider.poll(feed, cursor.as_deref()).await?;
        let mut tx = state.pool.begin().await?;
        for event in &page.events {
            if record_event(&mut tx, account_id, None, "poll", event).await? {
                report.new_events += 1;
            }
        }
        if let Some(next) = &page.next_cursor {
            polling::set_cursor(&mut tx, account_id, feed, next).await?;
        }
        tx.commit().await?;
        report.pages += 1;
        if !page.more {
            break;
        }
    }
    Ok(())
}

/// Asks the provider about withdrawals it has not finished: a sync list shows each record once,
/// so a status change whose callback was lost is only found this way.
async fn reconcile_withdrawals(
    state: &AppState,
    provider: &dyn Provider,
    report: &mut PollReport,
) -> Result<(), PollError> {
    let account_id = provider.account_id();
    let settings = &state.settings.pollers;
    let open = withdrawals::claim_open_withdrawals(
        &state.pool,
        account_id,
        settings.reconcile_after_secs,
        settings.reconcile_batch,
    )
    .await?;
    for (request_id, provider_ref) in open {
        let withdrawal = WithdrawalRef {
            request_id: &request_id,
            provider_ref: provider_ref.as_deref(),
        };
        let event = match provider.withdrawal_status(&withdrawal).await {
            Ok(Some(event)) => event,
            Ok(None) => continue,
            Err(ProviderError::Unsupported(_)) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        if record_asked_event(&state.pool, account_id, "poll", &event).await? {
            report.reconciled += 1;
        }
    }
    Ok(())
}

/// Confirms deposits whose chain has moved far enough past the block they were mined in:
/// `height - block_height + 1 >= required`.
async fn count_confirmations(
    state: &AppState,
    provider: &dyn Provider,
    report: &mut PollReport,
) -> Result<(), PollError> {
    let account_id = provider.account_id();
    let waiting = polling::deposits_awaiting_confirmations(&state.pool, account_id).await?;
    let mut heights: HashMap<String, i64> = HashMap::new();
    for deposit in waiting {
        let chain_asset = ChainAsset {
            chain: deposit.chain.clone(),
            asset: deposit.asset.clone(),
        };
        let (Some(required), Some(mined_at)) = (
            provider.required_confirmations(&chain_asset),
            deposit.block_height,
        ) else {
            continue;
        };
        let height = match heights.get(&deposit.chain) {
            Some(height) => *height,
            None => {
                let height = provider.chain_height(&deposit.chain).await?;
                heights.insert(deposit.chain.clone(), height);
                height
            }
        };
        let confirmations = height - mined_at + 1;
        if confirmations < i64::from(required) {
            continue;
        }
        let event = ProviderEvent {
            event_key: format!("deposit:{}:confirmations", deposit.provider_ref),
            provider_ref: deposit.provider_ref.clone(),
            provider_status: format!("{confirmations} confirmations"),
            body: EventBody::Deposit(DepositEvent {
                chain_asset: Some(chain_asset),
                address: deposit.address.clone(),
                memo: deposit.memo.clone(),
                amount: deposit.amount,
                fee: deposit.fee,
                tx_hash: deposit.tx_hash.clone(),
                block_height: deposit.block_height,
                state: Some(DepositState::Confirmed),
                risk: None,
                hold: None,
            }),
        };
        if record_asked_event(&state.pool, account_id, "poll", &event).await? {
            report.confirmed += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::next_wait;
    use std::time::Duration;

    #[test]
    fn waits_double_after_each_failure_up_to_the_limit() {
        let (interval, max) = (Duration::from_secs(5), Duration::from_secs(60));
        let mut waits = Vec::new();
        let mut last = None;
        for _ in 0..6 {
            let wait = next_wait(last, interval, max);
            waits.push(wait.as_secs());
            last = Some(wait);
        }
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
    }
}
