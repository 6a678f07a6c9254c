//! The addresses callbacks' deposits were paid to, as the callback writer last read them. What a
//! deposit takes from its address (the address's id, merchant and user) never changes once the
//! address exists, so a group whose addresses are all known here reads none of them again.

use std::sync::Mutex;

use hashlink::LruCache;
use sqlx::PgPool;

use crate::store::addresses::AddressRow;
use crate::store::batch;

/// At most this many addresses are kept, the least recently paid dropped first (a few MB).
const CAPACITY: usize = 20_000;

/// `(account, chain, address)`.
type Key = (String, String, String);

pub struct KnownAddresses {
    rows: Mutex<LruCache<Key, AddressRow>>,
}

impl Default for KnownAddresses {
    fn default() -> Self {
        KnownAddresses {
            rows: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl KnownAddresses {
    /// The addresses at `keys` that are ours, read from the database where not known here. One
    /// that is not ours is asked about again next time: it may have been created since.
    pub async fn find(
        &self,
        pool: &PgPool,
        keys: &[(&str, &str, &str)],
    ) -> Result<Vec<AddressRow>, sqlx::Error> {
        let mut found = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        {
            let mut rows = self.rows.lock().expect("never poisoned");
            for &(account, chain, address) in keys {
                let key = (account.to_owned(), chain.to_owned(), address.to_owned());
                match rows.get(&key) {
                    Some(row) => found.push(row.clone()),
                    None => missing.push((account, chain, address)),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let read = batch::find_addresses(pool, &missing).await?;
        let mut rows = self.rows.lock().expect("never poisoned");
        for row in &read {
            let key = (
                row.account_id.clone(),
                row.chain.clone(),
                row.address.clone(),
            );
            rows.insert(key, row.clone());
        }
        found.extend(read);
        Ok(found)
    }
}
