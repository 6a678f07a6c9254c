//! `GET /metrics` (ops token): counters and latencies recorded as things happen, plus the backlog
//! read from the database at each scrape, in the Prometheus text format.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;
use crate::api::auth::Operator;
use crate::error::ApiError;
use crate::store::backlog::backlog;
use crate::store::treasury::collection_balances;
use crate::telemetry::metrics_handle;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(state): State<AppState>, _: Operator) -> Result<impl IntoResponse, ApiError> {
    let backlog = backlog(&state.pool).await?;
    for (name, value) in [
        ("custody_webhooks_pending", backlog.webhooks_pending as f64),
        ("custody_webhooks_failed", backlog.webhooks_failed as f64),
        (
            "custody_oldest_pending_webhook_seconds",
            backlog.oldest_pending_webhook_secs,
        ),
        (
            "custody_withdrawals_unknown",
            backlog.withdrawals_unknown as f64,
        ),
        (
            "custody_withdrawals_needing_review",
            backlog.withdrawals_needing_review as f64,
        ),
        (
            "custody_deposits_needing_review",
            backlog.deposits_needing_review as f64,
        ),
        (
            "custody_deposits_awaiting_confirmation",
            backlog.deposits_awaiting_confirmation as f64,
        ),
    ] {
        metrics::gauge!(name).set(value);
    }
    for (account, chain, asset, amount) in collection_balances(&state.pool).await? {
        // A gauge is a float: close enough to watch a wallet run dry, never used for money.
        let value = amount.to_string().parse::<f64>().unwrap_or(f64::NAN);
        metrics::gauge!("custody_collection_wallet_balance", "account" => account, "chain" => chain, "asset" => asset)
            .set(value);
    }
    let handle = metrics_handle();
    handle.run_upkeep();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    ))
}
