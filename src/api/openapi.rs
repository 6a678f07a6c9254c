//! The merchant API's OpenAPI description: `GET /openapi.json`, and a reader at `/docs`. Paths are
//! declared on the handlers themselves; the shapes that handlers build as JSON are described here.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_scalar::{Scalar, Servable};

use crate::AppState;
use crate::api::{merchant, webhooks};
use crate::orders::views::{AddressView, DepositView, ErrorView, WithdrawalView};
use crate::store::transitions::TransitionRow;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "custody-gateway merchant API",
        description = "One API over several crypto custody providers. Amounts are decimal strings; \
                       times are RFC 3339 UTC. Webhooks are signed as Standard Webhooks; see \
                       docs/webhooks.md for every event type."
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
        webhooks::set_endpoint,
        webhooks::get_endpoint,
        webhooks::rotate_secret,
        webhooks::send_test,
        webhooks::list_events,
        webhooks::get_event,
        webhooks::redeliver,
    ),
    components(schemas(
        AddressView, DepositView, WithdrawalView, TransitionRow, ErrorView, ErrorBody, ErrorDetail,
        AddressList, DepositPage, WithdrawalPage, EventPage, Validation, AssetList,
    )),
    modifiers(&BearerKey),
    security(("api_key" = [])),
)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(spec))
        .merge(Scalar::with_url("/docs", ApiDoc::openapi()))
}

async fn spec() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Every error: a machine-readable code, a message, and details where they help.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    #[schema(example = "amount_precision")]
    pub code: String,
    pub message: String,
    pub details: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AddressList {
    pub data: Vec<AddressView>,
}

#[derive(Serialize, ToSchema)]
pub struct DepositPage {
    pub data: Vec<DepositView>,
    /// Pass back as `cursor` for the next page; null at the end.
    pub next_cursor: Option<uuid::Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct WithdrawalPage {
    pub data: Vec<WithdrawalView>,
    pub next_cursor: Option<uuid::Uuid>,
}

/// The event log: each event as delivered by webhook, with its delivery state.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// `{event: {id, type, created_at, sequence, data}, delivery: {state, attempts, …}}`
    pub data: Vec<Value>,
    /// The last event listed; pass back as `cursor` to continue.
    pub next_cursor: Option<uuid::Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct Validation {
    pub valid: bool,
    /// The provider account that checked it, or `local_rules`.
    pub checked_by: String,
}

#[derive(Serialize, ToSchema)]
pub struct AssetList {
    /// `{provider, chain, asset, decimals}` for each asset each account serves.
    pub data: Vec<Value>,
}
