//! API keys this gateway checked recently, so that a merchant request does not spend a query on
//! its key. A key is kept only while this gateway listens for credential changes: a revoked key
//! or a disabled merchant is announced on commit (migration 0021) and everything kept is
//! forgotten then, and whenever the listening connection is lost. A key is also read again after
//! `FRESH_FOR`, in case a connection dies without saying so.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hashlink::LruCache;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

/// The channel credential changes are announced on.
pub const CHANNEL: &str = "custody_credentials";

/// How long a kept key is trusted without being read again.
const FRESH_FOR: Duration = Duration::from_secs(30);

/// At most this many keys are kept. Only keys that let a merchant in are kept, so strangers
/// trying keys cannot fill it.
const CAPACITY: usize = 10_000;

type KeyHash = [u8; 32];

pub struct KnownKeys {
    kept: Mutex<LruCache<KeyHash, (Uuid, Instant)>>,
    /// Whether a change would be heard now; nothing is kept or used otherwise.
    listening: AtomicBool,
    /// Counts forgettings, so that a read which began before one is not kept after it.
    forgotten: AtomicU64,
}

/// What was known of the changes when a key was read from the database.
#[derive(Clone, Copy)]
pub struct ReadMark(u64);

impl Default for KnownKeys {
    fn default() -> Self {
        KnownKeys {
            kept: Mutex::new(LruCache::new(CAPACITY)),
            listening: AtomicBool::new(false),
            forgotten: AtomicU64::new(0),
        }
    }
}

impl KnownKeys {
    /// The enabled merchant whose key this is, when kept and fresh.
    pub fn merchant(&self, key: &KeyHash) -> Option<Uuid> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let mut kept = self.kept.lock().expect("never poisoned");
        match kept.get(key) {
            Some(&(merchant, read_at)) if read_at.elapsed() < FRESH_FOR => Some(merchant),
            Some(_) => {
                kept.remove(key);
                None
            }
            None => None,
        }
    }

    /// Taken before reading a key from the database.
    pub fn mark(&self) -> ReadMark {
        ReadMark(self.forgotten.load(Ordering::Acquire))
    }

    /// Keeps a key read as an enabled merchant's since `mark`, unless a change was heard since.
    pub fn keep(&self, key: KeyHash, merchant: Uuid, mark: ReadMark) {
        let mut kept = self.kept.lock().expect("never poisoned");
        if self.listening.load(Ordering::Acquire)
            && self.forgotten.load(Ordering::Acquire) == mark.0
        {
            kept.insert(key, (merchant, Instant::now()));
        }
    }

    fn forget_all(&self) {
        let mut kept = self.kept.lock().expect("never poisoned");
        self.forgotten.fetch_add(1, Ordering::AcqRel);
        kept.clear();
    }

    fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::Release);
        self.forget_all();
    }

    /// Listens for credential changes until `stop`, forgetting every kept key on each, and
    /// keeping none while not listening.
    pub async fn listen(self: std::sync::Arc<Self>, pool: PgPool, mut stop: watch::Receiver<bool>) {
        loop {
            match crate::store::listen(&pool, CHANNEL).await {
                Ok(mut listener) => {
                    self.set_listening(true);
                    loop {
                        tokio::select! {
                            received = listener.try_recv() => match received {
                                Ok(Some(_)) => self.forget_all(),
                                // The connection was lost: changes in the meantime went unheard.
                                Ok(None) | Err(_) => break,
                            },
                            _ = stop.changed() => {
                                self.set_listening(false);
                                return;
                            }
                        }
                    }
                    self.set_listening(false);
                    tracing::warn!(
                        "credential changes unheard; every API key is read from the database meanwhile"
                    );
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for credential changes; every API key is read from the database")
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

    const KEY: KeyHash = [7; 32];

    #[test]
    fn nothing_is_kept_while_changes_cannot_be_heard() {
        let keys = KnownKeys::default();
        keys.keep(KEY, Uuid::nil(), keys.mark());
        assert_eq!(keys.merchant(&KEY), None);

        keys.set_listening(true);
        keys.keep(KEY, Uuid::nil(), keys.mark());
        assert_eq!(keys.merchant(&KEY), Some(Uuid::nil()));

        keys.set_listening(false);
        assert_eq!(keys.merchant(&KEY), None);
    }

    #[test]
    fn a_read_begun_before_a_change_is_not_kept() {
        let keys = KnownKeys::default();
        keys.set_listening(true);
        let mark = keys.mark();
        keys.forget_all();
        keys.keep(KEY, Uuid::nil(), mark);
        assert_eq!(keys.merchant(&KEY), None);
    }

    #[test]
    fn a_change_forgets_every_kept_key() {
        let keys = KnownKeys::default();
        keys.set_listening(true);
        keys.keep(KEY, Uuid::nil(), keys.mark());
        keys.forget_all();
        assert_eq!(keys.merchant(&KEY), None);
    }
}
