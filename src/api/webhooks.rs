//! Merchant webhook controls and the event log (`/v1/webhook`, `/v1/events`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::openapi::{ErrorBody, EventPage};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::Merchant;
use crate::api::extract::{JsonBody, QueryParams};
use crate::error::ApiError;
use crate::orders::merchants::new_webhook_secret;
use crate::store::webhooks::{self, Delivery};
use crate::webhooks::endpoint;
use crate::webhooks::send::Sender;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webhook", put(set_endpoint).get(get_endpoint))
        .route("/v1/webhook/rotate-secret", post(rotate_secret))
        .route("/v1/webhook/test", post(send_test))
        .route("/v1/events", get(list_events))
        .route("/v1/events/{id}", get(get_event))
        .route("/v1/events/{id}/redeliver", post(redeliver))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SetEndpoint {
    url: String,
}

#[utoipa::path(put, path = "/v1/webhook", tag = "webhooks", request_body = SetEndpoint,
    responses((status = 200, description = "`{webhook: {url, enabled, …}}`"), (status = 400, body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
pub(crate) async fn set_endpoint(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    JsonBody(body): JsonBody<SetEndpoint>,
) -> Result<Json<Value>, ApiError> {
    let url = endpoint::check(&body.url, state.settings.webhooks.allow_private_addresses)
        .await
        .map_err(|err| ApiError::bad_request("invalid_webhook_url", err.to_string()))?;
    let endpoint = webhooks::set_endpoint(&state.pool, merchant.id, url.as_str()).await?;
    Ok(Json(json!({ "webhook": endpoint })))
}

#[utoipa::path(get, path = "/v1/webhook", tag = "webhooks", responses((status = 200, description = "`{webhook: {url, enabled, …}}`"), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
pub(crate) async fn get_endpoint(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
) -> Result<Json<Value>, ApiError> {
    let endpoint = webhooks::endpoint(&state.pool, merchant.id).await?;
    Ok(Json(json!({ "webhook": endpoint })))
}

#[utoipa::path(post, path = "/v1/webhook/rotate-secret", tag = "webhooks",
    responses((status = 200, description = "`{webhook_secret, previous_secret_valid_until}`"), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
/// A new secret; the old one keeps signing beside it for the configured overlap (24 h by default).
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
) -> Result<Json<Value>, ApiError> {
    let secret = new_webhook_secret();
    let overlap = state.settings.webhooks.rotation_overlap_secs as i64;
    let previous_until =
        webhooks::rotate_secret(&state.pool, merchant.id, &secret, overlap).await?;
    tracing::info!(merchant = %merchant.id, "webhook secret rotated");
    Ok(Json(
        json!({ "webhook_secret": secret, "previous_secret_valid_until": previous_until }),
    ))
}

#[utoipa::path(post, path = "/v1/webhook/test", tag = "webhooks",
    responses((status = 200, description = "`{id, delivered, status_code, latency_ms, response_body, error}`"), (status = 400, body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
/// Sends a signed `ping` now and returns the endpoint's answer; nothing is stored or retried.
pub(crate) async fn send_test(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
) -> Result<Json<Value>, ApiError> {
    let url = merchant.webhook_url.clone().ok_or_else(|| {
        ApiError::bad_request(
            "no_webhook_url",
            "set a webhook URL first (PUT /v1/webhook)",
        )
    })?;
    let id = Uuid::now_v7();
    let body = json!({ "id": id, "type": "ping", "created_at": chrono::Utc::now(), "data": {} })
        .to_string();
    let outcome = Sender::new(&state.settings.webhooks)
        .send(
            &url,
            &id.to_string(),
            &body,
            &[merchant.webhook_secret.as_str()],
        )
        .await;
    Ok(Json(json!({
        "id": id,
        "delivered": outcome.delivered(),
        "status_code": outcome.status,
        "latency_ms": outcome.latency_ms,
        "response_body": outcome.response_body,
        "error": outcome.error,
    })))
}

#[derive(Deserialize)]
pub(crate) struct EventQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

fn event_view(delivery: &Delivery) -> Value {
    json!({
        "event": delivery.payload,
        "delivery": {
            "state": delivery.state,
            "attempts": delivery.attempts,
            "next_attempt_at": (delivery.state == "pending").then_some(delivery.next_attempt_at),
            "last_error": delivery.last_error,
            "delivered_at": delivery.delivered_at,
        },
    })
}

#[utoipa::path(get, path = "/v1/events", tag = "webhooks",
    params(("type" = Option<String>, Query), ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
/// Every event of this merchant, oldest first; `next_cursor` continues (empty when caught up).
pub(crate) async fn list_events(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    QueryParams(query): QueryParams<EventQuery>,
) -> Result<Json<Value>, ApiError> {
    let after = match &query.cursor {
        Some(cursor) => Some(
            Uuid::parse_str(cursor)
                .map_err(|_| ApiError::bad_request("invalid_cursor", "cursor is not valid"))?,
        ),
        None => None,
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 500",
        ));
    }
    let rows = webhooks::list_events(
        &state.pool,
        merchant.id,
        query.event_type.as_deref(),
        after,
        limit,
    )
    .await?;
    let next_cursor = rows.last().map(|r| r.id).or(after);
    let data: Vec<Value> = rows.iter().map(event_view).collect();
    Ok(Json(json!({ "data": data, "next_cursor": next_cursor })))
}

#[utoipa::path(get, path = "/v1/events/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, description = "the event, its delivery and every attempt"), (status = 404, body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
pub(crate) async fn get_event(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("event"))?;
    let row = webhooks::find_event(&state.pool, merchant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    let attempts = webhooks::list_attempts(&state.pool, id).await?;
    let mut view = event_view(&row);
    view["attempts"] = json!(attempts);
    Ok(Json(view))
}

#[utoipa::path(post, path = "/v1/events/{id}/redeliver", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 202, description = "`{id, state: pending}`"), (status = 404, body = ErrorBody), (status = 401, description = "missing or unknown API key", body = ErrorBody)))]
pub(crate) async fn redeliver(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("event"))?;
    if !webhooks::redeliver(&state.pool, merchant.id, id).await? {
        return Err(ApiError::not_found("event"));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "state": "pending" })),
    ))
}
