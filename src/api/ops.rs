//! `/ops`: what an operator needs to look up any order, callback or event (separate bearer token).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::api::account;
use crate::api::auth::Operator;
use crate::api::extract::QueryParams;
use crate::error::ApiError;
use crate::orders::ingest::record_asked_event;
use crate::orders::views::{DepositView, WithdrawalView};
use crate::store::{callbacks, deposits, transitions, webhooks, withdrawals};
use crate::workers::pollers::{PollError, poll_account};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops/orders", get(search_orders))
        .route("/ops/orders/{id}", get(order))
        .route(
            "/ops/withdrawals/{id}/reconcile",
            post(reconcile_withdrawal),
        )
        .route("/ops/accounts/{id}/poll", post(poll_now))
        .route("/ops/callbacks", get(list_callbacks))
        .route("/ops/events", get(list_events))
        .route(
            "/ops/withdrawals/attention",
            get(withdrawals_needing_attention),
        )
        .route("/ops/accounts", get(accounts))
        .route("/ops/accounts/{id}/assets", get(account_assets))
        .route("/ops/webhooks", get(list_deliveries))
        .route("/ops/webhooks/replay", post(replay_webhooks))
}

/// A deposit or withdrawal by id, with its transitions and the provider events behind them.
async fn order(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("order"))?;
    let order = if let Some(row) = deposits::find(&state.pool, id).await? {
        json!({ "kind": "deposit", "merchant_id": row.merchant_id, "order": DepositView::from(&row),
                "review_reason": row.review_reason })
    } else if let Some(row) = withdrawals::find(&state.pool, id).await? {
        json!({ "kind": "withdrawal", "merchant_id": row.merchant_id, "order": WithdrawalView::from(&row),
                "review_reason": row.review_reason,
                "provider_error": { "code": row.provider_error_code, "text": row.provider_error } })
    } else {
        return Err(ApiError::not_found("order"));
    };
    let history = transitions::list_for_order(&state.pool, id).await?;
    let events = callbacks::list_events(&state.pool, None, Some(id), 200).await?;
    Ok(Json(
        json!({ "order": order, "history": history, "events": events }),
    ))
}

#[derive(Deserialize)]
struct SearchQuery {
    /// A transaction hash, address, client order id or provider request id.
    q: String,
}

/// Every deposit and withdrawal the term names, newest first.
async fn search_orders(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let term = query.q.trim();
    if term.is_empty() {
        return Err(ApiError::bad_request("invalid_query", "q is required"));
    }
    let mut data: Vec<Value> = deposits::search(&state.pool, term, 100)
        .await?
        .iter()
        .map(|row| json!({ "kind": "deposit", "merchant_id": row.merchant_id, "order": DepositView::from(row) }))
        .collect();
    data.extend(
        withdrawals::search(&state.pool, term, 100)
            .await?
            .iter()
            .map(|row| json!({ "kind": "withdrawal", "merchant_id": row.merchant_id, "order": WithdrawalView::from(row) })),
    );
    Ok(Json(json!({ "data": data })))
}

/// Asks the provider where a withdrawal stands and applies the answer as a polled event.
async fn reconcile_withdrawal(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("withdrawal"))?;
    let row = withdrawals::find(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("withdrawal"))?;
    let provider = account(&state, &row.account_id)?;
    let event = provider.withdrawal_status(&row.provider_request_id).await?;
    let applied = match &event {
        Some(event) => record_asked_event(&state.pool, &row.account_id, "ops", event).await?,
        None => false,
    };
    let row = withdrawals::find(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("withdrawal"))?;
    Ok(Json(json!({
        "provider_status": event.as_ref().map(|e| e.provider_status.clone()),
        "new_event": applied,
        "withdrawal": WithdrawalView::from(&row),
    })))
}

/// Runs one poll round for the account now (feeds, confirmations, open withdrawals).
async fn poll_now(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let provider = account(&state, &id)?;
    if provider.feeds().is_empty() {
        return Err(ApiError::bad_request(
            "not_polled",
            "this provider pushes everything; there is nothing to poll",
        ));
    }
    match poll_account(&state, provider.as_ref()).await {
        Ok(report) => Ok(Json(json!({ "report": report }))),
        Err(PollError::Database(err)) => Err(err.into()),
        Err(PollError::Provider(err)) => Err(err.into()),
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    account: Option<String>,
    outcome: Option<String>,
    limit: Option<i64>,
}

async fn list_callbacks(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<CallbackQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let rows = callbacks::list_callbacks(
        &state.pool,
        query.account.as_deref(),
        query.outcome.as_deref(),
        limit,
    )
    .await?;
    Ok(Json(json!({ "data": rows })))
}

#[derive(Deserialize)]
struct EventQuery {
    /// applied | stale | unknown_status | orphan | needs_review | invalid | approved | refused | noted
    outcome: Option<String>,
    limit: Option<i64>,
}

async fn list_events(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<EventQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let rows = callbacks::list_events(&state.pool, query.outcome.as_deref(), None, limit).await?;
    Ok(Json(json!({ "data": rows })))
}

/// Flagged withdrawals, and those not terminal for over 30 minutes.
async fn withdrawals_needing_attention(
    State(state): State<AppState>,
    _: Operator,
) -> Result<Json<Value>, ApiError> {
    let rows = withdrawals::list_needing_attention(&state.pool, 30 * 60).await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({ "merchant_id": row.merchant_id, "withdrawal": WithdrawalView::from(row),
                           "review_reason": row.review_reason })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

async fn accounts(State(state): State<AppState>, _: Operator) -> Json<Value> {
    let data: Vec<Value> = state
        .registry
        .all()
        .map(|p| {
            json!({ "id": p.account_id(), "kind": p.kind().as_str(), "assets": p.assets(),
                         "callback_url": state.callback_url(p.account_id()) })
        })
        .collect();
    Json(json!({ "data": data }))
}

/// The coins the provider reports right now, each with the chain/asset it maps to here.
async fn account_assets(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let provider = account(&state, &id)?;
    let assets = provider.supported_assets().await?;
    Ok(Json(json!({ "data": assets })))
}

#[derive(Deserialize)]
struct DeliveryQuery {
    merchant: Option<Uuid>,
    /// pending | delivered | failed
    state: Option<String>,
    limit: Option<i64>,
}

async fn list_deliveries(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<DeliveryQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let rows =
        webhooks::list_deliveries(&state.pool, query.merchant, query.state.as_deref(), limit)
            .await?;
    Ok(Json(json!({ "data": rows })))
}

#[derive(Deserialize)]
struct ReplayQuery {
    merchant: Option<Uuid>,
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Which deliveries to send again; `failed` by default.
    state: Option<String>,
}

/// Sends failed deliveries again, on a fresh retry schedule.
async fn replay_webhooks(
    State(state): State<AppState>,
    _: Operator,
    QueryParams(query): QueryParams<ReplayQuery>,
) -> Result<Json<Value>, ApiError> {
    let which = query.state.as_deref().unwrap_or("failed");
    if !matches!(which, "failed" | "delivered") {
        return Err(ApiError::bad_request(
            "invalid_query",
            "state must be failed or delivered",
        ));
    }
    let replayed = webhooks::replay(&state.pool, query.merchant, query.since, which).await?;
    tracing::info!(
        replayed,
        state = which,
        "webhook deliveries queued again by an operator"
    );
    Ok(Json(json!({ "replayed": replayed })))
}
