//! Waking the delivery workers when notifications are committed. The instance that committed wakes
//! its own workers at once, in process. Other instances hear of it through one `NOTIFY` sent a few
//! milliseconds later for all the commits in between: a `NOTIFY` inside every callback's
//! transaction would serialise their commits on PostgreSQL's notification lock. Workers still poll,
//! so a wake-up lost either way only delays a delivery.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Notify, watch};

/// The channel instances announce committed notifications on.
pub const CHANNEL: &str = "custody_webhook_outbox";

/// How long an announcement waits to gather the commits after it.
const GATHER: Duration = Duration::from_millis(5);

#[derive(Default)]
pub struct OutboxWake {
    workers: Mutex<Vec<Arc<Notify>>>,
    /// Commits not yet announced to other instances.
    unannounced: AtomicBool,
    announce: Notify,
}

impl OutboxWake {
    /// A worker's own wake-up.
    pub fn register(&self) -> Arc<Notify> {
        let wake = Arc::new(Notify::new());
        self.workers.lock().unwrap().push(wake.clone());
        wake
    }

    /// Notifications were committed here: wake this instance's workers, and have the others told.
    pub fn committed(&self) {
        self.wake_here();
        if !self.unannounced.swap(true, Ordering::AcqRel) {
            self.announce.notify_one();
        }
    }

    /// Wakes this instance's workers (each keeps one wake-up if it is busy).
    pub fn wake_here(&self) {
        for worker in self.workers.lock().unwrap().iter() {
            worker.notify_one();
        }
    }

    /// Sends one `NOTIFY` for the commits of each short while.
    pub async fn announce(self: Arc<Self>, pool: PgPool, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.announce.notified() => {}
                _ = stop.changed() => return,
            }
            tokio::time::sleep(GATHER).await;
            self.unannounced.store(false, Ordering::Release);
            if let Err(err) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %err, "could not announce webhook wake-ups; other instances poll");
            }
        }
    }

    /// Wakes this instance's workers whenever another announces commits, through `LISTEN`. After
    /// each (re)connection it wakes them once, for anything announced while it was not listening.
    pub async fn listen(self: Arc<Self>, pool: PgPool, mut stop: watch::Receiver<bool>) {
        loop {
            let listening = async {
                let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            match listening.await {
                Ok(mut listener) => {
                    self.wake_here();
                    loop {
                        tokio::select! {
                            received = listener.try_recv() => match received {
                                Ok(_) => self.wake_here(),
                                Err(err) => {
                                    tracing::warn!(error = %err, "webhook wake-ups lost; polling meanwhile");
                                    break;
                                }
                            },
                            _ = stop.changed() => return,
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for webhook wake-ups; polling meanwhile")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
