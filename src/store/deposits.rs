use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::DepositState;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DepositRow {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub address_id: Uuid,
    pub account_id: String,
    pub provider_ref: String,
    pub user_id: String,
    pub chain: String,
    pub asset: String,
    pub address: String,
    pub memo: Option<String>,
    pub amount: Decimal,
    pub fee: Option<Decimal>,
    pub tx_hash: Option<String>,
    pub block_height: Option<i64>,
    pub state: DepositState,
    pub needs_review: bool,
    pub review_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub risk_source_score: Option<i16>,
    pub risk_target_score: Option<i16>,
    /// Set while the deposit waits for an operator before it may be credited.
    pub hold_reason: Option<String>,
}

pub struct NewDeposit<'a> {
    pub merchant_id: Uuid,
    pub address_id: Uuid,
    pub account_id: &'a str,
    pub provider_ref: &'a str,
    pub user_id: &'a str,
    pub chain: &'a str,
    pub asset: &'a str,
    pub address: &'a str,
    pub memo: Option<&'a str>,
    pub amount: Decimal,
    pub fee: Option<Decimal>,
    pub tx_hash: Option<&'a str>,
    pub block_height: Option<i64>,
    pub risk_source_score: Option<i16>,
    pub risk_target_score: Option<i16>,
    pub hold_reason: Option<&'a str>,
}

/// Inserts the deposit as `detected`; `None` when the provider's transfer is already stored.
pub async fn insert_detected(
    conn: &mut PgConnection,
    new: &NewDeposit<'_>,
) -> Result<Option<DepositRow>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO deposits (id, merchant_id, address_id, account_id, provider_ref, user_id, chain, asset,
                               address, memo, amount, fee, tx_hash, block_height, state,
                               risk_source_score, risk_target_score, hold_reason, needs_review,
                               review_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'detected', $15, $16,
                 $17, $17 IS NOT NULL, $17)
         ON CONFLICT ON CONSTRAINT deposits_account_ref_unique DO NOTHING
         RETURNING *",
    )
    .bind(Uuid::now_v7())
    .bind(new.merchant_id)
    .bind(new.address_id)
    .bind(new.account_id)
    .bind(new.provider_ref)
    .bind(new.user_id)
    .bind(new.chain)
    .bind(new.asset)
    .bind(new.address)
    .bind(new.memo)
    .bind(new.amount)
    .bind(new.fee)
    .bind(new.tx_hash)
    .bind(new.block_height)
    .bind(new.risk_source_score)
    .bind(new.risk_target_score)
    .bind(new.hold_reason)
    .fetch_optional(conn)
    .await
}

pub async fn lock_by_provider_ref(
    conn: &mut PgConnection,
    account_id: &str,
    provider_ref: &str,
) -> Result<Option<DepositRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM deposits WHERE account_id = $1 AND provider_ref = $2 FOR UPDATE")
        .bind(account_id)
        .bind(provider_ref)
        .fetch_optional(conn)
        .await
}

/// Moves the deposit to `state`, keeping known chain details when the event lacks them.
pub async fn set_state(
    conn: &mut PgConnection,
    id: Uuid,
    state: &str,
    fee: Option<Decimal>,
    tx_hash: Option<&str>,
    block_height: Option<i64>,
) -> Result<DepositRow, sqlx::Error> {
    sqlx::query_as(
        "UPDATE deposits SET state = $2, fee = COALESCE($3, fee), tx_hash = COALESCE($4, tx_hash),
                block_height = COALESCE($5, block_height), updated_at = now()
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(state)
    .bind(fee)
    .bind(tx_hash)
    .bind(block_height)
    .fetch_one(conn)
    .await
}

/// An operator's release or rejection of a held deposit: the hold ends with the new state.
pub async fn end_hold(
    conn: &mut PgConnection,
    id: Uuid,
    state: DepositState,
) -> Result<DepositRow, sqlx::Error> {
    sqlx::query_as(
        "UPDATE deposits SET state = $2, hold_reason = NULL, needs_review = FALSE, updated_at = now()
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(state)
    .fetch_one(conn)
    .await
}

pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<DepositRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM deposits WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn flag_for_review(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE deposits SET needs_review = TRUE, review_reason = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find_for_merchant(
    pool: &PgPool,
    merchant_id: Uuid,
    id: Uuid,
) -> Result<Option<DepositRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM deposits WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<DepositRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM deposits WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// [`search`]: `$1` the term, `$2` the limit.
pub const SEARCH: &str =
    "SELECT * FROM deposits WHERE tx_hash = $1 OR address = $1 ORDER BY created_at DESC LIMIT $2";

/// Deposits whose transaction hash or address is `term`, newest first (ops lookup).
pub async fn search(pool: &PgPool, term: &str, limit: i64) -> Result<Vec<DepositRow>, sqlx::Error> {
    sqlx::query_as(SEARCH)
        .bind(term)
        .bind(limit)
        .fetch_all(pool)
        .await
}

#[derive(Debug, Default)]
pub struct DepositFilter {
    pub user_id: Option<String>,
    pub address: Option<String>,
    pub state: Option<String>,
    pub tx_hash: Option<String>,
    /// The id of the last deposit of the previous page.
    pub after: Option<Uuid>,
}

/// Newest first; pages continue strictly after the `after` deposit.
pub async fn list_for_merchant(
    pool: &PgPool,
    merchant_id: Option<Uuid>,
    filter: &DepositFilter,
    limit: i64,
) -> Result<Vec<DepositRow>, sqlx::Error> {
    listing("SELECT d.*", merchant_id, filter, limit)
        .build_query_as()
        .fetch_all(pool)
        .await
}

/// The query [`list_for_merchant`] runs, after `select`. Only the filters given are in it, so that
/// every plan can use the index that fits them.
pub fn listing(
    select: &str,
    merchant_id: Option<Uuid>,
    filter: &DepositFilter,
    limit: i64,
) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(select);
    query.push(" FROM deposits d WHERE TRUE");
    if let Some(merchant_id) = merchant_id {
        query.push(" AND d.merchant_id = ").push_bind(merchant_id);
    }
    for (column, value) in [
        ("user_id", &filter.user_id),
        ("address", &filter.address),
        ("state", &filter.state),
        ("tx_hash", &filter.tx_hash),
    ] {
        if let Some(value) = value {
            query
                .push(format_args!(" AND d.{column} = "))
                .push_bind(value.as_str());
        }
    }
    if let Some(after) = filter.after {
        query
            .push(
                " AND (d.created_at, d.id) < (SELECT c.created_at, c.id FROM deposits c WHERE c.id = ",
            )
            .push_bind(after)
            .push(")");
    }
    query
        .push(" ORDER BY d.created_at DESC, d.id DESC LIMIT ")
        .push_bind(limit);
    query
}
