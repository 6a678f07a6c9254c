//! The account's own funds: collection wallets, sweeps into them, the balances providers report,
//! and the outside addresses merchants watch.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub async fn collection_wallet(
    pool: &PgPool,
    account_id: &str,
    chain: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT address FROM collection_wallets WHERE account_id = $1 AND chain = $2",
    )
    .bind(account_id)
    .bind(chain)
    .fetch_optional(pool)
    .await
}

/// A transaction holding the lock on making the account's collection wallet on `chain`, so that
/// two instances never make two.
pub async fn lock_collection_wallet(
    pool: &PgPool,
    account_id: &str,
    chain: &str,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('collection:' || $1 || ':' || $2))")
        .bind(account_id)
        .bind(chain)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

pub async fn collection_wallet_in(
    conn: &mut PgConnection,
    account_id: &str,
    chain: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT address FROM collection_wallets WHERE account_id = $1 AND chain = $2",
    )
    .bind(account_id)
    .bind(chain)
    .fetch_optional(conn)
    .await
}

pub async fn insert_collection_wallet(
    conn: &mut PgConnection,
    account_id: &str,
    chain: &str,
    address: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO collection_wallets (account_id, chain, address) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, chain) DO NOTHING",
    )
    .bind(account_id)
    .bind(chain)
    .bind(address)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the account's sweep thresholds with `policies` (chain, asset, minimum).
pub async fn set_sweep_policies(
    pool: &PgPool,
    account_id: &str,
    policies: &[(String, String, Decimal)],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM sweep_policies WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    for (chain, asset, min) in policies {
        sqlx::query(
            "INSERT INTO sweep_policies (account_id, chain, asset, min_amount) VALUES ($1, $2, $3, $4)",
        )
        .bind(account_id)
        .bind(chain)
        .bind(asset)
        .bind(min)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// A sweep of one address's asset into the collection wallet.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SweepRow {
    pub id: Uuid,
    pub account_id: String,
    pub chain: String,
    pub asset: String,
    pub address: String,
    /// The deposit that called for it; null when an operator asked.
    pub deposit_id: Option<Uuid>,
    /// `pending` (to be asked), `requested` (the provider took it) or `failed` (it refused).
    pub state: String,
    /// `deposit` or `ops`.
    pub source: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Claims sweeps due now, each leased for `lease_secs` so that no other instance asks meanwhile.
pub async fn claim_due_sweeps(
    pool: &PgPool,
    lease_secs: u64,
    limit: i64,
) -> Result<Vec<SweepRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE sweeps SET next_attempt_at = now() + make_interval(secs => $1), updated_at = now()
         WHERE id IN (SELECT id FROM sweeps WHERE state = 'pending' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING *",
    )
    .bind(lease_secs as f64)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Records how asking for a sweep ended: `requested`, `failed`, or still `pending` and due again
/// after `retry_in_secs`.
pub async fn record_sweep_attempt(
    pool: &PgPool,
    id: Uuid,
    state: &str,
    error: Option<&str>,
    retry_in_secs: u64,
) -> Result<SweepRow, sqlx::Error> {
    sqlx::query_as(
        "UPDATE sweeps SET state = $2, last_error = $3, attempts = attempts + 1,
                next_attempt_at = now() + make_interval(secs => $4), updated_at = now()
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(state)
    .bind(error)
    .bind(retry_in_secs as f64)
    .fetch_one(pool)
    .await
}

/// An operator's sweep, due at once.
pub async fn insert_ops_sweep(
    pool: &PgPool,
    account_id: &str,
    chain: &str,
    asset: &str,
    address: &str,
) -> Result<SweepRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO sweeps (id, account_id, chain, asset, address, state, source)
         VALUES ($1, $2, $3, $4, $5, 'pending', 'ops') RETURNING *",
    )
    .bind(Uuid::now_v7())
    .bind(account_id)
    .bind(chain)
    .bind(asset)
    .bind(address)
    .fetch_one(pool)
    .await
}

/// [`list_sweeps`]: `$1` the account, `$2` the limit.
pub const SWEEPS: &str =
    "SELECT * FROM sweeps WHERE account_id = $1 ORDER BY created_at DESC LIMIT $2";

/// An account's sweeps, newest first.
pub async fn list_sweeps(
    pool: &PgPool,
    account_id: &str,
    limit: i64,
) -> Result<Vec<SweepRow>, sqlx::Error> {
    sqlx::query_as(SWEEPS)
        .bind(account_id)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Keeps the latest balance reported for an address and asset.
pub async fn record_balance(
    conn: &mut PgConnection,
    account_id: &str,
    address: &str,
    chain: &str,
    asset: &str,
    amount: Decimal,
    event_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO provider_balances (account_id, address, chain, asset, amount, event_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, address, chain, asset)
         DO UPDATE SET amount = EXCLUDED.amount, event_id = EXCLUDED.event_id, updated_at = now()",
    )
    .bind(account_id)
    .bind(address)
    .bind(chain)
    .bind(asset)
    .bind(amount)
    .bind(event_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A balance as the provider last reported it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BalanceRow {
    pub address: String,
    pub chain: String,
    pub asset: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "12.5")]
    pub amount: Decimal,
    /// Whether the address is the account's collection wallet on its chain.
    pub collection_wallet: bool,
    pub updated_at: DateTime<Utc>,
}

/// The account's reported balances, collection wallets first.
pub async fn list_balances(
    pool: &PgPool,
    account_id: &str,
) -> Result<Vec<BalanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.address, b.chain, b.asset, b.amount, (c.address IS NOT NULL) AS collection_wallet,
                b.updated_at
           FROM provider_balances b
           LEFT JOIN collection_wallets c
             ON c.account_id = b.account_id AND c.chain = b.chain AND c.address = b.address
          WHERE b.account_id = $1
          ORDER BY (c.address IS NULL), b.chain, b.asset, b.address
          LIMIT 1000",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await
}

/// Every collection wallet's reported balances, for the metrics gauge.
pub async fn collection_balances(
    pool: &PgPool,
) -> Result<Vec<(String, String, String, Decimal)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.account_id, b.chain, b.asset, b.amount
           FROM provider_balances b
           JOIN collection_wallets c
             ON c.account_id = b.account_id AND c.chain = b.chain AND c.address = b.address",
    )
    .fetch_all(pool)
    .await
}

/// An outside address a merchant watches.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WatchRow {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub account_id: String,
    pub chain: String,
    pub address: String,
    pub created_at: DateTime<Utc>,
}

/// The merchant's watch of the address, made now or found; and whether it was made now.
pub async fn insert_watch(
    pool: &PgPool,
    merchant_id: Uuid,
    account_id: &str,
    chain: &str,
    address: &str,
) -> Result<(WatchRow, bool), sqlx::Error> {
    let inserted: Option<WatchRow> = sqlx::query_as(
        "INSERT INTO watch_addresses (id, merchant_id, account_id, chain, address)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (merchant_id, account_id, chain, address) DO NOTHING RETURNING *",
    )
    .bind(Uuid::now_v7())
    .bind(merchant_id)
    .bind(account_id)
    .bind(chain)
    .bind(address)
    .fetch_optional(pool)
    .await?;
    if let Some(row) = inserted {
        return Ok((row, true));
    }
    let row = sqlx::query_as(
        "SELECT * FROM watch_addresses
          WHERE merchant_id = $1 AND account_id = $2 AND chain = $3 AND address = $4",
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(chain)
    .bind(address)
    .fetch_one(pool)
    .await?;
    Ok((row, false))
}

/// Who watches the address on the account.
pub async fn watchers(
    conn: &mut PgConnection,
    account_id: &str,
    chain: &str,
    address: &str,
) -> Result<Vec<WatchRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM watch_addresses WHERE account_id = $1 AND chain = $2 AND address = $3",
    )
    .bind(account_id)
    .bind(chain)
    .bind(address)
    .fetch_all(conn)
    .await
}
