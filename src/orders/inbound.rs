//! One call from a provider, end to end: its adapter reads (and verifies) it, the core stores what it
//! says or decides what it asks, and only then is the provider's own reply built.

use std::time::Duration;

use crate::orders::Core;
use crate::orders::approvals::decide_approval;
use crate::orders::group_commit::CallbackWriter;
use crate::orders::ingest::{store_events, store_limited_call, store_rejected_call};
use crate::providers::{CallbackError, Inbound, Outcome, Provider, ProviderReply, RawCallback};

/// Answers one call. Storing waits at most `deadline` on the database; past it the provider is
/// asked to send again (a duplicate of anything that did commit is harmless).
pub async fn receive(
    core: &Core,
    provider: &dyn Provider,
    raw: &RawCallback,
    deadline: Duration,
) -> ProviderReply {
    let pool = &core.pool;
    let account = provider.account_id();
    let (outcome, label) = match provider.read_callback(raw).await {
        Ok(Inbound::Answered(reply)) => return reply,
        Ok(Inbound::Approval(request)) => {
            return provider.reply(
                raw,
                decide_approval(pool, provider, raw, &request, deadline).await,
            );
        }
        Ok(Inbound::Events(events)) => {
            let outcome = store(&core.callbacks, provider, raw, events, true, deadline).await;
            (outcome, processed_label(outcome, "processed"))
        }
        Ok(Inbound::Prompted(events)) => {
            let outcome = store(&core.callbacks, provider, raw, events, false, deadline).await;
            (outcome, processed_label(outcome, "processed_unverified"))
        }
        Err(CallbackError::Unavailable(why)) => {
            tracing::warn!(account, reason = %why, "callback not confirmed with the provider; asking it to retry");
            (Outcome::RetryLater, "retry_later")
        }
        Err(err @ CallbackError::Limited(_)) => {
            let reason = err.to_string();
            tracing::warn!(account, reason = %reason, "unverified callback not asked about");
            // Kept or not, the provider is asked to send it again.
            let _ =
                tokio::time::timeout(deadline, store_limited_call(pool, provider, raw, &reason))
                    .await;
            (Outcome::RetryLater, "limited")
        }
        Err(err) => {
            let reason = err.to_string();
            tracing::warn!(account, reason = %reason, "callback rejected");
            let stored = tokio::time::timeout(
                deadline,
                store_rejected_call(pool, provider, raw, &reason, err.signature_verified()),
            )
            .await;
            match stored {
                Ok(Ok(())) => (Outcome::Refused, "rejected"),
                // Not even the refusal could be kept: let the provider send it again.
                _ => (Outcome::RetryLater, "retry_later"),
            }
        }
    };
    metrics::counter!("custody_callbacks_total", "account" => account.to_owned(), "result" => label)
        .increment(1);
    provider.reply(raw, outcome)
}

/// Stores a call's events, or says why the provider must send it again.
async fn store(
    writer: &CallbackWriter,
    provider: &dyn Provider,
    raw: &RawCallback,
    events: Vec<crate::providers::ProviderEvent>,
    verified: bool,
    deadline: Duration,
) -> Outcome {
    let account = provider.account_id();
    match tokio::time::timeout(
        deadline,
        store_events(writer, provider, raw, events, verified),
    )
    .await
    {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(err)) => {
            tracing::error!(account, error = %err, "callback could not be stored; asking the provider to retry");
            Outcome::RetryLater
        }
        Err(_) => {
            tracing::error!(
                account,
                "the database did not answer in time; asking the provider to retry"
            );
            Outcome::RetryLater
        }
    }
}

/// The metric label for a stored (or not) call.
fn processed_label(outcome: Outcome, stored: &'static str) -> &'static str {
    match outcome {
        Outcome::Stored | Outcome::Duplicate => stored,
        Outcome::Refused => "rejected",
        _ => "retry_later",
    }
}
