use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::WithdrawalState;
use crate::store::transitions::TransitionRow;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WithdrawalRow {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub client_order_id: String,
    pub account_id: String,
    pub provider_request_id: String,
    pub provider_ref: Option<String>,
    pub chain: String,
    pub asset: String,
    pub amount: Decimal,
    pub to_address: String,
    pub memo: Option<String>,
    pub state: WithdrawalState,
    pub tx_hash: Option<String>,
    pub fee: Option<Decimal>,
    /// Stable, for the merchant: `provider_refused`, `provider_unavailable`, …
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The provider's own code and text, for ops only.
    pub provider_error_code: Option<String>,
    pub provider_error: Option<String>,
    /// The provider waits for our second confirmation before it pays.
    pub provider_awaits_approval: bool,
    /// Why the provider holds the payout back for now, and since when.
    pub delay_reason: Option<String>,
    pub delay_since: Option<DateTime<Utc>>,
    /// Set while a send to the provider may be in flight.
    pub send_lease_until: Option<DateTime<Utc>>,
    pub needs_review: bool,
    pub review_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewWithdrawal<'a> {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub client_order_id: &'a str,
    pub account_id: &'a str,
    pub provider_request_id: &'a str,
    pub chain: &'a str,
    pub asset: &'a str,
    pub amount: Decimal,
    pub to_address: &'a str,
    pub memo: Option<&'a str>,
}

/// Inserts the withdrawal as `accepted`, its first send leased for `lease_secs`; `None` when the
/// merchant already used this client order id.
pub async fn insert_accepted(
    conn: &mut PgConnection,
    new: &NewWithdrawal<'_>,
    lease_secs: u64,
) -> Result<Option<WithdrawalRow>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO withdrawals (id, merchant_id, client_order_id, account_id, provider_request_id, chain,
                                  asset, amount, to_address, memo, state, send_lease_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'accepted',
                 now() + make_interval(secs => $11))
         ON CONFLICT ON CONSTRAINT withdrawals_client_order_unique DO NOTHING
         RETURNING *",
    )
    .bind(new.id)
    .bind(new.merchant_id)
    .bind(new.client_order_id)
    .bind(new.account_id)
    .bind(new.provider_request_id)
    .bind(new.chain)
    .bind(new.asset)
    .bind(new.amount)
    .bind(new.to_address)
    .bind(new.memo)
    .bind(lease_secs as f64)
    .fetch_optional(conn)
    .await
}

pub async fn find_by_client_order_id(
    db: impl PgExecutor<'_>,
    merchant_id: Uuid,
    client_order_id: &str,
) -> Result<Option<WithdrawalRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM withdrawals WHERE merchant_id = $1 AND client_order_id = $2")
        .bind(merchant_id)
        .bind(client_order_id)
        .fetch_optional(db)
        .await
}

pub async fn find_for_merchant(
    pool: &PgPool,
    merchant_id: Uuid,
    id: Uuid,
) -> Result<Option<WithdrawalRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM withdrawals WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The merchant's withdrawal with its transitions, oldest first, in one round trip.
pub async fn find_for_merchant_with_history(
    pool: &PgPool,
    merchant_id: Uuid,
    id: Uuid,
) -> Result<Option<(WithdrawalRow, Vec<TransitionRow>)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct WithHistory {
        #[sqlx(flatten)]
        row: WithdrawalRow,
        history: Json<Vec<TransitionRow>>,
    }
    let found: Option<WithHistory> = sqlx::query_as(
        "SELECT w.*,
                COALESCE((SELECT json_agg(json_build_object(
                                    'from_state', t.from_state, 'to_state', t.to_state,
                                    'source', t.source, 'reason', t.reason,
                                    'created_at', t.created_at) ORDER BY t.id)
                            FROM order_transitions t WHERE t.order_id = w.id),
                         '[]') AS history
         FROM withdrawals w WHERE w.merchant_id = $1 AND w.id = $2",
    )
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|f| (f.row, f.history.0)))
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<WithdrawalRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM withdrawals WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<WithdrawalRow, sqlx::Error> {
    sqlx::query_as("SELECT * FROM withdrawals WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_one(conn)
        .await
}

pub async fn lock_by_request_id(
    conn: &mut PgConnection,
    account_id: &str,
    provider_request_id: &str,
) -> Result<Option<WithdrawalRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM withdrawals WHERE account_id = $1 AND provider_request_id = $2 FOR UPDATE",
    )
    .bind(account_id)
    .bind(provider_request_id)
    .fetch_optional(conn)
    .await
}

/// What a transition may add to a withdrawal; `None` keeps what is stored.
#[derive(Debug, Default)]
pub struct WithdrawalChanges<'a> {
    pub provider_ref: Option<&'a str>,
    pub tx_hash: Option<&'a str>,
    pub fee: Option<Decimal>,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub provider_error_code: Option<&'a str>,
    pub provider_error: Option<&'a str>,
    pub provider_awaits_approval: Option<bool>,
}

pub async fn set_state(
    conn: &mut PgConnection,
    id: Uuid,
    state: &str,
    changes: &WithdrawalChanges<'_>,
) -> Result<WithdrawalRow, sqlx::Error> {
    sqlx::query_as(
        "UPDATE withdrawals SET state = $2, provider_ref = COALESCE($3, provider_ref),
                tx_hash = COALESCE($4, tx_hash), fee = COALESCE($5, fee),
                error_code = COALESCE($6, error_code), error_message = COALESCE($7, error_message),
                provider_error_code = COALESCE($8, provider_error_code),
                provider_error = COALESCE($9, provider_error),
                provider_awaits_approval = COALESCE($10, provider_awaits_approval),
                delay_reason = NULL, delay_since = NULL, updated_at = now()
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(state)
    .bind(changes.provider_ref)
    .bind(changes.tx_hash)
    .bind(changes.fee)
    .bind(changes.error_code)
    .bind(changes.error_message)
    .bind(changes.provider_error_code)
    .bind(changes.provider_error)
    .bind(changes.provider_awaits_approval)
    .fetch_one(conn)
    .await
}

/// The provider holds the payout back for now: why, from now on.
pub async fn set_delay(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<WithdrawalRow, sqlx::Error> {
    sqlx::query_as(
        "UPDATE withdrawals SET delay_reason = $2, delay_since = now(), updated_at = now()
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(reason)
    .fetch_one(conn)
    .await
}

pub async fn flag_for_review(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE withdrawals SET needs_review = TRUE, review_reason = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn flag_for_review_by_request_id(
    pool: &PgPool,
    account_id: &str,
    provider_request_id: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE withdrawals SET needs_review = TRUE, review_reason = $3, updated_at = now()
         WHERE account_id = $1 AND provider_request_id = $2",
    )
    .bind(account_id)
    .bind(provider_request_id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// [`list_needing_attention`]: `$1` the seconds after which an open withdrawal is stale.
pub const NEEDING_ATTENTION: &str = "SELECT * FROM withdrawals
     WHERE needs_review
        OR (state IN ('accepted', 'unknown', 'submitted', 'approved', 'broadcast')
            AND updated_at < now() - make_interval(secs => $1))
     ORDER BY updated_at LIMIT 500";

/// Withdrawals an operator should look at: flagged, or not terminal for longer than `stale_after`.
pub async fn list_needing_attention(
    pool: &PgPool,
    stale_after_secs: i64,
) -> Result<Vec<WithdrawalRow>, sqlx::Error> {
    sqlx::query_as(NEEDING_ATTENTION)
        .bind(stale_after_secs as f64)
        .fetch_all(pool)
        .await
}

/// Claims withdrawals due for another submission: `accepted` or `unknown`, untouched for
/// `after_secs`, and not being sent now (no live send lease). Each claimed row gets a lease of
/// `lease_secs`, so no other worker or instance sends it meanwhile.
pub async fn claim_for_resubmission(
    pool: &PgPool,
    after_secs: u64,
    lease_secs: u64,
    limit: i64,
) -> Result<Vec<WithdrawalRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE withdrawals SET updated_at = now(), send_lease_until = now() + make_interval(secs => $2)
         WHERE id IN (SELECT id FROM withdrawals
                      WHERE state IN ('accepted', 'unknown') AND NOT needs_review
                        AND updated_at < now() - make_interval(secs => $1)
                        AND (send_lease_until IS NULL OR send_lease_until < now())
                      ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING *",
    )
    .bind(after_secs as f64)
    .bind(lease_secs as f64)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Ends the send lease: the outcome of the send is recorded.
pub async fn release_send_lease(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE withdrawals SET send_lease_until = NULL WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The merchant's withdrawals, newest first, after the withdrawal `after`.
pub async fn list_for_merchant(
    pool: &PgPool,
    merchant_id: Uuid,
    state: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<WithdrawalRow>, sqlx::Error> {
    listing("SELECT w.*", merchant_id, state, after, limit)
        .build_query_as()
        .fetch_all(pool)
        .await
}

/// The query [`list_for_merchant`] runs, after `select`, with only the filters given.
pub fn listing(
    select: &str,
    merchant_id: Uuid,
    state: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(select);
    query
        .push(" FROM withdrawals w WHERE w.merchant_id = ")
        .push_bind(merchant_id);
    if let Some(state) = state {
        query.push(" AND w.state = ").push_bind(state);
    }
    if let Some(after) = after {
        query
            .push(
                " AND (w.created_at, w.id) < (SELECT c.created_at, c.id FROM withdrawals c WHERE c.id = ",
            )
            .push_bind(after)
            .push(")");
    }
    query
        .push(" ORDER BY w.created_at DESC, w.id DESC LIMIT ")
        .push_bind(limit);
    query
}

/// [`search`]: `$1` the term, `$2` the limit.
pub const SEARCH: &str = "SELECT * FROM withdrawals
     WHERE client_order_id = $1 OR provider_request_id = $1 OR tx_hash = $1 OR to_address = $1
     ORDER BY created_at DESC LIMIT $2";

/// Withdrawals whose client order id, provider request id, transaction hash or destination is
/// `term`, newest first (ops lookup).
pub async fn search(
    pool: &PgPool,
    term: &str,
    limit: i64,
) -> Result<Vec<WithdrawalRow>, sqlx::Error> {
    sqlx::query_as(SEARCH)
        .bind(term)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Up to `limit` withdrawals the provider holds and has not finished, not asked about for `after_secs`,
/// least recently asked first; each is marked as asked now. `(request id, provider's id)`.
pub async fn claim_open_withdrawals(
    pool: &PgPool,
    account_id: &str,
    after_secs: u64,
    limit: i64,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE withdrawals SET status_checked_at = now()
         WHERE id IN (SELECT id FROM withdrawals
                      WHERE account_id = $1 AND state IN ('submitted', 'approved', 'broadcast')
                        AND (status_checked_at IS NULL
                             OR status_checked_at < now() - make_interval(secs => $2))
                      ORDER BY status_checked_at NULLS FIRST LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING provider_request_id, provider_ref",
    )
    .bind(account_id)
    .bind(after_secs as f64)
    .bind(limit)
    .fetch_all(pool)
    .await
}
