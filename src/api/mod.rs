//! HTTP routers: merchant API (`/v1`), provider callbacks (`/callbacks`), ops (`/ops`), health.

pub mod auth;
pub mod callbacks;
pub mod caller;
pub mod error_shape;
pub mod extract;
pub mod health;
pub mod known_keys;
pub mod merchant;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod ops_shapes;
pub mod outside_addresses;
pub mod shapes;
pub mod webhooks;

use axum::Router;
use axum::http::{HeaderName, Request};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use std::sync::Arc;

use crate::error::ApiError;
use crate::providers::Provider;
use crate::server::deadlines::Deadlines;
use crate::{AppState, server};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn router(state: AppState) -> Router {
    let deadlines = Deadlines {
        body: server::limit(state.settings.server.body_read_timeout_ms),
        request: server::limit(state.settings.server.request_timeout_ms),
    };
    Router::new()
        .merge(merchant::router())
        .merge(outside_addresses::router())
        .merge(webhooks::router())
        .merge(callbacks::router())
        .merge(ops::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .fallback(|| async { ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                        let request_id = request
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id, merchant = tracing::field::Empty)
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(axum::middleware::from_fn(error_shape::json_errors))
                .layer(axum::middleware::from_fn(move |request, next| {
                    server::deadlines::enforce(deadlines, request, next)
                }))
                .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES)),
        )
}

/// The configured provider account `id`, or a 404.
fn account(state: &AppState, id: &str) -> Result<Arc<dyn Provider>, ApiError> {
    state
        .registry
        .get(id)
        .ok_or_else(|| ApiError::not_found("provider account"))
}
