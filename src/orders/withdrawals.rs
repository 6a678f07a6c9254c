//! Withdrawals: idempotent creation, submission with a stable provider request id, and callbacks.
//! A withdrawal never fails over to another account, and only a definitive refusal rejects it.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::text::escape_nul;
use crate::domain::{Amount, ChainAsset, OrderKind, WithdrawalState};
use crate::orders::notify::{Transition, record_notice, record_transition};
use crate::orders::treasury::collection_wallet;
use crate::orders::views::WithdrawalView;
use crate::orders::{Core, EventOutcome, OrderError};
use crate::providers::{AssetReport, Provider, ProviderError, WithdrawalEvent, WithdrawalRequest};
use crate::store::transitions;
use crate::store::withdrawals::{self, NewWithdrawal, WithdrawalChanges, WithdrawalRow};

/// A merchant's withdrawal request, already checked field by field (the amount against its asset
/// happens here, once the account is known).
pub struct WithdrawalInput {
    pub client_order_id: String,
    pub chain_asset: ChainAsset,
    pub amount: String,
    pub to_address: String,
    pub memo: Option<String>,
    pub provider: Option<String>,
}

/// Creates and submits the withdrawal, or returns the one already made for this client order id.
/// The flag says whether this call created it.
pub async fn request_withdrawal(
    state: &Arc<Core>,
    merchant_id: Uuid,
    input: &WithdrawalInput,
) -> Result<(WithdrawalRow, bool), OrderError> {
    // The first account that serves the pair; withdrawals never fail over.
    let provider = state
        .registry
        .route(&input.chain_asset, input.provider.as_deref())?
        .remove(0);
    let decimals = provider
        .asset(&input.chain_asset)
        .map(|a| a.decimals)
        .unwrap_or(0);
    let amount = Amount::parse(&input.amount, decimals)?;

    if let Some(existing) =
        withdrawals::find_by_client_order_id(&state.pool, merchant_id, &input.client_order_id)
            .await?
    {
        return same_request(existing, input, amount).map(|row| (row, false));
    }

    let id = Uuid::now_v7();
    let request_id = id.simple().to_string();
    let mut tx = state.pool.begin().await?;
    let inserted = withdrawals::insert_accepted(
        &mut tx,
        &NewWithdrawal {
            id,
            merchant_id,
            client_order_id: &input.client_order_id,
            account_id: provider.account_id(),
            provider_request_id: &request_id,
            chain: &input.chain_asset.chain,
            asset: &input.chain_asset.asset,
            amount: amount.value(),
            to_address: &input.to_address,
            memo: input.memo.as_deref(),
        },
        state.settings.send_lease_secs(),
    )
    .await?;
    let Some(row) = inserted else {
        // A concurrent request with the same client order id won the insert.
        tx.rollback().await?;
        let existing =
            withdrawals::find_by_client_order_id(&state.pool, merchant_id, &input.client_order_id)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
        return same_request(existing, input, amount).map(|row| (row, false));
    };
    let transition = Transition {
        merchant_id,
        kind: OrderKind::Withdrawal,
        order_id: row.id,
        from: None,
        to: WithdrawalState::Accepted.as_str(),
        source: "api",
        event_id: None,
        reason: None,
    };
    record_transition(&mut tx, &transition, &WithdrawalView::from(&row)).await?;
    tx.commit().await?;
    tracing::info!(withdrawal = %row.id, account = %row.account_id, "withdrawal accepted");

    Ok((submit_within_wait(state, provider, row).await?, true))
}

/// Sends the first attempt in a task of its own, and waits for it at most the configured time:
/// past that the merchant gets the withdrawal as it stands (`accepted`) and the task finishes the
/// job, holding the send lease, whether or not the merchant is still waiting.
async fn submit_within_wait(
    state: &Arc<Core>,
    provider: Arc<dyn Provider>,
    row: WithdrawalRow,
) -> Result<WithdrawalRow, sqlx::Error> {
    let id = row.id;
    let task_state = state.clone();
    let mut sending =
        tokio::spawn(
            async move { submit(&task_state, provider.as_ref(), row, Attempt::First).await },
        );
    let wait = Duration::from_millis(state.settings.workers.submit_wait_ms);
    match tokio::time::timeout(wait, &mut sending).await {
        Ok(Ok(result)) => result,
        Ok(Err(panicked)) => {
            tracing::error!(withdrawal = %id, error = %panicked, "withdrawal send failed; the resubmission worker takes it over once its lease ends");
            withdrawals::find(&state.pool, id)
                .await?
                .ok_or(sqlx::Error::RowNotFound)
        }
        Err(_) => {
            tracing::info!(withdrawal = %id, "provider slow to answer; answering now, the send goes on");
            withdrawals::find(&state.pool, id)
                .await?
                .ok_or(sqlx::Error::RowNotFound)
        }
    }
}

/// The stored withdrawal when the repeated request is the same; 409 when it differs.
fn same_request(
    existing: WithdrawalRow,
    input: &WithdrawalInput,
    amount: Amount,
) -> Result<WithdrawalRow, OrderError> {
    let mut differs = Vec::new();
    if existing.chain != input.chain_asset.chain || existing.asset != input.chain_asset.asset {
        differs.push("chain/asset");
    }
    if existing.amount != amount.value() {
        differs.push("amount");
    }
    if existing.to_address != input.to_address {
        differs.push("to_address");
    }
    if existing.memo != input.memo {
        differs.push("memo");
    }
    if input
        .provider
        .as_ref()
        .is_some_and(|p| p != &existing.account_id)
    {
        differs.push("provider");
    }
    if differs.is_empty() {
        return Ok(existing);
    }
    Err(OrderError::IdempotencyConflict {
        client_order_id: input.client_order_id.clone(),
        withdrawal_id: existing.id,
        differs,
    })
}

/// Whether an earlier attempt may have reached the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The first send, right after the withdrawal was stored.
    First,
    /// A later send with the same request id (after a crash, an unreachable provider or an
    /// unknown outcome): a refusal now does not prove that the first attempt was not accepted.
    Repeat,
}

/// Sends the withdrawal to its provider and records the outcome, ending the send lease that the
/// caller holds.
pub async fn submit(
    state: &Core,
    provider: &dyn Provider,
    row: WithdrawalRow,
    attempt: Attempt,
) -> Result<WithdrawalRow, sqlx::Error> {
    let chain_asset = ChainAsset {
        chain: row.chain.clone(),
        asset: row.asset.clone(),
    };
    let callback_url = state.callback_url(&row.account_id);
    let from_wallet = if provider.pays_from_collection_wallet() {
        match collection_wallet(state, provider, &row.chain).await {
            Ok(address) => Some(address),
            Err(err) => {
                // Nothing was sent: the withdrawal waits to be sent once the wallet is there.
                tracing::warn!(withdrawal = %row.id, error = %err, "no collection wallet to pay from yet; the withdrawal will be sent again");
                withdrawals::release_send_lease(&state.pool, row.id).await?;
                return Ok(row);
            }
        }
    } else {
        None
    };
    let request = WithdrawalRequest {
        merchant_id: row.merchant_id,
        request_id: &row.provider_request_id,
        chain_asset: &chain_asset,
        amount: row.amount,
        to_address: &row.to_address,
        memo: row.memo.as_deref(),
        callback_url: &callback_url,
        from_wallet: from_wallet.as_deref(),
    };
    let result = provider.submit_withdrawal(&request).await;
    let mut accepted = None;
    let (target, error) = match result {
        Ok(submitted) => {
            accepted = Some(submitted);
            (WithdrawalState::Submitted, None)
        }
        Err(ProviderError::Duplicate) => (WithdrawalState::Submitted, None),
        Err(
            err @ (ProviderError::Refused { .. }
            | ProviderError::InsufficientFunds(_)
            | ProviderError::Unsupported(_)),
        ) if attempt == Attempt::First => {
            (WithdrawalState::Rejected, Some(SubmissionError::from(err)))
        }
        Err(err @ ProviderError::Unknown { .. }) => {
            (WithdrawalState::Unknown, Some(SubmissionError::from(err)))
        }
        Err(err @ ProviderError::Unreachable(_)) => {
            tracing::warn!(withdrawal = %row.id, error = %err, "provider unreachable; the withdrawal will be sent again");
            withdrawals::release_send_lease(&state.pool, row.id).await?;
            return Ok(row);
        }
        Err(err) => {
            let reason = format!("a repeated submission was refused: {err}");
            tracing::warn!(withdrawal = %row.id, reason = %reason, "withdrawal needs review");
            let mut tx = state.pool.begin().await?;
            withdrawals::flag_for_review(&mut tx, row.id, &escape_nul(&reason)).await?;
            withdrawals::release_send_lease(&mut *tx, row.id).await?;
            let row = withdrawals::lock(&mut tx, row.id).await?;
            tx.commit().await?;
            return Ok(row);
        }
    };
    tracing::info!(withdrawal = %row.id, state = target.as_str(), provider_error = error.as_ref().map(|e| e.provider_detail.as_str()), "withdrawal submission recorded");
    let changes = match &error {
        Some(error) => WithdrawalChanges {
            error_code: Some(error.code),
            error_message: Some(error.message),
            provider_error_code: error.provider_code.as_deref(),
            provider_error: Some(&error.provider_detail),
            ..Default::default()
        },
        None => WithdrawalChanges {
            provider_ref: accepted.as_ref().and_then(|a| a.provider_ref.as_deref()),
            provider_awaits_approval: accepted.as_ref().map(|a| a.awaits_approval),
            ..Default::default()
        },
    };
    let mut tx = state.pool.begin().await?;
    withdrawals::release_send_lease(&mut *tx, row.id).await?;
    let row = move_withdrawal(&mut tx, row.id, target, &changes, "api", None).await?;
    tx.commit().await?;
    state.outbox_wake.committed();
    Ok(row)
}

/// Why a submission did not end `submitted`: in stable words for the merchant, in the provider's
/// own for ops (escaped so that it can always be stored).
struct SubmissionError {
    code: &'static str,
    message: &'static str,
    provider_code: Option<String>,
    provider_detail: String,
}

impl From<ProviderError> for SubmissionError {
    fn from(err: ProviderError) -> SubmissionError {
        let (code, message, provider_code) = match &err {
            ProviderError::Refused { code, .. } => (
                "provider_refused",
                "the provider refused the withdrawal",
                Some(escape_nul(code).into_owned()),
            ),
            ProviderError::Unsupported(_) => (
                "unsupported",
                "this provider account cannot send this withdrawal",
                None,
            ),
            ProviderError::InsufficientFunds(_) => (
                "insufficient_funds",
                "the provider account's paying wallet does not hold enough for this withdrawal",
                None,
            ),
            ProviderError::Unknown {
                timed_out: true, ..
            } => (
                "provider_timeout",
                "the provider did not answer in time; the withdrawal is being settled with the provider",
                None,
            ),
            _ => (
                "provider_unavailable",
                "the provider's answer was lost or unreadable; the withdrawal is being settled with the provider",
                None,
            ),
        };
        SubmissionError {
            code,
            message,
            provider_code,
            provider_detail: escape_nul(&err.to_string()).into_owned(),
        }
    }
}

/// Moves a withdrawal forward if `target` is ahead of its state; otherwise leaves it as it is.
pub async fn move_withdrawal(
    conn: &mut PgConnection,
    id: Uuid,
    target: WithdrawalState,
    changes: &WithdrawalChanges<'_>,
    source: &str,
    event_id: Option<i64>,
) -> Result<WithdrawalRow, sqlx::Error> {
    let row = withdrawals::lock(conn, id).await?;
    let current = row.state;
    if !current.can_move_to(target) {
        return Ok(row);
    }
    let row = withdrawals::set_state(conn, id, target.as_str(), changes).await?;
    let transition = Transition {
        merchant_id: row.merchant_id,
        kind: OrderKind::Withdrawal,
        order_id: row.id,
        from: Some(current.as_str()),
        to: target.as_str(),
        source,
        event_id,
        reason: None,
    };
    record_transition(conn, &transition, &WithdrawalView::from(&row)).await?;
    Ok(row)
}

/// Applies a provider's withdrawal event after checking it describes the withdrawal we made.
pub async fn apply_withdrawal_event(
    conn: &mut PgConnection,
    account_id: &str,
    provider_ref: &str,
    event: &WithdrawalEvent,
    event_id: i64,
    source: &str,
) -> Result<EventOutcome, sqlx::Error> {
    if event.request_id.is_empty() {
        return Ok(EventOutcome::orphan(
            "withdrawal event without our request id",
        ));
    }
    let Some(row) = withdrawals::lock_by_request_id(conn, account_id, &event.request_id).await?
    else {
        return Ok(EventOutcome::orphan(format!(
            "no withdrawal with request id {}",
            event.request_id
        )));
    };

    let mismatches =
        integrity_mismatches(&row, event.amount, &event.asset, event.address.as_deref());
    if !mismatches.is_empty() {
        let reason = format!(
            "provider event differs from our withdrawal in {}",
            mismatches.join(", ")
        );
        withdrawals::flag_for_review(conn, row.id, &reason).await?;
        return Ok(EventOutcome::needs_review(row.id, reason));
    }
    if let Some(reason) = &event.delayed {
        return record_delay(conn, row, reason).await;
    }
    let Some(target) = event.state else {
        return Ok(EventOutcome::unknown_status(Some(row.id)));
    };
    let current = row.state;
    if !current.can_move_to(target) {
        return Ok(EventOutcome::stale(row.id, current.as_str()));
    }
    let failure = event.failure.as_deref().map(escape_nul);
    let changes = WithdrawalChanges {
        provider_ref: Some(provider_ref),
        tx_hash: event.tx_hash.as_deref(),
        fee: event.fee,
        error_code: failure.as_ref().map(|_| "provider_failed"),
        error_message: failure
            .as_ref()
            .map(|_| "the provider ended the withdrawal unpaid"),
        provider_error: failure.as_deref(),
        ..Default::default()
    };
    move_withdrawal(conn, row.id, target, &changes, source, Some(event_id)).await?;
    Ok(EventOutcome::applied(row.id))
}

/// The provider holds an open withdrawal back (its state stays): kept on the withdrawal until it
/// moves on, and told to the merchant as `withdrawal.delayed`.
async fn record_delay(
    conn: &mut PgConnection,
    row: WithdrawalRow,
    reason: &str,
) -> Result<EventOutcome, sqlx::Error> {
    if row.state.is_terminal() {
        return Ok(EventOutcome::stale(row.id, row.state.as_str()));
    }
    if row.delay_reason.as_deref() == Some(reason) {
        return Ok(EventOutcome::stale(row.id, "delayed for this reason"));
    }
    let row = withdrawals::set_delay(conn, row.id, reason).await?;
    let view = WithdrawalView::from(&row);
    record_notice(
        conn,
        row.merchant_id,
        "withdrawal.delayed",
        Some(row.id),
        &view,
    )
    .await?;
    Ok(EventOutcome::applied(row.id))
}

/// Whatever a provider reports of the amount, asset and destination must be exactly what we
/// asked for; what it does not report is not checked.
pub fn integrity_mismatches(
    row: &WithdrawalRow,
    amount: Option<rust_decimal::Decimal>,
    asset: &AssetReport,
    address: Option<&str>,
) -> Vec<&'static str> {
    let mut mismatches = Vec::new();
    if amount.is_some_and(|a| a != row.amount) {
        mismatches.push("amount");
    }
    let asset_differs = match asset {
        AssetReport::NotReported => false,
        AssetReport::Unmapped => true,
        AssetReport::Mapped(ca) => ca.chain != row.chain || ca.asset != row.asset,
    };
    if asset_differs {
        mismatches.push("asset");
    }
    if address.is_some_and(|a| !same_address(a, &row.to_address)) {
        mismatches.push("address");
    }
    mismatches
}

/// EVM addresses compare without regard to their checksum capitals; others exactly.
fn same_address(a: &str, b: &str) -> bool {
    if a.starts_with("0x") && b.starts_with("0x") {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// The withdrawal with its state history, as the merchant API shows it.
pub async fn view_with_history(
    state: &Core,
    row: &WithdrawalRow,
) -> Result<WithdrawalView, sqlx::Error> {
    let history = transitions::list_for_order(&state.pool, row.id).await?;
    Ok(WithdrawalView::from(row).with_history(history))
}
