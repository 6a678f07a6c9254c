//! Group commit of provider callbacks. Callbacks that arrive while earlier ones are being stored
//! wait, and are then stored together, each answered after its own commit: those that report new
//! deposits only (the common case) as one statement, the others beside it as one transaction with
//! multi-row statements. At low load a callback is stored at once, alone. A part of a group that
//! cannot be stored (one bad callback, a deadlock with another group) is stored again one callback
//! at a time, so that no callback fails for another's sake.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{SubsecRound, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::batching;
use crate::domain::{DepositState, OrderKind};
use crate::orders::EventOutcome;
use crate::orders::deposits::{Creation, created_row, new_deposit, on_creation};
use crate::orders::ingest::{
    PendingCallback, apply_claimed_event, log_unapplied, logged_outcome, store_alone,
};
use crate::orders::known_addresses::KnownAddresses;
use crate::orders::known_transfers::KnownTransfers;
use crate::orders::notify::announcement;
use crate::orders::views::DepositView;
use crate::providers::{DepositEvent, EventBody, Outcome, ProviderEvent};
use crate::store::addresses::AddressRow;
use crate::store::batch;
use crate::store::callbacks::NewEvent;
use crate::store::deposits::{DepositRow, NewDeposit};
use crate::store::outbox::NewNotification;
use crate::store::transitions::NewTransition;
use crate::telemetry::{CALLBACK_GROUP_RETRIED, CALLBACK_GROUP_SIZE};

/// Where callbacks go to be stored.
pub struct CallbackWriter {
    pool: PgPool,
    jobs: batching::Queue<Job>,
}

struct Job {
    callback: PendingCallback,
    done: oneshot::Sender<Result<Outcome, sqlx::Error>>,
}

impl CallbackWriter {
    /// Starts the writer: at most `limits.slots` groups at once, each of at most
    /// `limits.max_batch` callbacks.
    pub fn start(pool: PgPool, limits: batching::Limits) -> CallbackWriter {
        let group_pool = pool.clone();
        let known = Arc::new(Known::default());
        let jobs = batching::spawn(limits, move |group| {
            let pool = group_pool.clone();
            let known = Arc::clone(&known);
            async move { store_group(&pool, &known, group).await }
        });
        CallbackWriter { pool, jobs }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stores `callback` (with whatever callbacks share its group) and says how it went once
    /// that is committed.
    pub async fn store(&self, callback: PendingCallback) -> Result<Outcome, sqlx::Error> {
        let (done, outcome) = oneshot::channel();
        if self.jobs.send(Job { callback, done }).await.is_err() {
            return Err(sqlx::Error::PoolClosed);
        }
        outcome.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

/// What the writer knows without asking the database.
#[derive(Default)]
struct Known {
    addresses: KnownAddresses,
    transfers: KnownTransfers,
}

/// Stores a group: its callbacks of new deposits only as one statement, and beside it the others
/// as one transaction. Each callback is answered once its own part is committed.
async fn store_group(pool: &PgPool, known: &Known, group: Vec<Job>) {
    metrics::histogram!(CALLBACK_GROUP_SIZE).record(group.len() as f64);
    let (addresses, new_only) = {
        let callbacks: Vec<&PendingCallback> = group.iter().map(|job| &job.callback).collect();
        let addresses = match known.addresses.find(pool, &address_keys(&callbacks)).await {
            Ok(addresses) => addresses,
            Err(err) => return store_each_alone(pool, group, &err).await,
        };
        let planned = plan_deposits(&callbacks, &addresses, &known.transfers);
        let new_only: Vec<bool> = callbacks
            .iter()
            .map(|cb| only_new_deposits(cb, &planned))
            .collect();
        (addresses, new_only)
    };
    let (statement, transaction): (Vec<_>, Vec<_>) =
        group.into_iter().zip(new_only).partition(|(_, new)| *new);
    let jobs = |part: Vec<(Job, bool)>| part.into_iter().map(|(job, _)| job).collect();
    tokio::join!(
        store_part(
            pool,
            known,
            &addresses,
            jobs(statement),
            StoredAs::Statement
        ),
        store_part(
            pool,
            known,
            &addresses,
            jobs(transaction),
            StoredAs::Transaction
        ),
    );
}

/// Stores one part of a group together, or each of its callbacks alone if it cannot be.
async fn store_part(
    pool: &PgPool,
    known: &Known,
    addresses: &[AddressRow],
    jobs: Vec<Job>,
    meant: StoredAs,
) {
    if jobs.is_empty() {
        return;
    }
    let started = Instant::now();
    let stored = {
        let callbacks: Vec<&PendingCallback> = jobs.iter().map(|job| &job.callback).collect();
        let stored = store_together(pool, &known.transfers, addresses, &callbacks, meant).await;
        if stored.is_ok() {
            known.transfers.remember(&callbacks);
        }
        stored
    };
    let result = match &stored {
        Ok((_, how)) => how.as_str(),
        Err(_) => "split",
    };
    metrics::histogram!("custody_callback_group_seconds", "result" => result)
        .record(started.elapsed().as_secs_f64());
    match stored {
        Ok((outcomes, _)) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.done.send(Ok(outcome));
            }
        }
        Err(err) => store_each_alone(pool, jobs, &err).await,
    }
}

/// Stores each callback in a transaction of its own, after its group could not be stored.
async fn store_each_alone(pool: &PgPool, jobs: Vec<Job>, err: &sqlx::Error) {
    if jobs.len() > 1 {
        tracing::warn!(callbacks = jobs.len(), error = %err,
            "callbacks could not be stored together; storing each alone");
    }
    for job in jobs {
        let outcome = store_alone(pool, &job.callback).await;
        let _ = job.done.send(outcome);
    }
}

/// An event whose key this group claimed.
struct ClaimedEvent<'a> {
    /// Its place in the group, in the order the callbacks arrived.
    position: usize,
    callback: &'a PendingCallback,
    event: &'a ProviderEvent,
    id: i64,
}

/// A new deposit the group means to create with multi-row statements. It is planned before its
/// event's key is claimed, so that the event is stored with its outcome at once; if the transfer
/// turns out to be stored already, the event is applied as alone, which records its outcome anew.
struct PlannedDeposit<'a> {
    callback: &'a PendingCallback,
    event: &'a ProviderEvent,
    deposit: &'a DepositEvent,
    address: &'a AddressRow,
    id: Uuid,
    creation: Creation,
    outcome: EventOutcome,
}

impl PlannedDeposit<'_> {
    /// The deposit it creates.
    fn new_deposit(&self) -> NewDeposit<'_> {
        let chain_asset = self
            .deposit
            .chain_asset
            .as_ref()
            .expect("checked when planned");
        new_deposit(
            self.address,
            &self.callback.account_id,
            &self.event.provider_ref,
            chain_asset,
            self.deposit,
        )
    }

    /// The provider transfer it is about, on its account.
    fn transfer(&self) -> (&str, &str) {
        (&self.callback.account_id, &self.event.provider_ref)
    }

    /// Whether it is the plan for `event` of `callback` (an event repeated within one callback
    /// is planned, and claimed, once).
    fn is_for(&self, callback: &PendingCallback, event: &ProviderEvent) -> bool {
        self.callback.id == callback.id && self.event.event_key == event.event_key
    }
}

/// Stores the callbacks together: as one statement if `meant` so and they are still all new
/// deposits, else (or if one of the transfers turns out to be stored already) as one transaction
/// in which every event that is not a new deposit is applied as it would be alone.
async fn store_together(
    pool: &PgPool,
    transfers: &KnownTransfers,
    addresses: &[AddressRow],
    callbacks: &[&PendingCallback],
    meant: StoredAs,
) -> Result<(Vec<Outcome>, StoredAs), sqlx::Error> {
    let planned = plan_deposits(callbacks, addresses, transfers);
    if matches!(meant, StoredAs::Statement)
        && callbacks.iter().all(|cb| only_new_deposits(cb, &planned))
    {
        match store_new_deposits(pool, callbacks, &planned).await {
            Ok(outcomes) => return Ok((outcomes, StoredAs::Statement)),
            // Nothing of it was stored: the transaction moves that transfer on, as alone.
            Err(err) if batch::is_stored_transfer(&err) => {
                metrics::counter!(CALLBACK_GROUP_RETRIED).increment(1);
            }
            Err(err) => return Err(err),
        }
    }
    let outcomes = store_in_transaction(pool, callbacks, &planned).await?;
    Ok((outcomes, StoredAs::Transaction))
}

/// How a group was stored, as `/metrics` labels it.
#[derive(Debug, Clone, Copy)]
enum StoredAs {
    Statement,
    Transaction,
}

impl StoredAs {
    fn as_str(self) -> &'static str {
        match self {
            StoredAs::Statement => "statement",
            StoredAs::Transaction => "transaction",
        }
    }
}

/// Whether every event of `callback` is a planned new deposit, or a repeat of one (which its
/// claim skips).
fn only_new_deposits(callback: &PendingCallback, planned: &[PlannedDeposit<'_>]) -> bool {
    callback.events.iter().all(|event| {
        planned.iter().any(|p| {
            p.callback.account_id == callback.account_id && p.event.event_key == event.event_key
        })
    })
}

/// Stores a group of new deposits only in one statement ([`batch::store_new_deposits`]): each
/// deposit created in the state its event leaves it in, with the transition and notification of
/// each step there.
async fn store_new_deposits(
    pool: &PgPool,
    callbacks: &[&PendingCallback],
    planned: &[PlannedDeposit<'_>],
) -> Result<Vec<Outcome>, sqlx::Error> {
    let records: Vec<_> = callbacks.iter().map(|cb| cb.record("processed")).collect();
    let events = events_in_key_order(callbacks);
    let to_claim = to_claim(&events, planned);
    // PostgreSQL keeps microseconds: the notifications announce the rows as stored.
    let at = Utc::now().trunc_subsecs(6);
    let rows: Vec<DepositRow> = planned
        .iter()
        .map(|p| created_row(&p.new_deposit(), p.id, p.creation.state(), at))
        .collect();
    let notices: Vec<(Step, String, (Uuid, serde_json::Value))> = planned
        .iter()
        .zip(&rows)
        .flat_map(|(p, row)| steps(&p.creation, row))
        .map(|step| {
            let event_type = step.event_type();
            // Its sequence is the transition's id, which the statement takes and sets.
            let announced = announcement(&event_type, 0, &DepositView::from(&step.row));
            (step, event_type, announced)
        })
        .collect();
    let creation_steps: Vec<batch::CreationStep> = notices
        .iter()
        .map(|(step, event_type, (id, payload))| batch::CreationStep {
            deposit_id: step.row.id,
            merchant_id: step.row.merchant_id,
            step: step.number,
            from_state: step.from.map(DepositState::as_str),
            to_state: step.row.state.as_str(),
            notification_id: *id,
            event_type,
            payload,
        })
        .collect();
    let mut deposits: Vec<batch::DepositToCreate> = planned
        .iter()
        .zip(&rows)
        .map(|(p, row)| batch::DepositToCreate {
            row,
            callback_id: p.callback.id,
            event_key: &p.event.event_key,
        })
        .collect();
    // In transfer order, like the event keys: two groups inserting the same transfers wait on
    // each other rather than deadlock.
    deposits.sort_by(|a, b| {
        (&a.row.account_id, &a.row.provider_ref).cmp(&(&b.row.account_id, &b.row.provider_ref))
    });
    let taken = batch::store_new_deposits(
        pool,
        &records,
        &to_claim,
        &deposits,
        &creation_steps,
        "callback",
    )
    .await?;
    let claimed = in_arrival_order(callbacks, taken);
    for c in &claimed {
        if let Some(p) = planned.iter().find(|p| p.is_for(c.callback, c.event)) {
            log_unapplied(&p.callback.account_id, p.event, &p.outcome);
        }
    }
    Ok(outcomes(callbacks, &claimed))
}

/// Stores the callbacks in one transaction: the raw calls and their event keys first; new
/// deposits with multi-row statements; every other event as it would be alone.
async fn store_in_transaction(
    pool: &PgPool,
    callbacks: &[&PendingCallback],
    planned: &[PlannedDeposit<'_>],
) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let claimed = claim(&mut tx, callbacks, planned).await?;

    let work: Vec<(&ClaimedEvent, &PlannedDeposit)> = claimed
        .iter()
        .filter_map(|c| Some((c, planned.iter().find(|p| p.is_for(c.callback, c.event))?)))
        .collect();
    let created = if work.is_empty() {
        HashMap::new()
    } else {
        create_deposits(&mut tx, &work).await?
    };
    // Every other event, and a planned one whose transfer was stored already (by an earlier
    // callback: it moves on, or not, as alone), in the order the callbacks arrived.
    let mut one_by_one: Vec<&ClaimedEvent> = claimed
        .iter()
        .filter(|c| {
            !work
                .iter()
                .any(|(w, p)| std::ptr::eq(*w, *c) && created.contains_key(&p.transfer()))
        })
        .collect();
    one_by_one.sort_by_key(|c| c.position);
    for c in one_by_one {
        apply_claimed_event(&mut tx, &c.callback.account_id, "callback", c.event, c.id).await?;
    }
    tx.commit().await?;
    Ok(outcomes(callbacks, &claimed))
}

/// Each callback's outcome, logged: stored if any of its events was claimed, else a duplicate.
fn outcomes(callbacks: &[&PendingCallback], claimed: &[ClaimedEvent<'_>]) -> Vec<Outcome> {
    callbacks
        .iter()
        .map(|cb| {
            logged_outcome(
                cb,
                claimed.iter().filter(|c| c.callback.id == cb.id).count(),
            )
        })
        .collect()
}

/// Where the group's deposits were paid to, as `(account, chain, address)`.
fn address_keys<'a>(callbacks: &[&'a PendingCallback]) -> Vec<(&'a str, &'a str, &'a str)> {
    callbacks
        .iter()
        .flat_map(|cb| cb.events.iter().map(move |event| (*cb, event)))
        .filter_map(|(cb, event)| match &event.body {
            EventBody::Deposit(deposit) => deposit.chain_asset.as_ref().map(|chain_asset| {
                (
                    cb.account_id.as_str(),
                    chain_asset.chain.as_str(),
                    deposit.address.as_str(),
                )
            }),
            _ => None,
        })
        .collect()
}

/// Inserts the raw calls and claims their events' keys, in key order; a planned deposit's event
/// is stored with the outcome its creation gives it.
async fn claim<'a>(
    conn: &mut PgConnection,
    callbacks: &[&'a PendingCallback],
    planned: &[PlannedDeposit<'_>],
) -> Result<Vec<ClaimedEvent<'a>>, sqlx::Error> {
    let records: Vec<_> = callbacks.iter().map(|cb| cb.record("processed")).collect();
    let events = events_in_key_order(callbacks);
    let taken =
        batch::insert_callbacks_claiming_events(conn, &records, &to_claim(&events, planned))
            .await?;
    Ok(in_arrival_order(callbacks, taken))
}

/// The group's events with their payloads, in the order their keys are claimed: by key, so that
/// groups racing for the same keys wait on each other rather than deadlock.
fn events_in_key_order<'a>(
    callbacks: &[&'a PendingCallback],
) -> Vec<(&'a PendingCallback, &'a ProviderEvent, serde_json::Value)> {
    let mut events: Vec<_> = callbacks
        .iter()
        .flat_map(|cb| cb.events.iter().map(move |event| (*cb, event)))
        .map(|(cb, event)| {
            let payload = serde_json::to_value(&event.body).expect("events serialize");
            (cb, event, payload)
        })
        .collect();
    events
        .sort_by(|a, b| (&a.0.account_id, &a.1.event_key).cmp(&(&b.0.account_id, &b.1.event_key)));
    events
}

/// The events as claimed: a planned deposit's with the outcome its creation gives it, any other
/// `pending` until it is applied.
fn to_claim<'a>(
    events: &'a [(&'a PendingCallback, &'a ProviderEvent, serde_json::Value)],
    planned: &'a [PlannedDeposit<'_>],
) -> Vec<batch::EventToClaim<'a>> {
    events
        .iter()
        .map(|(cb, event, payload)| {
            let outcome = planned
                .iter()
                .find(|p| p.is_for(cb, event))
                .map(|p| &p.outcome);
            batch::EventToClaim {
                event: NewEvent {
                    account_id: &cb.account_id,
                    event_key: &event.event_key,
                    callback_id: Some(cb.id),
                    source: "callback",
                    order_kind: event.body.kind().as_str(),
                    provider_ref: &event.provider_ref,
                    provider_status: &event.provider_status,
                    payload,
                },
                outcome: outcome.map_or("pending", |o| o.result.as_str()),
                detail: outcome.and_then(|o| o.detail.as_deref()),
                order_id: outcome.and_then(|o| o.order_id),
            }
        })
        .collect()
}

/// The events whose keys were `taken`, in the callbacks' own order; an event repeated within one
/// callback is claimed once.
fn in_arrival_order<'a>(
    callbacks: &[&'a PendingCallback],
    taken: Vec<batch::Claimed>,
) -> Vec<ClaimedEvent<'a>> {
    let mut taken: HashMap<(Uuid, String), i64> = taken
        .into_iter()
        .map(|c| ((c.callback_id, c.event_key), c.id))
        .collect();
    let mut claimed = Vec::new();
    for &callback in callbacks {
        for event in &callback.events {
            if let Some(id) = taken.remove(&(callback.id, event.event_key.clone())) {
                let position = claimed.len();
                claimed.push(ClaimedEvent {
                    position,
                    callback,
                    event,
                    id,
                });
            }
        }
    }
    claimed
}

/// The deposits this group can create together, of the events it means to claim: each event
/// once (its first delivery in the group, the one a claim would take), a new deposit in a known
/// state to one of our addresses, whose transfer no other event of the group reports and no
/// callback stored here reported before under another key (those apply in order, one by one, as
/// does every other kind of event).
fn plan_deposits<'a>(
    callbacks: &[&'a PendingCallback],
    addresses: &'a [AddressRow],
    transfers: &KnownTransfers,
) -> Vec<PlannedDeposit<'a>> {
    let mut seen = HashSet::new();
    let events: Vec<(&PendingCallback, &ProviderEvent)> = callbacks
        .iter()
        .flat_map(|cb| cb.events.iter().map(move |event| (*cb, event)))
        .filter(|(cb, event)| seen.insert((cb.account_id.as_str(), event.event_key.as_str())))
        .collect();
    let mut reports: HashMap<(&str, &str), usize> = HashMap::new();
    for (cb, event) in &events {
        if matches!(event.body, EventBody::Deposit(_)) {
            *reports
                .entry((cb.account_id.as_str(), event.provider_ref.as_str()))
                .or_default() += 1;
        }
    }
    let mut planned = Vec::new();
    for (callback, event) in events {
        let EventBody::Deposit(deposit) = &event.body else {
            continue;
        };
        let (Some(chain_asset), Some(target)) = (&deposit.chain_asset, deposit.state) else {
            continue;
        };
        if deposit.amount <= Decimal::ZERO
            || reports[&(callback.account_id.as_str(), event.provider_ref.as_str())] != 1
            || transfers.is_later_report(
                &callback.account_id,
                &event.provider_ref,
                &event.event_key,
            )
        {
            continue;
        }
        let key = (
            callback.account_id.as_str(),
            chain_asset.chain.as_str(),
            deposit.address.as_str(),
        );
        // Not one of our addresses: it may be watched, which the event learns as alone.
        let Some(address) = addresses
            .iter()
            .find(|a| (a.account_id.as_str(), a.chain.as_str(), a.address.as_str()) == key)
        else {
            continue;
        };
        let id = Uuid::now_v7();
        let creation = on_creation(target, deposit.hold.as_deref());
        planned.push(PlannedDeposit {
            callback,
            event,
            deposit,
            address,
            id,
            outcome: creation.outcome(id),
            creation,
        });
    }
    planned
}

/// Creates the planned deposits whose events this group claimed, each in the state its event
/// leaves it in, with their transitions and notifications, as [`apply_deposit_event`] would one
/// by one. Returns the ones created, by `(account, transfer)`; a transfer already stored is left
/// out.
///
/// [`apply_deposit_event`]: crate::orders::deposits::apply_deposit_event
async fn create_deposits<'a>(
    conn: &mut PgConnection,
    work: &[(&ClaimedEvent<'_>, &'a PlannedDeposit<'a>)],
) -> Result<HashMap<(&'a str, &'a str), DepositRow>, sqlx::Error> {
    let mut rows: Vec<_> = work
        .iter()
        .map(|(_, p)| (p.id, p.new_deposit(), p.creation.state().as_str()))
        .collect();
    // In transfer order, like the event keys: two groups inserting the same transfers wait on
    // each other rather than deadlock.
    rows.sort_by(|a, b| {
        (a.1.account_id, a.1.provider_ref).cmp(&(b.1.account_id, b.1.provider_ref))
    });
    let inserted = batch::insert_deposits(conn, &rows).await?;
    // Places in the order of transitions, handed out in the order of the changes below.
    let mut sequences: Vec<i64> = inserted
        .iter()
        .flat_map(|d| [Some(d.detected_sequence), d.moved_sequence])
        .flatten()
        .collect();
    sequences.sort_unstable();
    let created: HashMap<(&str, &str), DepositRow> = inserted
        .into_iter()
        .filter_map(|d| {
            let (_, p) = work.iter().find(|(_, p)| p.id == d.row.id)?;
            Some((p.transfer(), d.row))
        })
        .collect();

    let mut changes: Vec<(&ClaimedEvent, Step)> = Vec::new();
    for (c, p) in work {
        let Some(row) = created.get(&p.transfer()) else {
            continue;
        };
        log_unapplied(&p.callback.account_id, p.event, &p.outcome);
        changes.extend(steps(&p.creation, row).map(|step| (*c, step)));
    }
    let event_types: Vec<String> = changes.iter().map(|(_, step)| step.event_type()).collect();
    let mut transitions = Vec::new();
    let mut payloads = Vec::new();
    for (((c, step), sequence), event_type) in changes.iter().zip(&sequences).zip(&event_types) {
        transitions.push((
            *sequence,
            NewTransition {
                order_kind: OrderKind::Deposit.as_str(),
                order_id: step.row.id,
                from_state: step.from.map(DepositState::as_str),
                to_state: step.row.state.as_str(),
                source: "callback",
                event_id: Some(c.id),
                reason: None,
            },
        ));
        payloads.push(announcement(
            event_type,
            *sequence,
            &DepositView::from(&step.row),
        ));
    }
    let notifications: Vec<NewNotification> = changes
        .iter()
        .zip(&sequences)
        .zip(event_types.iter().zip(&payloads))
        .map(
            |(((_, step), sequence), (event_type, (id, payload)))| NewNotification {
                id: *id,
                merchant_id: step.row.merchant_id,
                event_type,
                order_id: Some(step.row.id),
                sequence: *sequence,
                payload,
            },
        )
        .collect();
    batch::record_creations(
        conn,
        &batch::Creations {
            transitions: &transitions,
            notifications: &notifications,
        },
    )
    .await?;
    Ok(created)
}

/// One state change of a deposit's creation.
struct Step {
    /// 1 for its `detected`, 2 for the state it moved on to at once.
    number: i32,
    from: Option<DepositState>,
    /// The deposit as this step leaves it.
    row: DepositRow,
}

impl Step {
    fn event_type(&self) -> String {
        format!(
            "{}.{}",
            OrderKind::Deposit.as_str(),
            self.row.state.as_str()
        )
    }
}

/// The steps of a deposit created as `row`: every created deposit was `detected` first; some
/// moved on at once.
fn steps(creation: &Creation, row: &DepositRow) -> impl Iterator<Item = Step> {
    let mut detected = row.clone();
    detected.state = DepositState::Detected;
    let first = Step {
        number: 1,
        from: None,
        row: detected,
    };
    let moved = matches!(creation, Creation::MovesOn(_)).then(|| Step {
        number: 2,
        from: Some(DepositState::Detected),
        row: row.clone(),
    });
    std::iter::once(first).chain(moved)
}
