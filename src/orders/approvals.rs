//! Withdrawal approval requests from a provider's signer, read and authenticated before they reach
//! here (by the API layer's token check on the approval endpoint, or by the provider's own protocol). A security control: only
//! a withdrawal this gateway created, with exactly the request id, destination, amount and asset it
//! asked for, and not already finished, is approved. Every answer is recorded with its reason. A
//! repeated question that was refused is refused again; one that was approved is judged again,
//! since the withdrawal may have finished in between.
//!
//! A "signed" notice is never taken as the truth: it is recorded, then the provider's own API is
//! asked where the withdrawal stands, and only its answer moves the state or sets the tx hash.

use std::net::IpAddr;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::text::first_nul;
use crate::orders::EventResult;
use crate::orders::ingest::{KeptCall, record_asked_event, store_rejected_call};
use crate::orders::withdrawals::integrity_mismatches;
use crate::providers::{
    ApprovalRequest, ApprovalStage, AssetReport, EventBody, EventKind, Outcome, Provider,
    RawCallback, WithdrawalRef,
};
use crate::store::callbacks;
use crate::store::withdrawals;

/// Records a call that did not authenticate; it changes nothing else.
pub async fn refuse_caller(
    pool: &PgPool,
    provider: &dyn Provider,
    raw: &RawCallback,
    source: Option<IpAddr>,
    refusal: &(dyn std::fmt::Display + Sync),
) {
    let account = provider.account_id();
    let source = source.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    tracing::warn!(account, source = %source, reason = %refusal, "approval call refused: caller not authenticated");
    metrics::counter!("custody_approval_decisions_total",
        "account" => account.to_owned(), "decision" => "unauthenticated")
    .increment(1);
    let reason = format!("caller not authenticated ({refusal}; from {source})");
    if let Err(err) = store_rejected_call(pool, provider, raw, &reason, false).await {
        tracing::error!(account, error = %err, "could not store a refused approval call");
    }
}

/// Decides an approval request read by the provider's adapter, records the answer with its reason,
/// and, for a "signed" notice, confirms it with the provider before anything moves. Never approves
/// on doubt: a refusal can be asked again, an approval cannot be taken back.
pub async fn decide_approval(
    pool: &PgPool,
    provider: &dyn Provider,
    raw: &RawCallback,
    request: &ApprovalRequest,
    deadline: std::time::Duration,
) -> Outcome {
    let account = provider.account_id();
    if let Some(field) = first_nul(&serde_json::to_value(request).expect("approval serializes")) {
        // Text PostgreSQL cannot store: refused, never half-recorded.
        let reason = format!("invalid callback content: {field} contains a NUL character");
        tracing::warn!(account, reason = %reason, "approval request refused as unreadable");
        if let Err(err) = store_rejected_call(pool, provider, raw, &reason, true).await {
            tracing::error!(account, error = %err, "could not store a rejected approval request");
        }
        return Outcome::Refused;
    }
    let decision = tokio::time::timeout(deadline, decide(pool, provider, raw, request))
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut));
    let approve = match decision {
        Ok((approve, reason)) => {
            if approve {
                tracing::info!(account, request_id = %request.request_id, stage = ?request.stage, "withdrawal approval granted");
            } else {
                tracing::warn!(account, request_id = %request.request_id, reason = %reason, "withdrawal approval refused");
            }
            approve
        }
        Err(err) => {
            tracing::error!(account, error = %err, "approval decision failed; refusing");
            false
        }
    };
    if approve && let ApprovalStage::Signed { tx_hash } = &request.stage {
        confirm_signed(pool, provider, &request.request_id, tx_hash.as_deref()).await;
    }
    metrics::counter!("custody_approval_decisions_total",
        "account" => account.to_owned(),
        "decision" => if approve { "approved" } else { "refused" })
    .increment(1);
    if approve {
        Outcome::Approved
    } else {
        Outcome::Declined
    }
}

/// Decides and records the answer; `(approve, reason)`.
async fn decide(
    pool: &PgPool,
    provider: &dyn Provider,
    raw: &RawCallback,
    request: &ApprovalRequest,
) -> Result<(bool, String), sqlx::Error> {
    let account_id = provider.account_id();
    let mut tx = pool.begin().await?;
    let callback_id = Uuid::now_v7();
    let kept = KeptCall::of(provider, raw);
    callbacks::insert_callback(
        &mut *tx,
        &kept.record(callback_id, account_id, true, "processed", None, 1),
    )
    .await?;
    let event_key = format!("approval:{}", request.key);
    let payload = serde_json::to_value(request).expect("approval serializes");
    let claimed = callbacks::insert_event(
        &mut tx,
        &callbacks::NewEvent {
            account_id,
            event_key: &event_key,
            callback_id: Some(callback_id),
            source: "callback",
            order_kind: EventKind::Withdrawal.as_str(),
            provider_ref: &request.provider_ref,
            provider_status: &request.provider_status,
            payload: &payload,
        },
    )
    .await?;
    let Some(event_id) = claimed else {
        let earlier = callbacks::event_outcome(&mut tx, account_id, &event_key).await?;
        let earlier = earlier.as_deref().and_then(EventResult::parse);
        if !matches!(earlier, Some(EventResult::Approved | EventResult::Noted)) {
            tx.commit().await?;
            return Ok((false, "the same question was refused before".into()));
        }
        let (approve, reason, _) = judge(&mut tx, account_id, request).await?;
        tx.commit().await?;
        return Ok((approve, reason));
    };
    let (approve, reason, order_id) = judge(&mut tx, account_id, request).await?;
    let outcome = match (&request.stage, approve) {
        (_, false) => EventResult::Refused,
        (ApprovalStage::BeforeSigning, true) => EventResult::Approved,
        (ApprovalStage::Signed { .. }, true) => EventResult::Noted,
    };
    callbacks::set_event_outcome(&mut tx, event_id, outcome.as_str(), Some(&reason), order_id)
        .await?;
    tx.commit().await?;
    Ok((approve, reason))
}

/// Whether the question describes our withdrawal as we submitted it; `(approve, reason, order)`.
async fn judge(
    conn: &mut PgConnection,
    account_id: &str,
    request: &ApprovalRequest,
) -> Result<(bool, String, Option<Uuid>), sqlx::Error> {
    let Some(row) = withdrawals::lock_by_request_id(conn, account_id, &request.request_id).await?
    else {
        return Ok((
            false,
            format!(
                "no withdrawal with request id {:?} was made here",
                request.request_id
            ),
            None,
        ));
    };
    let mismatches = integrity_mismatches(
        &row,
        Some(request.amount),
        &AssetReport::named(request.chain_asset.clone()),
        Some(&request.to_address),
    );
    if !mismatches.is_empty() {
        let reason = format!(
            "approval request differs from our withdrawal in {}",
            mismatches.join(", ")
        );
        withdrawals::flag_for_review(conn, row.id, &reason).await?;
        return Ok((false, reason, Some(row.id)));
    }
    let state = row.state;
    match &request.stage {
        ApprovalStage::BeforeSigning if state.is_terminal() => Ok((
            false,
            format!("withdrawal is already {}", state.as_str()),
            Some(row.id),
        )),
        ApprovalStage::BeforeSigning => Ok((
            true,
            "matches the withdrawal we submitted".into(),
            Some(row.id),
        )),
        ApprovalStage::Signed { .. } => Ok((
            true,
            "signed; confirming with the provider".into(),
            Some(row.id),
        )),
    }
}

/// Asks the provider where a withdrawal reported as signed stands, and applies its answer as an
/// event learnt by asking. A tx hash that differs from the provider's, or a withdrawal the provider
/// does not know, puts it under review. If the provider cannot be asked now, the pollers' status
/// queries settle it later.
async fn confirm_signed(
    pool: &PgPool,
    provider: &dyn Provider,
    request_id: &str,
    reported_tx_hash: Option<&str>,
) {
    let account_id = provider.account_id();
    let withdrawal = WithdrawalRef {
        request_id,
        provider_ref: None,
    };
    let concern = match provider.withdrawal_status(&withdrawal).await {
        Ok(Some(event)) => {
            if let Err(err) = record_asked_event(pool, account_id, "poll", &event).await {
                tracing::error!(account = account_id, error = %err, "could not record the provider's answer");
                return;
            }
            let known = match &event.body {
                EventBody::Withdrawal(withdrawal) => withdrawal.tx_hash.as_deref(),
                _ => None,
            };
            match (reported_tx_hash, known) {
                (Some(reported), Some(known)) if !reported.eq_ignore_ascii_case(known) => Some(
                    format!("the signer reported tx hash {reported}, the provider lists {known}"),
                ),
                _ => None,
            }
        }
        Ok(None) => Some(
            "the signer reported a signature for a withdrawal the provider does not list"
                .to_owned(),
        ),
        Err(err) => {
            tracing::warn!(account = account_id, request_id, error = %err, "signed notice not confirmed yet; the status query will settle it");
            None
        }
    };
    if let Some(reason) = concern {
        tracing::warn!(account = account_id, request_id, reason = %reason, "withdrawal needs review");
        if let Err(err) =
            withdrawals::flag_for_review_by_request_id(pool, account_id, request_id, &reason).await
        {
            tracing::error!(account = account_id, error = %err, "could not flag the withdrawal");
        }
    }
}
