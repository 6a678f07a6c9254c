//! Merchant webhook controls and the event log (`/v1/webhook`, `/v1/events`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::Merchant;
use crate::api::extract::{JsonBody, QueryParams};
use crate::api::shapes::{
    DeliveryState, DeliveryStatus, ErrorBody, EventDetail, EventPage, EventType, EventView,
    Redelivery, SecretRotation, TestDelivery, WebhookSettings,
};
use crate::error::ApiError;
use crate::orders::merchants::new_webhook_secret;
use crate::store::merchants;
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetEndpoint {
    /// An absolute `http` or `https` URL without credentials, to a host name (letters, digits and
    /// hyphens) or an IPv4 address; a bracketed IPv6 address works too.
    /// Unless the gateway allows private addresses (simulator mode does), the host must resolve,
    /// and only to public addresses.
    #[schema(
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://(([A-Za-z0-9-]+\.)*[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9-]*|((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))(:[0-9]{1,4})?([/?#].*)?$",
        example = "https://merchant.example/hooks"
    )]
    url: String,
}

#[utoipa::path(put, path = "/v1/webhook", tag = "webhooks", request_body = SetEndpoint,
    responses((status = 200, description = "the endpoint, enabled", body = WebhookSettings),
              (status = 400, description = "not an acceptable URL (`invalid_webhook_url`) or invalid input", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 413, description = "the body is too large", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
/// Sets the endpoint every event is delivered to, and turns delivery back on after a 410 Gone.
pub(crate) async fn set_endpoint(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    JsonBody(body): JsonBody<SetEndpoint>,
) -> Result<Json<WebhookSettings>, ApiError> {
    let url = endpoint::check(&body.url, state.settings.webhooks.allow_private_addresses)
        .await
        .map_err(|err| ApiError::bad_request("invalid_webhook_url", err.to_string()))?;
    let webhook = webhooks::set_endpoint(&state.pool, merchant.id, url.as_str()).await?;
    Ok(Json(WebhookSettings { webhook }))
}

#[utoipa::path(get, path = "/v1/webhook", tag = "webhooks",
    responses((status = 200, description = "the endpoint and whether it is disabled", body = WebhookSettings),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn get_endpoint(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
) -> Result<Json<WebhookSettings>, ApiError> {
    let webhook = webhooks::endpoint(&state.pool, merchant.id).await?;
    Ok(Json(WebhookSettings { webhook }))
}

#[utoipa::path(post, path = "/v1/webhook/rotate-secret", tag = "webhooks",
    responses((status = 200, description = "the new secret, shown once", body = SecretRotation),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
/// A new secret; the old one keeps signing beside it for the configured overlap (24 h by default).
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
) -> Result<Json<SecretRotation>, ApiError> {
    let secret = new_webhook_secret();
    let overlap = state.settings.webhooks.rotation_overlap_secs as i64;
    let previous_until =
        webhooks::rotate_secret(&state.pool, merchant.id, &secret, overlap).await?;
    tracing::info!(merchant = %merchant.id, "webhook secret rotated");
    Ok(Json(SecretRotation {
        webhook_secret: secret,
        previous_secret_valid_until: previous_until,
    }))
}

#[utoipa::path(post, path = "/v1/webhook/test", tag = "webhooks",
    responses((status = 200, description = "how the endpoint answered (also when it did not: see `delivered`)", body = TestDelivery),
              (status = 400, description = "no webhook URL is set (`no_webhook_url`)", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
/// Sends a signed `ping` now and returns the endpoint's answer; nothing is stored or retried.
pub(crate) async fn send_test(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
) -> Result<Json<TestDelivery>, ApiError> {
    let merchant = merchants::find_merchant(&state.pool, merchant.id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
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
    Ok(Json(TestDelivery {
        id,
        delivered: outcome.delivered(),
        status_code: outcome.status,
        latency_ms: outcome.latency_ms,
        response_body: outcome.response_body,
        error: outcome.error,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventQuery {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<EventType>, inline)]
    event_type: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    cursor: Option<String>,
    /// Events per page, 100 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

fn event_view(delivery: &Delivery) -> EventView {
    EventView {
        event: delivery.payload.clone(),
        delivery: delivery_status(delivery),
    }
}

fn delivery_status(delivery: &Delivery) -> DeliveryStatus {
    DeliveryStatus {
        state: delivery.state.clone(),
        attempts: delivery.attempts,
        next_attempt_at: (delivery.state == "pending").then_some(delivery.next_attempt_at),
        last_error: delivery.last_error.clone(),
        delivered_at: delivery.delivered_at,
    }
}

#[utoipa::path(get, path = "/v1/events", tag = "webhooks", params(EventQuery),
    responses((status = 200, description = "the next events, oldest first", body = EventPage),
              (status = 400, description = "invalid query (`invalid_query`, `invalid_cursor`)", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
/// Every event of this merchant, oldest first; `next_cursor` continues (empty when caught up).
pub(crate) async fn list_events(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    QueryParams(query): QueryParams<EventQuery>,
) -> Result<Json<EventPage>, ApiError> {
    if let Some(wanted) = &query.event_type
        && EventType::parse(wanted).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "type is not an event type (see docs/webhooks.md)",
        ));
    }
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
    Ok(Json(EventPage {
        data: rows.iter().map(event_view).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/events/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "the event id")),
    responses((status = 200, description = "the event, its delivery and every attempt", body = EventDetail),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 404, description = "no such event (or another merchant's)", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn get_event(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<EventDetail>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("event"))?;
    let row = webhooks::find_event(&state.pool, merchant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    let attempts = webhooks::list_attempts(&state.pool, id).await?;
    Ok(Json(EventDetail {
        event: row.payload.clone(),
        delivery: delivery_status(&row),
        attempts,
    }))
}

#[utoipa::path(post, path = "/v1/events/{id}/redeliver", tag = "webhooks",
    params(("id" = Uuid, Path, description = "the event id")),
    responses((status = 202, description = "queued to be sent again now, on a fresh retry schedule", body = Redelivery),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 404, description = "no such event (or another merchant's)", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody)))]
pub(crate) async fn redeliver(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Redelivery>), ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("event"))?;
    if !webhooks::redeliver(&state.pool, merchant.id, id).await? {
        return Err(ApiError::not_found("event"));
    }
    state.outbox_wake.committed();
    Ok((
        StatusCode::ACCEPTED,
        Json(Redelivery {
            id,
            state: DeliveryState::Pending,
        }),
    ))
}
