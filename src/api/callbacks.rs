//! `POST /callbacks/{account_id}`: provider notifications, verified on the raw bytes as received.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::AppState;
use crate::api::account;
use crate::orders::approvals::handle_approval_call;
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
    let result = ingest_callback(&state.pool, provider.as_ref(), &raw).await;
    provider.ack(result)
}

/// A provider's signer asking whether to sign a withdrawal (ChainUp Co-Signer).
async fn approval(
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
    handle_approval_call(&state.pool, provider.as_ref(), &raw).await
}
