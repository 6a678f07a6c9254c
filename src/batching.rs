//! Gathering work that arrives together into one database transaction (group commit). A job is
//! handled at once while a transaction slot is free; jobs that arrive while every slot is busy
//! wait, and the next free slot takes all of them (up to a limit) as one batch. Under load (the
//! last batch held more than one job), a batch may also wait a moment for as many as the last
//! before it starts.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

/// Where jobs are queued for [`spawn`]'s batches.
pub type Queue<J> = mpsc::Sender<J>;

/// How [`spawn`] gathers batches.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Batches handled at once.
    pub slots: usize,
    /// Jobs in one batch.
    pub max_batch: usize,
    /// How long a batch started under load waits for as many jobs as the last; zero never waits.
    pub linger: Duration,
}

/// Starts the batcher: batches within `limits`, each handled by `handle`. Ends once every
/// [`Queue`] is dropped.
pub fn spawn<J, F, Fut>(limits: Limits, handle: F) -> Queue<J>
where
    J: Send + 'static,
    F: Fn(Vec<J>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let limits = Limits {
        slots: limits.slots.max(1),
        max_batch: limits.max_batch.max(1),
        linger: limits.linger,
    };
    let (queue, jobs) = mpsc::channel(limits.slots * limits.max_batch * 4);
    tokio::spawn(gather(jobs, limits, handle));
    queue
}

/// Takes the next batch once a slot is free: whatever has queued meanwhile, and under load what
/// arrives within the linger.
async fn gather<J, F, Fut>(mut jobs: mpsc::Receiver<J>, limits: Limits, handle: F)
where
    J: Send + 'static,
    F: Fn(Vec<J>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.slots));
    let mut last_batch = 0;
    loop {
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the slots are never closed");
        let Some(first) = jobs.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < limits.max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Jobs that came together last time are likely to again: rather than start a batch of
        // one and make the rest wait a whole batch behind it, wait a moment for as many.
        if last_batch > 1 && !limits.linger.is_zero() {
            let until = Instant::now() + limits.linger;
            while batch.len() < last_batch.min(limits.max_batch) {
                match tokio::time::timeout_at(until, jobs.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    _ => break,
                }
            }
        }
        last_batch = batch.len();
        let work = handle(batch);
        tokio::spawn(async move {
            work.await;
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Batches of one slot: jobs 0 and 1 are sent while the batch before them is busy, so they
    /// come together; jobs 3 and 4 come 10 ms apart, after a quiet moment.
    async fn batch_sizes(linger: Duration) -> Vec<usize> {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&sizes);
        let limits = Limits {
            slots: 1,
            max_batch: 8,
            linger,
        };
        let queue = spawn(
            limits,
            move |batch: Vec<tokio::sync::oneshot::Sender<()>>| {
                seen.lock().unwrap().push(batch.len());
                async move {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    for done in batch {
                        let _ = done.send(());
                    }
                }
            },
        );
        let send = |queue: Queue<_>| {
            let (done, finished) = tokio::sync::oneshot::channel();
            queue.try_send(done).unwrap();
            finished
        };
        let first = send(queue.clone());
        tokio::time::sleep(Duration::from_millis(5)).await;
        let together = [send(queue.clone()), send(queue.clone())];
        first.await.unwrap();
        for finished in together {
            finished.await.unwrap();
        }
        let third = send(queue.clone());
        tokio::time::sleep(Duration::from_millis(10)).await;
        let fourth = send(queue.clone());
        third.await.unwrap();
        fourth.await.unwrap();
        sizes.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn under_load_a_batch_waits_for_as_many_jobs_as_the_last() {
        assert_eq!(batch_sizes(Duration::from_millis(200)).await, [1, 2, 2]);
    }

    #[tokio::test]
    async fn without_a_linger_a_batch_starts_at_once() {
        assert_eq!(batch_sizes(Duration::ZERO).await, [1, 2, 1, 1]);
    }
}
