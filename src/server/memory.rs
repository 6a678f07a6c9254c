//! Hands memory freed by closed connections back to the operating system.
//!
//! glibc's allocator keeps what its per-thread arenas free for reuse and returns only the free
//! space at the very top of each heap, so after a burst of connections the gateway's resident
//! memory stayed at its peak (measured with 2,000 slow connections: 17 MB idle, 76 MB under load,
//! still 76 MB once all had closed, and 21 MB after one `malloc_trim`). Nothing leaked; the
//! freed pages were simply never given back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the gateway looks whether connections have closed since it last gave memory back.
const LOOK_EVERY: Duration = Duration::from_secs(10);

/// Counts closed connections; `give_back_after_closings` trims once some have closed.
#[derive(Clone, Default)]
pub struct Closings(Arc<AtomicU64>);

impl Closings {
    pub fn record(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every `LOOK_EVERY`, gives freed memory back if a connection has closed since the last look.
pub async fn give_back_after_closings(closings: Closings) {
    let mut seen = closings.count();
    let mut ticks = tokio::time::interval(LOOK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = closings.count();
        if now != seen {
            seen = now;
            let _ = tokio::task::spawn_blocking(give_back_freed_memory).await;
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_freed_memory() {
    let started = std::time::Instant::now();
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps to the kernel; it
    // touches no memory that is in use and may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
    tracing::trace!(took = ?started.elapsed(), "freed memory given back");
}

/// Other allocators (musl's, for one) give freed memory back by themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_freed_memory() {}
