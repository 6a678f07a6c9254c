//! Pull-based feeds: where each feed has got to, and the per-account lock that keeps two gateway
//! instances from polling one account at once.

use sqlx::{PgConnection, PgPool};

use crate::store::deposits::DepositRow;

/// Takes the account's polling lock on this connection, unless another session holds it.
pub async fn try_lock_account(
    conn: &mut PgConnection,
    account_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('poll:' || $1))")
        .bind(account_id)
        .fetch_one(conn)
        .await
}

pub async fn unlock_account(conn: &mut PgConnection, account_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_unlock(hashtext('poll:' || $1))")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
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

/// Deposits still waiting for confirmations, with the height they were mined at.
pub async fn deposits_awaiting_confirmations(
    pool: &PgPool,
    account_id: &str,
) -> Result<Vec<DepositRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM deposits WHERE account_id = $1 AND state = 'detected' AND block_height IS NOT NULL
         ORDER BY created_at LIMIT 1000",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await
}
