//! The OpenAPI descriptions: the merchant API at `GET /openapi.json` and the ops API at
//! `GET /ops/openapi.json`, readable at `/docs` and `/ops/docs`. Paths are declared on the handlers
//! themselves; the shapes they answer with are in `shapes` and `ops_shapes`. What depends on the
//! configuration (the chains, assets and accounts this gateway serves) is filled in when a
//! description is served (`served`), so that a request the description allows is one the API
//! accepts.
//!
//! Both descriptions are public, like the API reference of any product: they hold the API's shape
//! and the names of the configured provider accounts and assets, no data and no secret. Every
//! operation they describe still needs its credentials.

pub mod docs;
mod served;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;
use crate::api::{merchant, ops, outside_addresses, webhooks};
use crate::orders::views::{AddressView, DepositView, WithdrawalView};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "custody-gateway merchant API",
        description = "One API over several crypto custody providers. Amounts are decimal strings; \
                       times are RFC 3339 UTC. Every error has the `ErrorBody` shape. Webhooks are \
                       signed as Standard Webhooks; see docs/webhooks.md for every event type. The \
                       chains, assets and provider accounts listed here are this gateway's own."
    ),
    paths(
        merchant::create_address,
        merchant::list_addresses,
        merchant::validate_address,
        merchant::create_withdrawal,
        merchant::find_withdrawals,
        merchant::get_withdrawal,
        merchant::list_deposits,
        merchant::get_deposit,
        merchant::list_assets,
        outside_addresses::watch_address,
        outside_addresses::verify_ownership,
        webhooks::set_endpoint,
        webhooks::get_endpoint,
        webhooks::rotate_secret,
        webhooks::send_test,
        webhooks::list_events,
        webhooks::get_event,
        webhooks::redeliver,
    ),
    // Named by the shapes that refer to them by name (an event's data is one of them).
    components(schemas(AddressView, DepositView, WithdrawalView)),
    modifiers(&ApiKey),
    security(("api_key" = [])),
)]
pub struct MerchantDoc;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "custody-gateway ops API",
        description = "What an operator needs to look up any order, callback, event or webhook \
                       delivery, and to act on them. Authenticated by the ops token \
                       (`Authorization: Bearer <ops token>`)."
    ),
    paths(
        ops::search_orders,
        ops::order,
        ops::reconcile_withdrawal,
        ops::poll_now,
        ops::release_deposit,
        ops::reject_deposit,
        ops::list_callbacks,
        ops::list_events,
        ops::withdrawals_needing_attention,
        ops::accounts,
        ops::account_assets,
        ops::refresh_account,
        ops::renotify_order,
        ops::sweep_now,
        ops::list_sweeps,
        ops::list_balances,
        ops::list_deliveries,
        ops::replay_webhooks,
    ),
    // Named by the shapes that refer to them by name (an order is one or the other).
    components(schemas(DepositView, WithdrawalView)),
    modifiers(&OpsToken),
    security(("ops_token" = [])),
)]
pub struct OpsDoc;

/// The merchant's API key, as a bearer token.
struct ApiKey;

impl Modify for ApiKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        add_bearer_scheme(openapi, "api_key");
    }
}

/// The ops token, as a bearer token.
struct OpsToken;

impl Modify for OpsToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        add_bearer_scheme(openapi, "ops_token");
    }
}

fn add_bearer_scheme(openapi: &mut utoipa::openapi::OpenApi, name: &str) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        name,
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(merchant_spec))
        .route("/ops/openapi.json", get(ops_spec))
        .merge(docs::router())
}

async fn merchant_spec(State(state): State<AppState>) -> Json<Value> {
    Json(served::merchant(&state))
}

async fn ops_spec(State(state): State<AppState>) -> Json<Value> {
    Json(served::ops(&state))
}
