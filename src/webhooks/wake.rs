//! Waking the delivery workers when notifications are committed. Commits are gathered for a few
//! milliseconds; then one of this instance's workers with a free slot is woken, and other
//! instances hear of it through one `NOTIFY`. A `NOTIFY` inside every callback's transaction would
//! serialise their commits on PostgreSQL's notification lock, and waking on every commit would
//! cost a claim query for each. A woken worker whose claim fills its free slots wakes the next
//! with room, so one claim serves the usual few notifications and a backlog still brings every
//! worker in. Workers still poll, so a wake-up lost either way only delays a delivery.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore, watch};

/// The channel instances announce committed notifications on.
pub const CHANNEL: &str = "custody_webhook_outbox";

/// How long a wake-up waits to gather the commits after it: each wake-up costs a claim query,
/// so they come at most this often.
const GATHER: Duration = Duration::from_millis(10);

pub struct OutboxWake {
    /// This instance's name in its announcements, so that it does not wake for its own.
    instance: String,
    workers: Mutex<Vec<Worker>>,
    /// The worker to wake next.
    next: AtomicUsize,
    /// Commits not yet woken for.
    pending: AtomicBool,
    signal: Notify,
}

/// A delivery worker: its wake-up, and its slots for deliveries in flight.
struct Worker {
    wake: Arc<Notify>,
    slots: Arc<Semaphore>,
}

impl Default for OutboxWake {
    fn default() -> Self {
        OutboxWake {
            instance: uuid::Uuid::new_v4().to_string(),
            workers: Mutex::default(),
            next: AtomicUsize::default(),
            pending: AtomicBool::default(),
            signal: Notify::new(),
        }
    }
}

impl OutboxWake {
    /// A worker's own wake-up; `slots` are its deliveries in flight.
    pub fn register(&self, slots: Arc<Semaphore>) -> Arc<Notify> {
        let wake = Arc::new(Notify::new());
        self.workers.lock().unwrap().push(Worker {
            wake: wake.clone(),
            slots,
        });
        wake
    }

    /// Notifications were committed here.
    pub fn committed(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            self.signal.notify_one();
        }
    }

    /// Wakes the next of this instance's workers, in turn, that has a free slot. When none has,
    /// each claims again as soon as one of its deliveries ends.
    pub fn wake_one(&self) {
        let workers = self.workers.lock().unwrap();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..workers.len())
            .map(|i| &workers[(start + i) % workers.len()])
            .find(|worker| worker.slots.available_permits() > 0);
        if let Some(worker) = free {
            worker.wake.notify_one();
        }
    }

    /// Wakes every worker of this instance.
    pub fn wake_all(&self) {
        for worker in self.workers.lock().unwrap().iter() {
            worker.wake.notify_one();
        }
    }

    /// For the commits of each short while: wakes one worker here and sends one `NOTIFY`.
    pub async fn announce(self: Arc<Self>, pool: PgPool, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.signal.notified() => {}
                _ = stop.changed() => return,
            }
            tokio::time::sleep(GATHER).await;
            self.pending.store(false, Ordering::Release);
            self.wake_one();
            if let Err(err) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&self.instance)
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
            match crate::store::listen(&pool, CHANNEL).await {
                Ok(mut listener) => {
                    self.wake_all();
                    loop {
                        tokio::select! {
                            received = listener.try_recv() => match received {
                                Ok(Some(note)) if note.payload() == self.instance => {}
                                Ok(_) => self.wake_one(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `worker` holds a wake-up.
    async fn woken(worker: &Notify) -> bool {
        tokio::time::timeout(Duration::from_millis(1), worker.notified())
            .await
            .is_ok()
    }

    /// The first worker found holding a wake-up (which is taken).
    async fn first_woken(workers: &[Arc<Notify>]) -> Option<usize> {
        for (i, worker) in workers.iter().enumerate() {
            if woken(worker).await {
                return Some(i);
            }
        }
        None
    }

    /// Commits wake one worker, not all: the others would each run a claim query for the few
    /// notifications the first one takes.
    #[tokio::test]
    async fn commits_wake_one_worker_in_turn() {
        let wake = Arc::new(OutboxWake::default());
        let slots: Vec<_> = (0..4).map(|_| Arc::new(Semaphore::new(2))).collect();
        let workers: Vec<_> = slots.iter().map(|s| wake.register(s.clone())).collect();
        let pool = PgPool::connect_lazy("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
        let (stop, stopped) = watch::channel(false);
        let announcing = tokio::spawn(wake.clone().announce(pool, stopped));

        for round in 0..2 {
            wake.committed();
            wake.committed();
            // The wake-up comes once the commits are gathered, and after the previous round's
            // `NOTIFY`, which may first wait for a connection: wait for it, however long that is.
            let waiting = tokio::time::Instant::now();
            let first = loop {
                if let Some(first) = first_woken(&workers).await {
                    break first;
                }
                assert!(
                    waiting.elapsed() < Duration::from_secs(10),
                    "round {round}: no worker woken"
                );
            };
            assert_eq!(first, round, "in turn");
            tokio::time::sleep(GATHER * 5).await;
            let mut others = Vec::new();
            for worker in &workers {
                others.push(woken(worker).await);
            }
            assert!(
                others.iter().all(|w| !w),
                "round {round}: one worker only: {others:?}"
            );
        }
        stop.send(true).unwrap();
        announcing.await.unwrap();
    }

    /// A worker with every slot taken would only keep the wake-up: the next one with room gets it.
    #[tokio::test]
    async fn a_wake_up_goes_to_a_worker_with_room() {
        let wake = OutboxWake::default();
        let slots: Vec<_> = (0..3).map(|_| Arc::new(Semaphore::new(1))).collect();
        let workers: Vec<_> = slots.iter().map(|s| wake.register(s.clone())).collect();
        let _busy = slots[0].clone().try_acquire_owned().unwrap();

        wake.wake_one();
        assert!(!woken(&workers[0]).await, "the busy one");
        assert!(woken(&workers[1]).await, "the next with room");

        let _all_busy: Vec<_> = slots[1..]
            .iter()
            .map(|s| s.clone().try_acquire_owned().unwrap())
            .collect();
        wake.wake_one();
        for worker in &workers {
            assert!(!woken(worker).await, "none has room");
        }
    }
}
