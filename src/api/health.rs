use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::AppState;
use crate::store;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> &'static str {
    "ok"
}

/// The longest `/readyz` waits for the database: a probe must hear "not ready" promptly.
const READY_WITHIN: Duration = Duration::from_millis(900);

/// Ready when the database answers, within a second.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let probe = store::ping(&state.pool);
    match tokio::time::timeout(READY_WITHIN, probe).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready"),
        Ok(Err(_)) | Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}
