//! Applying deposit events: a deposit is created `detected`, moves forward only, is credited once.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::domain::{DepositState, OrderKind};
use crate::orders::EventOutcome;
use crate::orders::notify::{Transition, record_transition};
use crate::orders::views::DepositView;
use crate::providers::DepositEvent;
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

    let new = deposits::NewDeposit {
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
    };
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
            if target == DepositState::Detected {
                return Ok(EventOutcome::applied(created.id));
            }
            created
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
