//! Applying deposit events: a deposit is created `detected`, moves forward only, is credited once.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::domain::{ChainAsset, DepositState, OrderKind};
use crate::orders::EventOutcome;
use crate::orders::notify::{Transition, record_transition};
use crate::orders::treasury::notify_watchers;
use crate::orders::views::DepositView;
use crate::providers::DepositEvent;
use crate::store::addresses::AddressRow;
use crate::store::{addresses, deposits};

pub async fn apply_deposit_event(
    conn: &mut PgConnection,
    account_id: &str,
    provider_ref: &str,
    event: &DepositEvent,
    event_id: i64,
    source: &str,
) -> Result<EventOutcome, sqlx::Error> {
    let Some(chain_asset) = &event.chain_asset else {
        return Ok(EventOutcome::orphan(
            "coin is not in the account's asset mapping",
        ));
    };
    let Some(address) = addresses::find_by_account_address(
        &mut *conn,
        account_id,
        &chain_asset.chain,
        &event.address,
    )
    .await?
    else {
        if let Some(watched) = notify_watchers(conn, account_id, event).await? {
            return Ok(watched);
        }
        return Ok(EventOutcome::orphan(format!(
            "address {} is not one of ours",
            event.address
        )));
    };
    let Some(target) = event.state else {
        return Ok(EventOutcome::unknown_status(None));
    };
    if event.amount <= Decimal::ZERO {
        return Ok(EventOutcome::orphan("deposit amount is not positive"));
    }

    let new = new_deposit(&address, account_id, provider_ref, chain_asset, event);
    let transition = |order_id, from, to| Transition {
        merchant_id: address.merchant_id,
        kind: OrderKind::Deposit,
        order_id,
        from,
        to,
        source,
        event_id: Some(event_id),
        reason: None,
    };

    let mut deposit = match deposits::insert_detected(conn, &new).await? {
        Some(created) => {
            record_transition(
                conn,
                &transition(created.id, None, "detected"),
                &DepositView::from(&created),
            )
            .await?;
            match on_creation(target, created.hold_reason.as_deref()) {
                Creation::MovesOn(_) => created,
                stays => return Ok(stays.outcome(created.id)),
            }
        }
        None => {
            let existing = deposits::lock_by_provider_ref(conn, account_id, provider_ref)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
            if existing.amount != event.amount || existing.address != event.address {
                let reason = format!(
                    "provider reported {} to {} for a deposit stored as {} to {}",
                    event.amount, event.address, existing.amount, existing.address
                );
                deposits::flag_for_review(conn, existing.id, &reason).await?;
                return Ok(EventOutcome::needs_review(existing.id, reason));
            }
            existing
        }
    };

    let current = deposit.state;
    if let Some(hold) = &deposit.hold_reason {
        let reason = format!("held until an operator releases it: {hold}");
        return Ok(EventOutcome::needs_review(deposit.id, reason));
    }
    if !current.can_move_to(target) {
        return Ok(EventOutcome::stale(deposit.id, current.as_str()));
    }
    deposit = deposits::set_state(
        conn,
        deposit.id,
        target.as_str(),
        event.fee,
        event.tx_hash.as_deref(),
        event.block_height,
    )
    .await?;
    record_transition(
        conn,
        &transition(deposit.id, Some(current.as_str()), target.as_str()),
        &DepositView::from(&deposit),
    )
    .await?;
    Ok(EventOutcome::applied(deposit.id))
}

/// The deposit `event` creates at `address`.
pub fn new_deposit<'a>(
    address: &'a AddressRow,
    account_id: &'a str,
    provider_ref: &'a str,
    chain_asset: &'a ChainAsset,
    event: &'a DepositEvent,
) -> deposits::NewDeposit<'a> {
    deposits::NewDeposit {
        merchant_id: address.merchant_id,
        address_id: address.id,
        account_id,
        provider_ref,
        user_id: &address.user_id,
        chain: &chain_asset.chain,
        asset: &chain_asset.asset,
        address: &event.address,
        memo: event.memo.as_deref(),
        amount: event.amount,
        fee: event.fee,
        tx_hash: event.tx_hash.as_deref(),
        block_height: event.block_height,
        risk_source_score: event.risk.map(|r| r.source_score),
        risk_target_score: event.risk.map(|r| r.target_score),
        hold_reason: event.hold.as_deref(),
    }
}

/// The row `new` is stored as when it is created in `state` at `at`, which is to the
/// microsecond, as PostgreSQL keeps time: held for review while it has a hold, as
/// [`deposits::insert_detected`] stores it.
pub fn created_row(
    new: &deposits::NewDeposit<'_>,
    id: uuid::Uuid,
    state: DepositState,
    at: chrono::DateTime<chrono::Utc>,
) -> deposits::DepositRow {
    deposits::DepositRow {
        id,
        merchant_id: new.merchant_id,
        address_id: new.address_id,
        account_id: new.account_id.to_owned(),
        provider_ref: new.provider_ref.to_owned(),
        user_id: new.user_id.to_owned(),
        chain: new.chain.to_owned(),
        asset: new.asset.to_owned(),
        address: new.address.to_owned(),
        memo: new.memo.map(str::to_owned),
        amount: new.amount,
        fee: new.fee,
        tx_hash: new.tx_hash.map(str::to_owned),
        block_height: new.block_height,
        state,
        needs_review: new.hold_reason.is_some(),
        review_reason: new.hold_reason.map(str::to_owned),
        created_at: at,
        updated_at: at,
        risk_source_score: new.risk_source_score,
        risk_target_score: new.risk_target_score,
        hold_reason: new.hold_reason.map(str::to_owned),
    }
}

/// What becomes of a deposit the moment an event creates it (as `detected`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creation {
    /// Held for an operator, with the reason: it stays `detected`.
    Held(String),
    /// The event reports `detected` itself.
    Detected,
    /// The event's state is not ahead of `detected`.
    Stale,
    /// It moves on to the event's state at once.
    MovesOn(DepositState),
}

impl Creation {
    /// The event's outcome when the deposit stays `detected`, or once it has moved on.
    pub fn outcome(&self, deposit_id: uuid::Uuid) -> EventOutcome {
        match self {
            Creation::Held(hold) => EventOutcome::needs_review(deposit_id, hold.clone()),
            Creation::Stale => EventOutcome::stale(deposit_id, DepositState::Detected.as_str()),
            Creation::Detected | Creation::MovesOn(_) => EventOutcome::applied(deposit_id),
        }
    }

    /// The state the deposit ends in.
    pub fn state(&self) -> DepositState {
        match self {
            Creation::MovesOn(target) => *target,
            _ => DepositState::Detected,
        }
    }
}

/// Decides [`Creation`] for a new deposit reported in state `target`, held or not.
pub fn on_creation(target: DepositState, hold: Option<&str>) -> Creation {
    if let Some(hold) = hold {
        Creation::Held(hold.to_owned())
    } else if target == DepositState::Detected {
        Creation::Detected
    } else if !DepositState::Detected.can_move_to(target) {
        Creation::Stale
    } else {
        Creation::MovesOn(target)
    }
}

/// What an operator decides about a held deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldDecision {
    Release,
    Reject,
}

#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("no such deposit")]
    NotFound,
    #[error("the deposit is not held")]
    NotHeld,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Ends a deposit's hold: released it is credited (`confirmed`), rejected it is `failed`. The
/// transition is the operator's (source `ops`) and keeps their reason.
pub async fn decide_hold(
    pool: &sqlx::PgPool,
    id: uuid::Uuid,
    decision: HoldDecision,
    reason: &str,
) -> Result<crate::store::deposits::DepositRow, HoldError> {
    let mut tx = pool.begin().await?;
    let deposit = deposits::lock(&mut tx, id)
        .await?
        .ok_or(HoldError::NotFound)?;
    if deposit.hold_reason.is_none() || deposit.state.is_terminal() {
        return Err(HoldError::NotHeld);
    }
    let target = match decision {
        HoldDecision::Release => DepositState::Confirmed,
        HoldDecision::Reject => DepositState::Failed,
    };
    let deposit = deposits::end_hold(&mut tx, id, target).await?;
    record_transition(
        &mut tx,
        &Transition {
            merchant_id: deposit.merchant_id,
            kind: OrderKind::Deposit,
            order_id: deposit.id,
            from: Some(DepositState::Detected.as_str()),
            to: target.as_str(),
            source: "ops",
            event_id: None,
            reason: Some(reason),
        },
        &DepositView::from(&deposit),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(deposit = %id, state = target.as_str(), reason, "held deposit decided by an operator");
    Ok(deposit)
}
