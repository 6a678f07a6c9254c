//! The provider transfers whose callbacks the callback writer has stored, with the keys of the
//! events that reported them. A later report of one (a deposit's confirmation after its first
//! report, say) moves a deposit that exists rather than creating one, so the writer does not plan
//! it as new; were it planned, the statement of new deposits it joined would find the transfer
//! stored, keep nothing, and go again. A report stored before, delivered again, is planned as
//! usual: its claim skips it.
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
type Transfer = (String, String);

pub struct KnownTransfers {
    /// Each transfer's event keys, as stored.
    reports: Mutex<LruCache<Transfer, Vec<String>>>,
}

impl Default for KnownTransfers {
    fn default() -> Self {
        KnownTransfers {
            reports: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl KnownTransfers {
    /// Whether the event `event_key` reports anew the transfer `provider_ref` on `account`, which
    /// a callback stored here reported before under another key.
    pub fn is_later_report(&self, account: &str, provider_ref: &str, event_key: &str) -> bool {
        let transfer = (account.to_owned(), provider_ref.to_owned());
        let mut reports = self.reports.lock().expect("never poisoned");
        reports
            .get(&transfer)
            .is_some_and(|keys| !keys.iter().any(|key| key == event_key))
    }

    /// Remembers the transfers of the stored `callbacks`' deposit events, and their keys.
    pub fn remember(&self, callbacks: &[&PendingCallback]) {
        let mut reports = self.reports.lock().expect("never poisoned");
        for callback in callbacks {
            for event in &callback.events {
                if !matches!(event.body, EventBody::Deposit(_)) {
                    continue;
                }
                let transfer = (callback.account_id.clone(), event.provider_ref.clone());
                match reports.get_mut(&transfer) {
                    Some(keys) if keys.contains(&event.event_key) => {}
                    Some(keys) => keys.push(event.event_key.clone()),
                    None => {
                        reports.insert(transfer, vec![event.event_key.clone()]);
                    }
                }
            }
        }
    }
}
