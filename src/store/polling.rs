//! Pull-based feeds: where each feed has got to, and the per-account lock that keeps two gateway
//! instances from polling one account at once.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

use crate::store::deposits::DepositRow;

/// An account's polling lock, held by a session of its own. A round that ends without
/// [`AccountLock::release`] (cut off midway, say) closes that session, which releases the lock,
/// rather than give a locked connection back to the pool: there it would keep every other
/// session from polling the account for as long as the connection lived.
pub struct AccountLock {
    conn: Option<PoolConnection<Postgres>>,
    account_id: String,
}

impl AccountLock {
    /// Takes the account's lock, unless another session holds it.
    pub async fn try_take(
        pool: &PgPool,
        account_id: &str,
    ) -> Result<Option<AccountLock>, sqlx::Error> {
        let mut lock = AccountLock {
            conn: Some(pool.acquire().await?),
            account_id: account_id.to_owned(),
        };
        let conn = lock.conn.as_mut().expect("just acquired");
        let taken: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('poll:' || $1))")
                .bind(account_id)
                .fetch_one(&mut **conn)
                .await?;
        if !taken {
            // Nothing held: the connection goes back to the pool.
            lock.conn = None;
            return Ok(None);
        }
        Ok(Some(lock))
    }

    /// Gives the lock back, and its connection to the pool.
    pub async fn release(mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext('poll:' || $1))")
            .bind(&self.account_id)
            .execute(&mut **conn)
            .await;
        if unlocked.is_ok() {
            self.conn = None;
        }
    }
}

impl Drop for AccountLock {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.conn {
            conn.close_on_drop();
        }
    }
}

pub async fn cursor(
    pool: &PgPool,
    account_id: &str,
    feed: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT cursor FROM poll_cursors WHERE account_id = $1 AND feed = $2")
        .bind(account_id)
        .bind(feed)
        .fetch_optional(pool)
        .await
}

/// Stores the cursor; called in the transaction that stores the events it covers.
pub async fn set_cursor(
    conn: &mut PgConnection,
    account_id: &str,
    feed: &str,
    cursor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO poll_cursors (account_id, feed, cursor) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, feed) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()",
    )
    .bind(account_id)
    .bind(feed)
    .bind(cursor)
    .execute(conn)
    .await?;
    Ok(())
}

/// [`deposits_awaiting_confirmations`]: `$1` the account.
pub const AWAITING_CONFIRMATIONS: &str =
    "SELECT * FROM deposits WHERE account_id = $1 AND state = 'detected' AND block_height IS NOT NULL
     ORDER BY created_at LIMIT 1000";

/// Deposits still waiting for confirmations, with the height they were mined at.
pub async fn deposits_awaiting_confirmations(
    pool: &PgPool,
    account_id: &str,
) -> Result<Vec<DepositRow>, sqlx::Error> {
    sqlx::query_as(AWAITING_CONFIRMATIONS)
        .bind(account_id)
        .fetch_all(pool)
        .await
}
