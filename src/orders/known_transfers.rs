//! The provider transfers whose callbacks the callback writer has stored. A later event about one
//! (a deposit's confirmation after its first report, say) moves a deposit that exists rather than
//! creating one, so the writer does not plan it as new; were it planned, the statement of new
//! deposits it joined would find the transfer stored, keep nothing, and go again.
//!
//! It is a hint, never a guarantee: a transfer stored by another instance, or forgotten here, is
//! still found stored by that statement.

use std::sync::Mutex;

use hashlink::LruCache;

use crate::orders::ingest::PendingCallback;
use crate::providers::EventBody;

/// At most this many transfers are kept, the least recently reported dropped first (a few MB):
/// enough to span the minutes between a transfer's first report and its confirmation.
const CAPACITY: usize = 100_000;

/// `(account, provider_ref)`.
type Key = (String, String);

pub struct KnownTransfers {
    keys: Mutex<LruCache<Key, ()>>,
}

impl Default for KnownTransfers {
    fn default() -> Self {
        KnownTransfers {
            keys: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl KnownTransfers {
    /// Whether a callback about the transfer `provider_ref` on `account` was stored here.
    pub fn contains(&self, account: &str, provider_ref: &str) -> bool {
        let key = (account.to_owned(), provider_ref.to_owned());
        self.keys
            .lock()
            .expect("never poisoned")
            .get(&key)
            .is_some()
    }

    /// Remembers the transfers of the stored `callbacks`' deposit events.
    pub fn remember(&self, callbacks: &[&PendingCallback]) {
        let mut keys = self.keys.lock().expect("never poisoned");
        for callback in callbacks {
            for event in &callback.events {
                if matches!(event.body, EventBody::Deposit(_)) {
                    let key = (callback.account_id.clone(), event.provider_ref.clone());
                    keys.insert(key, ());
                }
            }
        }
    }
}
