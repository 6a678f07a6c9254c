//! One call from a provider, end to end: its adapter reads (and verifies) it, the core stores what it
//! says or decides what it asks, and only then is the provider's own reply built.

use std::time::Duration;

use sqlx::PgPool;

use crate::orders::approvals::decide_approval;
use crate::orders::ingest::{store_events, store_rejected_call};
use crate::providers::{CallbackError, Inbound, Outcome, Provider, ProviderReply, RawCallback};

/// Answers one call. Storing waits at most `deadline` on the database; past it the provider is
/// asked to send again (a duplicate of anything that did commit is harmless).
pub async fn receive(
    pool: &PgPool,
    provider: &dyn Provider,
    raw: &RawCallback,
    deadline: Duration,
) -> ProviderReply {
    let account = provider.account_id();
    let outcome = match provider.read_callback(raw).await {
        Ok(Inbound::Answered(reply)) => return reply,
        Ok(Inbound::Approval(request)) => {
            return provider.reply(
                raw,
                decide_approval(pool, provider, raw, &request, deadline).await,
            );
        }
        Ok(Inbound::Events(events)) => {
            match tokio::time::timeout(deadline, store_events(pool, provider, raw, &events)).await {
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
        Err(CallbackError::Unavailable(why)) => {
            tracing::warn!(account, reason = %why, "callback not confirmed with the provider; asking it to retry");
            Outcome::RetryLater
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
                Ok(Ok(())) => Outcome::Refused,
                // Not even the refusal could be kept: let the provider send it again.
                _ => Outcome::RetryLater,
            }
        }
    };
    let label = match outcome {
        Outcome::Stored | Outcome::Duplicate => "processed",
        Outcome::Refused => "rejected",
        _ => "retry_later",
    };
    metrics::counter!("custody_callbacks_total", "account" => account.to_owned(), "result" => label)
        .increment(1);
    provider.reply(raw, outcome)
}
