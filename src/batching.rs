//! Gathering work that arrives together into one database transaction (group commit). A job is
//! handled at once while a transaction slot is free; jobs that arrive while every slot is busy
//! wait, and the next free slot takes all of them (up to a limit) as one batch.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

/// Where jobs are queued for [`spawn`]'s batches.
pub type Queue<J> = mpsc::Sender<J>;

/// Starts the batcher: at most `slots` batches at once, each of at most `max_batch` jobs, each
/// handled by `handle`. Ends once every [`Queue`] is dropped.
pub fn spawn<J, F, Fut>(slots: usize, max_batch: usize, handle: F) -> Queue<J>
where
    J: Send + 'static,
    F: Fn(Vec<J>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (slots, max_batch) = (slots.max(1), max_batch.max(1));
    let (queue, jobs) = mpsc::channel(slots * max_batch * 4);
    tokio::spawn(gather(jobs, slots, max_batch, handle));
    queue
}

/// Takes the next batch once a slot is free: whatever has queued meanwhile.
async fn gather<J, F, Fut>(mut jobs: mpsc::Receiver<J>, slots: usize, max_batch: usize, handle: F)
where
    J: Send + 'static,
    F: Fn(Vec<J>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(slots));
    loop {
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the slots are never closed");
        let Some(first) = jobs.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let work = handle(batch);
        tokio::spawn(async move {
            work.await;
            drop(slot);
        });
    }
}
