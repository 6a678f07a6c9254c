//! Multi-row statements for callbacks stored together (group commit): each statement takes its
//! rows as arrays and `UNNEST`s them, so a group costs one round trip (new deposits only) or a
//! handful (a transaction) however many callbacks it holds.

use rust_decimal::Decimal;
use sqlx::postgres::PgArguments;
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, Postgres};
use uuid::Uuid;

use crate::domain::OrderKind;
use crate::store::addresses::AddressRow;
use crate::store::callbacks::{NewCallback, NewEvent};
use crate::store::deposits::{DepositRow, NewDeposit};
use crate::store::outbox::NewNotification;
use crate::store::transitions::NewTransition;

/// An event key taken by this statement: which callback's event it was, and its id.
#[derive(Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub callback_id: Uuid,
    pub event_key: String,
}

/// An event to claim, stored with what the group expects to become of it (`pending` when it is
/// applied later in the transaction, which then records its outcome).
pub struct EventToClaim<'a> {
    pub event: NewEvent<'a>,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
    pub order_id: Option<Uuid>,
}

/// The raw callbacks (`$1`–`$8`) and their events (`$9`–`$19`), as the start of a statement: the
/// events' keys are claimed in the order given (callers sort by key, so that groups racing for the
/// same keys wait on each other instead of deadlocking) as `claimed`. A key already held, by an
/// earlier delivery or earlier in the same group, is not claimed; a callback none of whose events
/// is claimed is stored as a `duplicate`. [`bind_claim`] binds its parameters.
macro_rules! claim_ctes {
    () => {
        "WITH claimed AS (
             INSERT INTO provider_events (account_id, event_key, callback_id, source, order_kind,
                                          provider_ref, provider_status, payload, outcome,
                                          outcome_detail, order_id)
             SELECT account_id, event_key, callback_id, source, order_kind, provider_ref,
                    provider_status, payload, outcome, outcome_detail, order_id
             FROM UNNEST($9::text[], $10::text[], $11::uuid[], $12::text[], $13::text[],
                         $14::text[], $15::text[], $16::jsonb[], $17::text[], $18::text[],
                         $19::uuid[]) WITH ORDINALITY
                  AS e(account_id, event_key, callback_id, source, order_kind, provider_ref,
                       provider_status, payload, outcome, outcome_detail, order_id, position)
             ORDER BY position
             ON CONFLICT ON CONSTRAINT provider_events_key_unique DO NOTHING
             RETURNING id, callback_id, event_key
         ), calls AS (
             INSERT INTO provider_callbacks (id, account_id, content_type, headers, body, verified,
                                             outcome, event_count, raw_body)
             SELECT c.id, c.account_id, c.content_type, c.headers, c.body, c.verified,
                    CASE WHEN EXISTS (SELECT 1 FROM claimed WHERE claimed.callback_id = c.id)
                         THEN 'processed' ELSE 'duplicate' END,
                    c.event_count, c.raw_body
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::bool[],
                         $7::int4[], $8::bytea[])
                  AS c(id, account_id, content_type, headers, body, verified, event_count, raw_body)
         )"
    };
}

type Claiming<'q> = sqlx::query::QueryAs<'q, Postgres, Claimed, PgArguments>;

/// Binds [`claim_ctes`]'s parameters.
fn bind_claim<'q>(
    query: Claiming<'q>,
    calls: &[NewCallback<'q>],
    events: &[EventToClaim<'q>],
) -> Claiming<'q> {
    query
        .bind(calls.iter().map(|c| c.id).collect::<Vec<_>>())
        .bind(calls.iter().map(|c| c.account_id).collect::<Vec<_>>())
        .bind(calls.iter().map(|c| c.content_type).collect::<Vec<_>>())
        .bind(calls.iter().map(|c| Json(c.headers)).collect::<Vec<_>>())
        .bind(calls.iter().map(|c| c.body).collect::<Vec<_>>())
        .bind(calls.iter().map(|c| c.verified).collect::<Vec<_>>())
        .bind(calls.iter().map(|c| c.event_count).collect::<Vec<_>>())
        .bind(calls.iter().map(|c| c.raw_body).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.event.account_id)
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.event.event_key).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.event.callback_id)
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.event.source).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.event.order_kind)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.event.provider_ref)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.event.provider_status)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| Json(e.event.payload))
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.outcome).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.detail).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.order_id).collect::<Vec<_>>())
}

/// Inserts the raw callbacks and claims their events' keys ([`claim_ctes`]).
pub async fn insert_callbacks_claiming_events(
    conn: &mut PgConnection,
    calls: &[NewCallback<'_>],
    events: &[EventToClaim<'_>],
) -> Result<Vec<Claimed>, sqlx::Error> {
    let query = sqlx::query_as(concat!(
        claim_ctes!(),
        " SELECT id, callback_id, event_key FROM claimed"
    ));
    bind_claim(query, calls, events).fetch_all(conn).await
}

/// A deposit to create in the state its event leaves it in, if that event's key is claimed in the
/// same statement: the row exactly as it is to be stored.
pub struct DepositToCreate<'a> {
    pub row: &'a DepositRow,
    pub callback_id: Uuid,
    pub event_key: &'a str,
}

/// A state change a created deposit records: its transition and its notification. Step 1 is the
/// deposit's `detected`; step 2, the state it moved on to at once.
pub struct CreationStep<'a> {
    pub deposit_id: Uuid,
    pub merchant_id: Uuid,
    pub step: i32,
    pub from_state: Option<&'a str>,
    pub to_state: &'a str,
    pub notification_id: Uuid,
    pub event_type: &'a str,
    /// The notification's payload, but for its `sequence`, which is the transition's id.
    pub payload: &'a serde_json::Value,
}

/// Stores callbacks whose events are all new deposits in one statement, and so in one
/// transaction of its own (it commits before it answers): the raw calls, their events' keys
/// ([`claim_ctes`]), then for each event claimed its deposit, with the transitions and
/// notifications of its steps. The deposits are inserted in the order given (callers sort by
/// transfer). A transfer that is stored already fails the whole statement with a unique
/// violation on `deposits_account_ref_unique`, and nothing is stored.
pub async fn store_new_deposits(
    db: impl PgExecutor<'_>,
    calls: &[NewCallback<'_>],
    events: &[EventToClaim<'_>],
    deposits: &[DepositToCreate<'_>],
    steps: &[CreationStep<'_>],
    source: &str,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let query = sqlx::query_as(concat!(
        claim_ctes!(),
        ", planned AS (
             SELECT * FROM UNNEST($20::uuid[], $21::uuid[], $22::uuid[], $23::text[], $24::text[],
                                  $25::text[], $26::text[], $27::text[], $28::text[], $29::text[],
                                  $30::numeric[], $31::numeric[], $32::text[], $33::int8[],
                                  $34::text[], $35::int2[], $36::int2[], $37::text[], $38::bool[],
                                  $39::text[], $40::timestamptz[], $41::uuid[], $42::text[])
                  WITH ORDINALITY
                  AS d(id, merchant_id, address_id, account_id, provider_ref, user_id, chain,
                       asset, address, memo, amount, fee, tx_hash, block_height, state,
                       risk_source_score, risk_target_score, hold_reason, needs_review,
                       review_reason, created_at, callback_id, event_key, position)
         ), created AS (
             INSERT INTO deposits (id, merchant_id, address_id, account_id, provider_ref, user_id,
                                   chain, asset, address, memo, amount, fee, tx_hash, block_height,
                                   state, risk_source_score, risk_target_score, hold_reason,
                                   needs_review, review_reason, created_at, updated_at)
             SELECT d.id, d.merchant_id, d.address_id, d.account_id, d.provider_ref, d.user_id,
                    d.chain, d.asset, d.address, d.memo, d.amount, d.fee, d.tx_hash,
                    d.block_height, d.state, d.risk_source_score, d.risk_target_score,
                    d.hold_reason, d.needs_review, d.review_reason, d.created_at, d.created_at
             FROM planned d
             JOIN claimed c ON c.callback_id = d.callback_id AND c.event_key = d.event_key
             ORDER BY d.position
             -- A place in the order of transitions for each step: two for a deposit that moved on.
             -- The sequence is named, not looked up per row (pg_get_serial_sequence costs ten
             -- times the nextval).
             RETURNING id,
                       nextval('order_transitions_id_seq') AS place,
                       CASE WHEN state <> 'detected'
                            THEN nextval('order_transitions_id_seq')
                       END AS second_place
         ), steps AS (
             SELECT s.deposit_id, s.merchant_id, s.from_state, s.to_state, s.notification_id,
                    s.event_type, s.payload, c.id AS event_id,
                    CASE s.step WHEN 1 THEN LEAST(cr.place, cr.second_place)
                                ELSE GREATEST(cr.place, cr.second_place) END AS sequence
             FROM UNNEST($43::uuid[], $44::uuid[], $45::int4[], $46::text[], $47::text[],
                         $48::uuid[], $49::text[], $50::jsonb[])
                  AS s(deposit_id, merchant_id, step, from_state, to_state, notification_id,
                       event_type, payload)
             JOIN created cr ON cr.id = s.deposit_id
             JOIN planned d ON d.id = s.deposit_id
             JOIN claimed c ON c.callback_id = d.callback_id AND c.event_key = d.event_key
         ), transitions AS (
             INSERT INTO order_transitions (id, order_kind, order_id, from_state, to_state, source,
                                            event_id)
             SELECT sequence, $51, deposit_id, from_state, to_state, $52, event_id FROM steps
         ), notifications AS (
             INSERT INTO webhook_outbox (id, merchant_id, event_type, order_id, sequence, payload)
             SELECT notification_id, merchant_id, event_type, deposit_id, sequence,
                    jsonb_set(payload, '{sequence}', to_jsonb(sequence))
             FROM steps
         )
         SELECT id, callback_id, event_key FROM claimed"
    ));
    let rows = || deposits.iter().map(|d| d.row);
    bind_claim(query, calls, events)
        .bind(rows().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows().map(|r| r.merchant_id).collect::<Vec<_>>())
        .bind(rows().map(|r| r.address_id).collect::<Vec<_>>())
        .bind(rows().map(|r| r.account_id.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.provider_ref.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.user_id.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.chain.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.asset.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.address.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.memo.as_deref()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.amount).collect::<Vec<Decimal>>())
        .bind(rows().map(|r| r.fee).collect::<Vec<_>>())
        .bind(rows().map(|r| r.tx_hash.as_deref()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.block_height).collect::<Vec<_>>())
        .bind(rows().map(|r| r.state.as_str()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.risk_source_score).collect::<Vec<_>>())
        .bind(rows().map(|r| r.risk_target_score).collect::<Vec<_>>())
        .bind(rows().map(|r| r.hold_reason.as_deref()).collect::<Vec<_>>())
        .bind(rows().map(|r| r.needs_review).collect::<Vec<_>>())
        .bind(
            rows()
                .map(|r| r.review_reason.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(rows().map(|r| r.created_at).collect::<Vec<_>>())
        .bind(deposits.iter().map(|d| d.callback_id).collect::<Vec<_>>())
        .bind(deposits.iter().map(|d| d.event_key).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.deposit_id).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.merchant_id).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.step).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.from_state).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.to_state).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.notification_id).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.event_type).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| Json(s.payload)).collect::<Vec<_>>())
        .bind(OrderKind::Deposit.as_str())
        .bind(source)
        .fetch_all(db)
        .await
}

/// Whether `err` is a transfer that is stored already (see [`store_new_deposits`]).
pub fn is_stored_transfer(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.constraint() == Some("deposits_account_ref_unique"))
}

/// The addresses at `(account_id, chain, address)`, where we have them.
pub async fn find_addresses(
    db: impl PgExecutor<'_>,
    keys: &[(&str, &str, &str)],
) -> Result<Vec<AddressRow>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        // One unique-index lookup per key, whatever the plan estimates of the arrays: a lateral
        // subquery with a LIMIT is never turned into a join that could read the table whole.
        "SELECT a.* FROM UNNEST($1::text[], $2::text[], $3::text[]) AS k(account_id, chain, address)
         CROSS JOIN LATERAL (
             SELECT * FROM addresses a
              WHERE a.account_id = k.account_id AND a.chain = k.chain AND a.address = k.address
              LIMIT 1) a",
    )
    .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.1).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.2).collect::<Vec<_>>())
    .fetch_all(db)
    .await
}

/// A deposit [`insert_deposits`] created, with the places in the order of transitions its
/// creation takes: `detected`, then the state it moved on to, if it did.
#[derive(Debug, sqlx::FromRow)]
pub struct InsertedDeposit {
    #[sqlx(flatten)]
    pub row: DepositRow,
    pub detected_sequence: i64,
    pub moved_sequence: Option<i64>,
}

/// Inserts new deposits, each already in the state its event leaves it in; a transfer already
/// stored is skipped (and not returned).
pub async fn insert_deposits(
    conn: &mut PgConnection,
    deposits: &[(Uuid, NewDeposit<'_>, &str)],
) -> Result<Vec<InsertedDeposit>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO deposits (id, merchant_id, address_id, account_id, provider_ref, user_id, chain,
                               asset, address, memo, amount, fee, tx_hash, block_height, state,
                               risk_source_score, risk_target_score, hold_reason, needs_review,
                               review_reason)
         SELECT id, merchant_id, address_id, account_id, provider_ref, user_id, chain, asset, address,
                memo, amount, fee, tx_hash, block_height, state, risk_source_score,
                risk_target_score, hold_reason, hold_reason IS NOT NULL, hold_reason
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::numeric[],
                     $12::numeric[], $13::text[], $14::int8[], $15::text[], $16::int2[],
                     $17::int2[], $18::text[]) WITH ORDINALITY
              AS d(id, merchant_id, address_id, account_id, provider_ref, user_id, chain, asset,
                   address, memo, amount, fee, tx_hash, block_height, state, risk_source_score,
                   risk_target_score, hold_reason, position)
         ORDER BY position
         ON CONFLICT ON CONSTRAINT deposits_account_ref_unique DO NOTHING
         RETURNING *,
                   nextval('order_transitions_id_seq') AS detected_sequence,
                   CASE WHEN state <> 'detected'
                        THEN nextval('order_transitions_id_seq')
                   END AS moved_sequence",
    )
    .bind(deposits.iter().map(|d| d.0).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.merchant_id).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.address_id).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.account_id).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.provider_ref).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.user_id).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.chain).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.asset).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.address).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.memo).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.amount).collect::<Vec<Decimal>>())
    .bind(deposits.iter().map(|d| d.1.fee).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.tx_hash).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.block_height).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.2).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.risk_source_score).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.risk_target_score).collect::<Vec<_>>())
    .bind(deposits.iter().map(|d| d.1.hold_reason).collect::<Vec<_>>())
    .fetch_all(conn)
    .await
}

/// What creating a group's deposits records beside them.
pub struct Creations<'a> {
    /// State changes, under the places in the order of transitions [`insert_deposits`] gave.
    pub transitions: &'a [(i64, NewTransition<'a>)],
    pub notifications: &'a [NewNotification<'a>],
}

/// Records [`Creations`] in one statement.
pub async fn record_creations(
    conn: &mut PgConnection,
    creations: &Creations<'_>,
) -> Result<(), sqlx::Error> {
    let Creations {
        transitions,
        notifications,
    } = creations;
    sqlx::query(
        "WITH transitions AS (
             INSERT INTO order_transitions (id, order_kind, order_id, from_state, to_state, source,
                                            event_id, reason)
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::uuid[], $4::text[], $5::text[],
                                  $6::text[], $7::int8[], $8::text[])
         )
         INSERT INTO webhook_outbox (id, merchant_id, event_type, order_id, sequence, payload)
         SELECT * FROM UNNEST($9::uuid[], $10::uuid[], $11::text[], $12::uuid[], $13::int8[],
                              $14::jsonb[])",
    )
    .bind(transitions.iter().map(|t| t.0).collect::<Vec<_>>())
    .bind(
        transitions
            .iter()
            .map(|t| t.1.order_kind)
            .collect::<Vec<_>>(),
    )
    .bind(transitions.iter().map(|t| t.1.order_id).collect::<Vec<_>>())
    .bind(
        transitions
            .iter()
            .map(|t| t.1.from_state)
            .collect::<Vec<_>>(),
    )
    .bind(transitions.iter().map(|t| t.1.to_state).collect::<Vec<_>>())
    .bind(transitions.iter().map(|t| t.1.source).collect::<Vec<_>>())
    .bind(transitions.iter().map(|t| t.1.event_id).collect::<Vec<_>>())
    .bind(transitions.iter().map(|t| t.1.reason).collect::<Vec<_>>())
    .bind(notifications.iter().map(|n| n.id).collect::<Vec<_>>())
    .bind(
        notifications
            .iter()
            .map(|n| n.merchant_id)
            .collect::<Vec<_>>(),
    )
    .bind(
        notifications
            .iter()
            .map(|n| n.event_type)
            .collect::<Vec<_>>(),
    )
    .bind(notifications.iter().map(|n| n.order_id).collect::<Vec<_>>())
    .bind(notifications.iter().map(|n| n.sequence).collect::<Vec<_>>())
    .bind(
        notifications
            .iter()
            .map(|n| Json(n.payload))
            .collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}
