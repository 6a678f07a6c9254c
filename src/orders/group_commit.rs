//! Group commit of provider callbacks. Callbacks that arrive while earlier ones are being stored
//! wait, and are then stored together: one transaction, multi-row statements, one commit, after
//! which each is answered. At low load a callback is stored at once, alone. A group that cannot be
//! stored (one bad callback, a deadlock with another group) is stored again one callback at a time,
//! so that no callback fails for another's sake.

use std::collections::HashMap;
use std::time::Instant;

use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::batching;
use crate::domain::{DepositState, OrderKind};
use crate::orders::EventOutcome;
use crate::orders::deposits::{Creation, new_deposit, on_creation};
use crate::orders::ingest::{
    PendingCallback, apply_claimed_event, log_unapplied, logged_outcome, store_alone,
};
use crate::orders::notify::announcement;
use crate::orders::views::DepositView;
use crate::providers::{DepositEvent, EventBody, Outcome, ProviderEvent};
use crate::store::addresses::AddressRow;
use crate::store::batch;
use crate::store::callbacks::NewEvent;
use crate::store::deposits::DepositRow;
use crate::store::outbox::NewNotification;
use crate::store::transitions::NewTransition;
use crate::telemetry::CALLBACK_GROUP_SIZE;

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
    /// Starts the writer: at most `groups` transactions at once, each of at most `max_group`
    /// callbacks.
    pub fn start(pool: PgPool, groups: usize, max_group: usize) -> CallbackWriter {
        let group_pool = pool.clone();
        let jobs = batching::spawn(groups, max_group, move |group| {
            let pool = group_pool.clone();
            async move { store_group(&pool, group).await }
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

async fn store_group(pool: &PgPool, group: Vec<Job>) {
    let callbacks: Vec<&PendingCallback> = group.iter().map(|job| &job.callback).collect();
    metrics::histogram!(CALLBACK_GROUP_SIZE).record(callbacks.len() as f64);
    let started = Instant::now();
    let stored = store_together(pool, &callbacks).await;
    let result = if stored.is_ok() { "stored" } else { "split" };
    metrics::histogram!("custody_callback_group_seconds", "result" => result)
        .record(started.elapsed().as_secs_f64());
    match stored {
        Ok(outcomes) => {
            for (job, outcome) in group.into_iter().zip(outcomes) {
                let _ = job.done.send(Ok(outcome));
            }
        }
        Err(err) => {
            if group.len() > 1 {
                tracing::warn!(callbacks = group.len(), error = %err,
                    "callbacks could not be stored together; storing each alone");
            }
            for job in group {
                let outcome = store_alone(pool, &job.callback).await;
                let _ = job.done.send(outcome);
            }
        }
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

impl ClaimedEvent<'_> {
    /// The provider transfer it is about, on its account.
    fn transfer(&self) -> (&str, &str) {
        (&self.callback.account_id, &self.event.provider_ref)
    }
}

/// A new deposit the group can create with multi-row statements.
struct NewDepositWork<'a> {
    claimed: &'a ClaimedEvent<'a>,
    deposit: &'a DepositEvent,
    address: AddressRow,
    creation: Creation,
}

/// Stores the callbacks in one transaction: the raw calls and their event keys first; new
/// deposits (the common case) with multi-row statements; every other event as it would be alone.
async fn store_together(
    pool: &PgPool,
    callbacks: &[&PendingCallback],
) -> Result<Vec<Outcome>, sqlx::Error> {
    // A statement inside the transaction would read the addresses from a snapshot of its own
    // anyway (read committed), and what a deposit takes from one (its id, merchant, user) never
    // changes; so they are read beside BEGIN: one round trip fewer on the way to the commit.
    let keys = address_keys(callbacks);
    let (mut tx, addresses) = tokio::try_join!(pool.begin(), batch::find_addresses(pool, &keys))?;
    let claimed = claim(&mut tx, callbacks).await?;
    let duplicates: Vec<Uuid> = callbacks
        .iter()
        .filter(|cb| !claimed.iter().any(|c| c.callback.id == cb.id))
        .map(|cb| cb.id)
        .collect();

    let (creatable, mut one_by_one) = new_deposits(&claimed, &addresses);
    let created = if creatable.is_empty() {
        if !duplicates.is_empty() {
            batch::mark_duplicates(&mut tx, &duplicates).await?;
        }
        HashMap::new()
    } else {
        create_deposits(&mut tx, &creatable, &duplicates).await?
    };
    for work in &creatable {
        let key = work.claimed.transfer();
        if !created.contains_key(&key) {
            // Stored already, by an earlier callback: it moves on (or not) as alone.
            one_by_one.push(work.claimed);
        }
    }

    one_by_one.sort_by_key(|c| c.position);
    for c in one_by_one {
        apply_claimed_event(&mut tx, &c.callback.account_id, "callback", c.event, c.id).await?;
    }
    tx.commit().await?;
    Ok(callbacks
        .iter()
        .map(|cb| {
            logged_outcome(
                cb,
                claimed.iter().filter(|c| c.callback.id == cb.id).count(),
            )
        })
        .collect())
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

/// Inserts the raw calls and claims their events' keys, in key order.
async fn claim<'a>(
    conn: &mut PgConnection,
    callbacks: &[&'a PendingCallback],
) -> Result<Vec<ClaimedEvent<'a>>, sqlx::Error> {
    let records: Vec<_> = callbacks.iter().map(|cb| cb.record("processed")).collect();
    let mut events: Vec<(&PendingCallback, &ProviderEvent, serde_json::Value)> = callbacks
        .iter()
        .flat_map(|cb| cb.events.iter().map(move |event| (*cb, event)))
        .map(|(cb, event)| {
            let payload = serde_json::to_value(&event.body).expect("events serialize");
            (cb, event, payload)
        })
        .collect();
    events
        .sort_by(|a, b| (&a.0.account_id, &a.1.event_key).cmp(&(&b.0.account_id, &b.1.event_key)));
    let rows: Vec<NewEvent> = events
        .iter()
        .map(|(cb, event, payload)| NewEvent {
            account_id: &cb.account_id,
            event_key: &event.event_key,
            callback_id: Some(cb.id),
            source: "callback",
            order_kind: event.body.kind().as_str(),
            provider_ref: &event.provider_ref,
            provider_status: &event.provider_status,
            payload,
        })
        .collect();
    let mut taken: HashMap<(Uuid, String), i64> =
        batch::insert_callbacks_claiming_events(conn, &records, &rows)
            .await?
            .into_iter()
            .map(|c| ((c.callback_id, c.event_key), c.id))
            .collect();
    // In the callbacks' own order; an event repeated within one callback is claimed once.
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
    Ok(claimed)
}

/// Splits the claimed events into deposits this group can create together and the rest, which are
/// applied one by one: every other kind of event, a deposit whose address is not ours (it may be
/// watched), and a transfer reported more than once in the group (its events apply in order).
fn new_deposits<'a>(
    claimed: &'a [ClaimedEvent<'a>],
    addresses: &[AddressRow],
) -> (Vec<NewDepositWork<'a>>, Vec<&'a ClaimedEvent<'a>>) {
    let mut transfers: HashMap<(&str, &str), usize> = HashMap::new();
    for c in claimed {
        if matches!(c.event.body, EventBody::Deposit(_)) {
            *transfers.entry(c.transfer()).or_default() += 1;
        }
    }
    let mut candidates = Vec::new();
    let mut one_by_one = Vec::new();
    for c in claimed {
        match &c.event.body {
            EventBody::Deposit(deposit)
                if deposit.chain_asset.is_some()
                    && deposit.state.is_some()
                    && deposit.amount > Decimal::ZERO
                    && transfers[&c.transfer()] == 1 =>
            {
                candidates.push((c, deposit));
            }
            _ => one_by_one.push(c),
        }
    }
    let mut work = Vec::new();
    for (c, deposit) in candidates {
        let chain = &deposit.chain_asset.as_ref().expect("checked above").chain;
        let key = (
            c.callback.account_id.as_str(),
            chain.as_str(),
            deposit.address.as_str(),
        );
        let found = addresses
            .iter()
            .find(|a| (a.account_id.as_str(), a.chain.as_str(), a.address.as_str()) == key);
        let Some(address) = found else {
            one_by_one.push(c);
            continue;
        };
        let target = deposit.state.expect("checked above");
        work.push(NewDepositWork {
            claimed: c,
            deposit,
            address: address.clone(),
            creation: on_creation(target, deposit.hold.as_deref()),
        });
    }
    (work, one_by_one)
}

/// Creates the new deposits, each in the state its event leaves it in, with their transitions,
/// notifications and event outcomes, as [`apply_deposit_event`] would one by one, and marks the
/// group's `duplicates` in the same statement. Returns the ones created, by `(account,
/// transfer)`; a transfer already stored is left out.
///
/// [`apply_deposit_event`]: crate::orders::deposits::apply_deposit_event
async fn create_deposits<'a>(
    conn: &mut PgConnection,
    work: &'a [NewDepositWork<'a>],
    duplicates: &[Uuid],
) -> Result<HashMap<(&'a str, &'a str), DepositRow>, sqlx::Error> {
    let mut rows: Vec<_> = work
        .iter()
        .map(|w| {
            let c = w.claimed;
            let chain_asset = w.deposit.chain_asset.as_ref().expect("checked when split");
            let new = new_deposit(
                &w.address,
                &c.callback.account_id,
                &c.event.provider_ref,
                chain_asset,
                w.deposit,
            );
            (Uuid::now_v7(), new, w.creation.state().as_str())
        })
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
    let mut created: HashMap<(&str, &str), DepositRow> = HashMap::new();
    for w in work {
        let key = w.claimed.transfer();
        if let Some(new) = inserted
            .iter()
            .find(|d| (d.row.account_id.as_str(), d.row.provider_ref.as_str()) == key)
        {
            created.insert(key, new.row.clone());
        }
    }

    // Every created deposit was `detected` first; some moved on at once.
    let mut changes: Vec<(
        &NewDepositWork,
        Option<DepositState>,
        DepositState,
        DepositRow,
    )> = Vec::new();
    for w in work {
        let key = w.claimed.transfer();
        let Some(row) = created.get(&key) else {
            continue;
        };
        let mut detected = row.clone();
        detected.state = DepositState::Detected;
        changes.push((w, None, DepositState::Detected, detected));
        if let Creation::MovesOn(target) = w.creation {
            changes.push((w, Some(DepositState::Detected), target, row.clone()));
        }
    }
    let event_types: Vec<String> = changes
        .iter()
        .map(|(_, _, to, _)| format!("{}.{}", OrderKind::Deposit.as_str(), to.as_str()))
        .collect();
    let mut transitions = Vec::new();
    let mut payloads = Vec::new();
    for (((w, from, to, row), sequence), event_type) in
        changes.iter().zip(&sequences).zip(&event_types)
    {
        transitions.push((
            *sequence,
            NewTransition {
                order_kind: OrderKind::Deposit.as_str(),
                order_id: row.id,
                from_state: from.map(DepositState::as_str),
                to_state: to.as_str(),
                source: "callback",
                event_id: Some(w.claimed.id),
                reason: None,
            },
        ));
        payloads.push(announcement(event_type, *sequence, &DepositView::from(row)));
    }
    let notifications: Vec<NewNotification> = changes
        .iter()
        .zip(&sequences)
        .zip(event_types.iter().zip(&payloads))
        .map(
            |(((_, _, _, row), sequence), (event_type, (id, payload)))| NewNotification {
                id: *id,
                merchant_id: row.merchant_id,
                event_type,
                order_id: Some(row.id),
                sequence: *sequence,
                payload,
            },
        )
        .collect();

    let outcomes: Vec<(i64, EventOutcome)> = work
        .iter()
        .filter_map(|w| {
            let key = w.claimed.transfer();
            let row = created.get(&key)?;
            let outcome = w.creation.outcome(row.id);
            log_unapplied(&w.claimed.callback.account_id, w.claimed.event, &outcome);
            Some((w.claimed.id, outcome))
        })
        .collect();
    let outcome_rows: Vec<_> = outcomes
        .iter()
        .map(|(id, o)| (*id, o.result.as_str(), o.detail.as_deref(), o.order_id))
        .collect();
    batch::record_creations(
        conn,
        &batch::Creations {
            transitions: &transitions,
            notifications: &notifications,
            outcomes: &outcome_rows,
            duplicates,
        },
    )
    .await?;
    Ok(created)
}
