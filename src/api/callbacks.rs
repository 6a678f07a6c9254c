//! `POST /callbacks/{account_id}` (notifications) and `/callbacks/{account_id}/approvals` (a
//! signer asking before it signs): whatever a provider POSTs, verified on the raw bytes as received.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::AppState;
use crate::api::account;
use crate::api::caller::{CallerRefusal, source_address};
use crate::error::ApiError;
use crate::orders::approvals::refuse_caller;
use crate::orders::inbound;
use crate::providers::{ApprovalEndpoint, Endpoint, RawCallback};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/callbacks/{account_id}", post(receive))
        .route("/callbacks/{account_id}/approvals", post(approval))
        // The name Co-Signer deployments were first given.
        .route("/callbacks/{account_id}/cosigner", post(approval))
}

/// How long a provider call may wait on the database.
fn deadline(state: &AppState) -> Duration {
    Duration::from_millis(state.settings.database.callback_timeout_ms)
}

async fn receive(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let provider = match account(&state, &account_id) {
        Ok(provider) => provider,
        Err(err) => return err.into_response(),
    };
    let raw = RawCallback {
        endpoint: Endpoint::Callbacks,
        public_url: state.callback_url(&account_id),
        query,
        headers,
        body,
    };
    let reply = inbound::receive(&state, provider.as_ref(), &raw, deadline(&state)).await;
    // Whatever it stored is committed by now.
    state.outbox_wake.committed();
    reply.into_response()
}

/// A provider asking whether to pay a withdrawal out. A signer whose calls prove nothing (ChainUp
/// Co-Signer) is heard only with the account's token, from an allowed network; any other call is
/// recorded as refused and changes nothing. A provider whose protocol authenticates its calls is
/// checked by its adapter.
async fn approval(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let provider = match account(&state, &account_id) {
        Ok(provider) => provider,
        Err(err) => return err.into_response(),
    };
    let raw = RawCallback {
        endpoint: Endpoint::Approvals,
        public_url: format!("{}/approvals", state.callback_url(&account_id)),
        query: query.clone(),
        headers,
        body,
    };
    let verdict = match provider.approvals() {
        ApprovalEndpoint::None => {
            return ApiError::not_found("approval endpoint").into_response();
        }
        // The adapter authenticates the call by the provider's own protocol.
        ApprovalEndpoint::Provider => Ok(()),
        ApprovalEndpoint::Token => {
            let source = source_address(peer, &raw.headers, &state.settings.server.trusted_proxies);
            match state.approval_guards.get(&account_id) {
                Some(guard) => guard.check(source, &raw.headers, query.as_deref()),
                None => Err(CallerRefusal::NoTokenConfigured),
            }
            .map_err(|refusal| (source, refusal))
        }
    };
    if let Err((source, refusal)) = verdict {
        refuse_caller(&state.pool, provider.as_ref(), &raw, source, &refusal).await;
        return ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "unauthorized",
            "approval calls need the account's token: Authorization: Bearer <token> or ?token=<token>",
        )
        .into_response();
    }
    let reply = inbound::receive(&state, provider.as_ref(), &raw, deadline(&state)).await;
    // Whatever it stored is committed by now.
    state.outbox_wake.committed();
    reply.into_response()
}
