use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AddressRow {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub user_id: String,
    pub account_id: String,
    pub chain: String,
    pub asset: String,
    pub address: String,
    pub memo: Option<String>,
    pub created_at: DateTime<Utc>,
    pub provider_wallet_ref: Option<String>,
    /// Set once the provider replaced the address; deposits to it are still the user's.
    pub retired_at: Option<DateTime<Utc>>,
}

pub struct NewAddress<'a> {
    pub merchant_id: Uuid,
    pub user_id: &'a str,
    pub account_id: &'a str,
    pub chain: &'a str,
    pub asset: &'a str,
    pub address: &'a str,
    pub memo: Option<&'a str>,
    pub provider_wallet_ref: Option<&'a str>,
}

pub async fn find_user_address(
    db: impl PgExecutor<'_>,
    merchant_id: Uuid,
    user_id: &str,
    account_id: &str,
    chain: &str,
) -> Result<Option<AddressRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM addresses
         WHERE merchant_id = $1 AND user_id = $2 AND account_id = $3 AND chain = $4 AND retired_at IS NULL",
    )
    .bind(merchant_id)
    .bind(user_id)
    .bind(account_id)
    .bind(chain)
    .fetch_optional(db)
    .await
}

/// Inserts the address unless the user already has one on that account and chain (a concurrent
/// request won); returns the stored row either way.
pub async fn insert_or_get(
    conn: &mut PgConnection,
    new: &NewAddress<'_>,
) -> Result<(AddressRow, bool), sqlx::Error> {
    let inserted: Option<AddressRow> = sqlx::query_as(
        "INSERT INTO addresses (id, merchant_id, user_id, account_id, chain, asset, address, memo, provider_wallet_ref)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (merchant_id, user_id, account_id, chain) WHERE retired_at IS NULL DO NOTHING
         RETURNING *",
    )
    .bind(Uuid::now_v7())
    .bind(new.merchant_id)
    .bind(new.user_id)
    .bind(new.account_id)
    .bind(new.chain)
    .bind(new.asset)
    .bind(new.address)
    .bind(new.memo)
    .bind(new.provider_wallet_ref)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = inserted {
        return Ok((row, true));
    }
    let existing = find_user_address(
        conn,
        new.merchant_id,
        new.user_id,
        new.account_id,
        new.chain,
    )
    .await?
    .ok_or(sqlx::Error::RowNotFound)?;
    Ok((existing, false))
}

pub async fn list_for_user(
    pool: &PgPool,
    merchant_id: Uuid,
    user_id: &str,
) -> Result<Vec<AddressRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM addresses WHERE merchant_id = $1 AND user_id = $2 AND retired_at IS NULL
         ORDER BY created_at",
    )
    .bind(merchant_id)
    .bind(user_id)
    .fetch_all(pool)
    .await
}

pub async fn find_by_account_address(
    db: impl PgExecutor<'_>,
    account_id: &str,
    chain: &str,
    address: &str,
) -> Result<Option<AddressRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM addresses WHERE account_id = $1 AND chain = $2 AND address = $3")
        .bind(account_id)
        .bind(chain)
        .bind(address)
        .fetch_optional(db)
        .await
}

/// How replacing a user's address went.
pub enum Replacement {
    /// `(retired, current)`.
    Replaced(Box<(AddressRow, AddressRow)>),
    /// `old` is not a current address of ours on this account and chain.
    NotOurs,
    /// `new` already belongs to another of our users: nothing was changed.
    Taken,
}

/// Retires the user's current address `old` on the account and chain and gives the user `new`
/// instead (same merchant, user, asset and wallet). An address the user had before is made current
/// again rather than stored twice.
pub async fn replace_address(
    conn: &mut sqlx::PgConnection,
    account_id: &str,
    chain: &str,
    old: &str,
    new: &str,
) -> Result<Replacement, sqlx::Error> {
    let Some(current) = lock_current(conn, account_id, chain, old).await? else {
        return Ok(Replacement::NotOurs);
    };
    let existing = find_by_account_address(&mut *conn, account_id, chain, new).await?;
    if let Some(existing) = &existing
        && (existing.merchant_id != current.merchant_id || existing.user_id != current.user_id)
    {
        return Ok(Replacement::Taken);
    }
    let retired: AddressRow =
        sqlx::query_as("UPDATE addresses SET retired_at = now() WHERE id = $1 RETURNING *")
            .bind(current.id)
            .fetch_one(&mut *conn)
            .await?;
    let replacement: AddressRow = match existing {
        Some(earlier) => {
            sqlx::query_as("UPDATE addresses SET retired_at = NULL WHERE id = $1 RETURNING *")
                .bind(earlier.id)
                .fetch_one(&mut *conn)
                .await?
        }
        None => sqlx::query_as(
            "INSERT INTO addresses (id, merchant_id, user_id, account_id, chain, asset, address,
                                        memo, provider_wallet_ref)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 RETURNING *",
        )
        .bind(Uuid::now_v7())
        .bind(retired.merchant_id)
        .bind(&retired.user_id)
        .bind(account_id)
        .bind(chain)
        .bind(&retired.asset)
        .bind(new)
        .bind(&retired.memo)
        .bind(&retired.provider_wallet_ref)
        .fetch_one(&mut *conn)
        .await?,
    };
    Ok(Replacement::Replaced(Box::new((retired, replacement))))
}

async fn lock_current(
    conn: &mut sqlx::PgConnection,
    account_id: &str,
    chain: &str,
    address: &str,
) -> Result<Option<AddressRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM addresses
         WHERE account_id = $1 AND chain = $2 AND address = $3 AND retired_at IS NULL FOR UPDATE",
    )
    .bind(account_id)
    .bind(chain)
    .bind(address)
    .fetch_optional(conn)
    .await
}

/// The provider-side wallet any of the user's addresses on this account belongs to.
pub async fn user_wallet_ref(
    db: impl PgExecutor<'_>,
    merchant_id: Uuid,
    user_id: &str,
    account_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT provider_wallet_ref FROM addresses
         WHERE merchant_id = $1 AND user_id = $2 AND account_id = $3 AND provider_wallet_ref IS NOT NULL
         ORDER BY created_at LIMIT 1",
    )
    .bind(merchant_id)
    .bind(user_id)
    .bind(account_id)
    .fetch_optional(db)
    .await
}

/// Serialises address creation for one user on one account until the returned transaction ends,
/// so that concurrent first requests (for different chains, say) create one provider wallet.
pub async fn lock_user_on_account(
    pool: &PgPool,
    merchant_id: Uuid,
    user_id: &str,
    account_id: &str,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('address:' || $1 || ':' || $2 || ':' || $3))",
    )
    .bind(merchant_id.to_string())
    .bind(user_id)
    .bind(account_id)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}
