//! Webhook delivery workers (DESIGN §6). Each worker claims due notifications (`FOR UPDATE SKIP
//! LOCKED`, so workers and gateway instances never send one attempt twice), sends each in its own
//! task so a slow endpoint holds up only itself, and records every attempt. Failures are retried on
//! the configured schedule with jitter, `Retry-After` is honoured, 410 Gone turns the endpoint off.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore, oneshot, watch};

use crate::AppState;
use crate::batching;
use crate::store::webhooks::{self, Delivered, DueDelivery, NewAttempt};
use crate::webhooks::send::{SendOutcome, Sender};

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let settings = state.settings.webhooks.clone();
    let sender = Sender::new(&settings);
    let slots = Arc::new(Semaphore::new(settings.in_flight_per_worker.max(1)));
    let wake = state.outbox_wake.register(slots.clone());
    let finished = Arc::new(Notify::new());
    // Long enough that a claimed notification is never taken by another worker mid-send.
    let lease_ms = (settings.timeout_ms * 2 + 5_000) as i64;
    let idle = Duration::from_millis(settings.poll_interval_ms.max(1));
    let recorder = Recorder::start(state.pool.clone(), settings.in_flight_per_worker);
    loop {
        if *stop.borrow() {
            return;
        }
        let free = slots.available_permits();
        let claimed = if free == 0 {
            Vec::new()
        } else {
            match webhooks::claim_due(&state.pool, free as i64, lease_ms).await {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::warn!(error = %err, "claiming webhook deliveries failed");
                    Vec::new()
                }
            }
        };
        let batch_was_full = free > 0 && claimed.len() == free;
        for delivery in claimed {
            let permit = slots
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore stays open");
            let (state, sender, finished) = (state.clone(), sender.clone(), finished.clone());
            let recorder = recorder.clone();
            tokio::spawn(async move {
                deliver(&state, &sender, &recorder, delivery).await;
                drop(permit);
                // The next notification of the same order may be due now.
                finished.notify_one();
            });
        }
        if batch_was_full {
            // More may be due than this worker has room for: another one with room joins in.
            state.outbox_wake.wake_one();
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(idle) => {}
            _ = finished.notified() => {}
            _ = wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

async fn deliver(state: &AppState, sender: &Sender, recorder: &Recorder, delivery: DueDelivery) {
    let body = serde_json::to_string(&delivery.payload).expect("JSON serializes");
    let id = delivery.id.to_string();
    let now = chrono::Utc::now();
    let mut secrets = vec![delivery.webhook_secret.as_str()];
    if let (Some(previous), Some(until)) = (
        &delivery.previous_webhook_secret,
        delivery.previous_secret_expires_at,
    ) && until > now
    {
        secrets.push(previous.as_str());
    }
    let outcome = sender
        .send(&delivery.webhook_url, &id, &body, &secrets)
        .await;
    if let Err(err) = record(state, recorder, &delivery, &outcome).await {
        // The lease runs out and the notification is sent again: at least once, never lost.
        tracing::error!(delivery = %delivery.id, error = %err, "recording a webhook attempt failed");
    }
}

async fn record(
    state: &AppState,
    recorder: &Recorder,
    delivery: &DueDelivery,
    outcome: &SendOutcome,
) -> Result<(), sqlx::Error> {
    metrics::histogram!("custody_webhook_attempt_seconds")
        .record(f64::from(outcome.latency_ms) / 1000.0);
    if outcome.delivered() {
        recorder
            .record(Delivered {
                outbox_id: delivery.id,
                status_code: outcome.status.map(i32::from),
                latency_ms: outcome.latency_ms,
                response_body: outcome.response_body.clone(),
            })
            .await?;
        attempt_counter("delivered");
        tracing::info!(delivery = %delivery.id, merchant = %delivery.merchant_id, event = %delivery.event_type,
            attempt = delivery.attempts, "webhook delivered");
        return Ok(());
    }
    let schedule = &state.settings.webhooks.retry_schedule_ms;
    let mut tx = state.pool.begin().await?;
    webhooks::record_attempt(
        &mut tx,
        &NewAttempt {
            outbox_id: delivery.id,
            status_code: outcome.status.map(i32::from),
            latency_ms: outcome.latency_ms,
            response_body: outcome.response_body.as_deref(),
            error: outcome.error.as_deref(),
        },
    )
    .await?;
    let error = describe(outcome);
    if outcome.gone() {
        webhooks::disable_endpoint(&mut tx, delivery.id, delivery.merchant_id).await?;
        attempt_counter("gone");
        tracing::warn!(merchant = %delivery.merchant_id, "webhook endpoint answered 410 Gone; deliveries wait");
    } else if let Some(delay) = retry_delay(schedule, delivery.attempts, outcome.retry_after) {
        webhooks::schedule_retry(&mut tx, delivery.id, delay.as_millis() as i64, &error).await?;
        attempt_counter("retry");
        tracing::info!(delivery = %delivery.id, attempt = delivery.attempts, error = %error,
            retry_in_ms = delay.as_millis() as u64, "webhook attempt failed");
    } else {
        webhooks::mark_failed(&mut tx, delivery.id, &error).await?;
        attempt_counter("failed");
        tracing::warn!(delivery = %delivery.id, merchant = %delivery.merchant_id, attempts = delivery.attempts,
            "webhook delivery failed for good");
    }
    tx.commit().await
}

/// Records a worker's delivered attempts, those that finish together in one transaction.
#[derive(Clone)]
struct Recorder {
    jobs: batching::Queue<(Delivered, oneshot::Sender<Result<(), sqlx::Error>>)>,
}

impl Recorder {
    fn start(pool: PgPool, max_batch: usize) -> Recorder {
        let limits = batching::Limits {
            slots: 1,
            max_batch,
            linger: Duration::ZERO,
        };
        let jobs = batching::spawn(limits, move |batch| record_batch(pool.clone(), batch));
        Recorder { jobs }
    }

    /// Records `delivered`; returns once that is committed.
    async fn record(&self, delivered: Delivered) -> Result<(), sqlx::Error> {
        let (done, recorded) = oneshot::channel();
        if self.jobs.send((delivered, done)).await.is_err() {
            return Err(sqlx::Error::PoolClosed);
        }
        recorded.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

async fn record_batch(
    pool: PgPool,
    batch: Vec<(Delivered, oneshot::Sender<Result<(), sqlx::Error>>)>,
) {
    let all: Vec<&Delivered> = batch.iter().map(|(d, _)| d).collect();
    let together = async {
        let mut tx = pool.begin().await?;
        webhooks::record_delivered(&mut tx, &all).await?;
        tx.commit().await
    };
    if together.await.is_ok() {
        for (_, done) in batch {
            let _ = done.send(Ok(()));
        }
        return;
    }
    // One at a time, so that none is held up by another.
    for (delivered, done) in batch {
        let alone = async {
            let mut tx = pool.begin().await?;
            webhooks::record_delivered(&mut tx, &[&delivered]).await?;
            tx.commit().await
        };
        let _ = done.send(alone.await);
    }
}

fn attempt_counter(result: &'static str) {
    metrics::counter!("custody_webhook_attempts_total", "result" => result).increment(1);
}

fn describe(outcome: &SendOutcome) -> String {
    match (outcome.status, &outcome.error) {
        (_, Some(error)) => error.clone(),
        (Some(status), None) => format!("HTTP {status}"),
        (None, None) => "no answer".to_owned(),
    }
}

/// The wait before the next attempt after `attempts` have failed, or `None` when the schedule is
/// spent. Up to 20% jitter spreads retries out; `Retry-After` can only lengthen the wait.
pub fn retry_delay(
    schedule_ms: &[u64],
    attempts: i32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let base = *schedule_ms.get(index)?;
    let jitter = rand::rng().random_range(0.0..0.2);
    let scheduled = Duration::from_millis(base + (base as f64 * jitter) as u64);
    Some(retry_after.map_or(scheduled, |wait| wait.max(scheduled)))
}

#[cfg(test)]
mod tests {
    use super::retry_delay;
    use std::time::Duration;

    #[test]
    fn follows_the_schedule_with_bounded_jitter_then_stops() {
        let schedule = [100, 1_000, 10_000];
        for (attempts, base) in [(1, 100u64), (2, 1_000), (3, 10_000)] {
            let delay = retry_delay(&schedule, attempts, None).unwrap().as_millis() as u64;
            assert!(
                (base..base + base / 5 + 1).contains(&delay),
                "{attempts}: {delay}"
            );
        }
        assert_eq!(retry_delay(&schedule, 4, None), None);
        assert_eq!(retry_delay(&schedule, 0, None), None);
        let later = retry_delay(&schedule, 1, Some(Duration::from_secs(60))).unwrap();
        assert_eq!(later, Duration::from_secs(60));
    }
}
