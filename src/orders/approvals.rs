//! Withdrawal approval requests from a provider's signer (ChainUp Co-Signer `sign_start` /
//! `sign_success`). A security control: only a withdrawal this gateway created, with exactly the
//! request id, destination, amount and asset it asked for, and not already finished, is approved.
//! Every answer is recorded with its reason. A repeated question that was refused is refused again;
//! one that was approved is judged again, since the withdrawal may have finished in between.

use axum::response::{IntoResponse, Response};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::WithdrawalState;
use crate::orders::ingest::{redacted_headers, store_rejected_call};
use crate::orders::withdrawals::{integrity_mismatches, move_withdrawal};
use crate::providers::{
    AckResult, ApprovalCall, ApprovalRequest, ApprovalStage, Provider, RawCallback,
};
use crate::store::callbacks;
use crate::store::withdrawals::{self, WithdrawalChanges};

const APPROVED: &str = "approved";
const REFUSED: &str = "refused";

/// Answers one call to `/callbacks/{account}/cosigner`.
pub async fn handle_approval_call(
    pool: &PgPool,
    provider: &dyn Provider,
    raw: &RawCallback,
) -> Response {
    let call = match provider.parse_approval(raw) {
        Ok(call) => call,
        Err(err) => {
            let reason = err.to_string();
            tracing::warn!(account = provider.account_id(), reason = %reason, "approval request refused as unreadable");
            if let Err(err) = store_rejected_call(
                pool,
                provider.account_id(),
                raw,
                &reason,
                err.signature_verified(),
            )
            .await
            {
                tracing::error!(error = %err, "could not store a rejected approval request");
            }
            return provider.ack(AckResult::Rejected);
        }
    };
    let request = match call {
        ApprovalCall::Answered(response) => return response,
        ApprovalCall::Withdrawal(request) => request,
    };
    match decide(pool, provider.account_id(), raw, &request).await {
        Ok((approve, reason)) => {
            metrics::counter!("custody_approval_decisions_total",
                "account" => provider.account_id().to_owned(),
                "decision" => if approve { "approved" } else { "refused" })
            .increment(1);
            if approve {
                tracing::info!(account = provider.account_id(), request_id = %request.request_id, stage = ?request.stage, "withdrawal approval granted");
            } else {
                tracing::warn!(account = provider.account_id(), request_id = %request.request_id, reason = %reason, "withdrawal approval refused");
            }
            provider.approval_reply(&request, approve)
        }
        Err(err) => {
            // Never approve on doubt: a refusal can be asked again, an approval cannot be taken back.
            tracing::error!(account = provider.account_id(), error = %err, "approval decision failed; refusing");
            provider.approval_reply(&request, false).into_response()
        }
    }
}

/// Decides and records the answer; `(approve, reason)`.
async fn decide(
    pool: &PgPool,
    account_id: &str,
    raw: &RawCallback,
    request: &ApprovalRequest,
) -> Result<(bool, String), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let callback_id = Uuid::now_v7();
    let headers = redacted_headers(&raw.headers);
    callbacks::insert_callback(
        &mut *tx,
        &callbacks::NewCallback {
            id: callback_id,
            account_id,
            content_type: raw.content_type(),
            headers: &headers,
            body: &String::from_utf8_lossy(&raw.body),
            verified: true,
            outcome: "processed",
            reject_reason: None,
            event_count: 1,
        },
    )
    .await?;
    let event_key = format!("approval:{}", request.key);
    let payload = serde_json::to_value(request).expect("approval serializes");
    let stage = match request.stage {
        ApprovalStage::SignStart => "sign_start",
        ApprovalStage::SignSuccess { .. } => "sign_success",
    };
    let claimed = callbacks::insert_event(
        &mut tx,
        &callbacks::NewEvent {
            account_id,
            event_key: &event_key,
            callback_id: Some(callback_id),
            source: "callback",
            order_kind: "withdrawal",
            provider_ref: &request.provider_ref,
            provider_status: stage,
            payload: &payload,
        },
    )
    .await?;
    let Some(event_id) = claimed else {
        let earlier = callbacks::event_outcome(&mut tx, account_id, &event_key).await?;
        if earlier.as_deref() != Some(APPROVED) {
            tx.commit().await?;
            return Ok((false, "the same question was refused before".into()));
        }
        let (approve, reason, _) = judge(&mut tx, account_id, request, None).await?;
        tx.commit().await?;
        return Ok((approve, reason));
    };
    let (approve, reason, order_id) = judge(&mut tx, account_id, request, Some(event_id)).await?;
    let outcome = if approve { APPROVED } else { REFUSED };
    callbacks::set_event_outcome(&mut tx, event_id, outcome, Some(&reason), order_id).await?;
    tx.commit().await?;
    Ok((approve, reason))
}

async fn judge(
    conn: &mut PgConnection,
    account_id: &str,
    request: &ApprovalRequest,
    event_id: Option<i64>,
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
        request.amount,
        request.chain_asset.as_ref(),
        &request.to_address,
    );
    if !mismatches.is_empty() {
        let reason = format!(
            "approval request differs from our withdrawal in {}",
            mismatches.join(", ")
        );
        withdrawals::flag_for_review(conn, row.id, &reason).await?;
        return Ok((false, reason, Some(row.id)));
    }
    let state = WithdrawalState::parse(&row.state).expect("stored withdrawal state is valid");
    match &request.stage {
        ApprovalStage::SignStart if state.is_terminal() => Ok((
            false,
            format!("withdrawal is already {}", state.as_str()),
            Some(row.id),
        )),
        ApprovalStage::SignStart => Ok((
            true,
            "matches the withdrawal we submitted".into(),
            Some(row.id),
        )),
        ApprovalStage::SignSuccess { tx_hash } => {
            let changes = WithdrawalChanges {
                provider_ref: Some(&request.provider_ref),
                tx_hash: tx_hash.as_deref(),
                ..Default::default()
            };
            move_withdrawal(
                conn,
                row.id,
                WithdrawalState::Broadcast,
                &changes,
                "callback",
                event_id,
            )
            .await?;
            Ok((true, "signed".into(), Some(row.id)))
        }
    }
}
