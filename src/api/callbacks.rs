//! `POST /callbacks/{account_id}`: provider notifications, verified on the raw bytes as received.

use std::net::SocketAddr;

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
use crate::orders::approvals::{handle_approval_call, refuse_caller};
use crate::orders::ingest::ingest_callback;
use crate::providers::RawCallback;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/callbacks/{account_id}", post(receive))
        .route("/callbacks/{account_id}/cosigner", post(approval))
}

async fn receive(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let provider = match account(&state, &account_id) {
        Ok(provider) => provider,
        Err(err) => return err.into_response(),
    };
    let raw = RawCallback { headers, body };
    let deadline = std::time::Duration::from_millis(state.settings.database.callback_timeout_ms);
    let result = ingest_callback(&state.pool, provider.as_ref(), &raw, deadline).await;
    provider.ack(result)
}

/// A provider's signer asking whether to sign a withdrawal (ChainUp Co-Signer). Only a caller
/// holding the account's token, from an allowed network, is heard; any other call is recorded as
/// refused and changes nothing.
async fn approval(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let provider = match account(&state, &account_id) {
        Ok(provider) if provider.takes_approvals() => provider,
        Ok(_) => return ApiError::not_found("approval endpoint").into_response(),
        Err(err) => return err.into_response(),
    };
    let raw = RawCallback { headers, body };
    let source = source_address(peer, &raw.headers, &state.settings.server.trusted_proxies);
    let verdict = match state.approval_guards.get(&account_id) {
        Some(guard) => guard.check(source, &raw.headers, query.as_deref()),
        None => Err(CallerRefusal::NoTokenConfigured),
    };
    if let Err(refusal) = verdict {
        refuse_caller(&state.pool, provider.as_ref(), &raw, source, &refusal).await;
        return ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "unauthorized",
            "approval calls need the account's token: Authorization: Bearer <token> or ?token=<token>",
        )
        .into_response();
    }
    let deadline = std::time::Duration::from_millis(state.settings.database.callback_timeout_ms);
    handle_approval_call(&state.pool, provider.as_ref(), &raw, deadline).await
}
