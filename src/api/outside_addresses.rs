//! `/v1` calls about addresses that are not the merchant's deposit addresses: watching an outside
//! address through a provider, and checking a signed message proves who owns one. Only accounts
//! that list the capability in `/v1/assets` can; elsewhere the answer is 422 `unsupported`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::Merchant;
use crate::api::extract::JsonBody;
use crate::api::shapes::ErrorBody;
use crate::domain::address_rules;
use crate::error::ApiError;
use crate::providers::{Capability, Provider, ProviderError};
use crate::store::treasury;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/watch-addresses", post(watch_address))
        .route("/v1/addresses/verify-ownership", post(verify_ownership))
}

/// The account to ask: the named one, or the first serving the chain that can.
fn capable_account(
    state: &AppState,
    chain: &str,
    named: Option<&str>,
    capability: Capability,
) -> Result<Arc<dyn Provider>, ApiError> {
    let serves = |p: &Arc<dyn Provider>| p.assets().iter().any(|a| a.chain == chain);
    let unsupported =
        |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unsupported", message);
    match named {
        Some(name) => {
            let provider = state.registry.get(name).ok_or_else(|| {
                ApiError::bad_request(
                    "unknown_provider",
                    format!("no provider account named {name:?}"),
                )
            })?;
            if !serves(&provider) {
                return Err(ApiError::bad_request(
                    "unsupported_asset",
                    format!("provider account {name:?} does not serve {chain}"),
                ));
            }
            if !provider.capabilities().contains(&capability) {
                return Err(unsupported(format!(
                    "provider account {name:?} cannot do this"
                )));
            }
            Ok(provider)
        }
        None => state
            .registry
            .all()
            .find(|p| serves(p) && p.capabilities().contains(&capability))
            .cloned()
            .ok_or_else(|| unsupported(format!("no provider account on {chain} can do this"))),
    }
}

fn checked_address(chain: &str, address: &str) -> Result<(), ApiError> {
    if !address_rules::looks_valid(chain, address) {
        return Err(ApiError::bad_request(
            "invalid_address",
            format!("not a valid {chain} address"),
        ));
    }
    Ok(())
}

/// `unsupported` from the provider is the same 422 as a missing capability.
fn provider_error(err: ProviderError) -> ApiError {
    match err {
        ProviderError::Unsupported(message) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unsupported", message)
        }
        other => other.into(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WatchAddress {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "TRX")]
    chain: String,
    /// An outside address (not one of your deposit addresses).
    #[schema(
        pattern = r"^[^\u0000]*$",
        example = "TEpK1aWkjDue6j8reeeMqG7hdJ5tRytyAF"
    )]
    address: String,
    /// The provider account to watch it through; by default the first on the chain that can.
    #[serde(default)]
    provider: Option<String>,
}

/// A watched address.
#[derive(Serialize, ToSchema)]
pub struct WatchView {
    pub id: Uuid,
    pub chain: String,
    pub address: String,
    pub provider: String,
    pub created_at: DateTime<Utc>,
}

/// Has a provider watch an outside address: what moves there reaches you as `watch.transfer`
/// webhooks, and is never credited as a deposit.
#[utoipa::path(post, path = "/v1/watch-addresses", tag = "addresses", request_body = WatchAddress,
    responses((status = 201, description = "watched from now on", body = WatchView),
              (status = 200, description = "already watched", body = WatchView),
              (status = 400, description = "invalid input or address", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 422, description = "no account on the chain watches addresses (`unsupported`), or the provider refused", body = ErrorBody),
              (status = 502, description = "the provider is unavailable", body = ErrorBody),
              (status = 503, description = "the database is unavailable", body = ErrorBody),
              (status = 504, description = "the provider did not answer in time", body = ErrorBody)))]
pub(crate) async fn watch_address(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    JsonBody(body): JsonBody<WatchAddress>,
) -> Result<(StatusCode, Json<WatchView>), ApiError> {
    let provider = capable_account(
        &state,
        &body.chain,
        body.provider.as_deref(),
        Capability::WatchAddresses,
    )?;
    checked_address(&body.chain, &body.address)?;
    provider
        .watch_address(
            &body.chain,
            &body.address,
            &state.callback_url(provider.account_id()),
        )
        .await
        .map_err(provider_error)?;
    let (row, created) = treasury::insert_watch(
        &state.pool,
        merchant.id,
        provider.account_id(),
        &body.chain,
        &body.address,
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(WatchView {
            id: row.id,
            chain: row.chain,
            address: row.address,
            provider: row.account_id,
            created_at: row.created_at,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyOwnership {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,32}$", example = "BSC")]
    chain: String,
    #[schema(pattern = r"^[^\u0000]*$")]
    address: String,
    /// Any text the owner signed, e.g. `example.com:user:2026-12-01 11:12:00`.
    #[schema(min_length = 1, max_length = 1000, pattern = r"^[^\u0000]*$")]
    message: String,
    /// The owner's signature of `message`.
    #[schema(min_length = 1, max_length = 1000, pattern = r"^[^\u0000]*$")]
    signature: String,
    /// The provider account to ask; by default the first on the chain that can.
    #[serde(default)]
    provider: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Ownership {
    /// Whether the signature proves the address's owner signed the message.
    pub owned: bool,
    /// The provider account that checked it.
    pub checked_by: String,
}

/// Whether a signed message proves who owns an address (e.g. before trusting an address a user
/// logs in with).
#[utoipa::path(post, path = "/v1/addresses/verify-ownership", tag = "addresses", request_body = VerifyOwnership,
    responses((status = 200, description = "whether it is proven", body = Ownership),
              (status = 400, description = "invalid input or address", body = ErrorBody),
              (status = 401, description = "missing or unknown API key", body = ErrorBody),
              (status = 403, description = "the merchant is disabled", body = ErrorBody),
              (status = 422, description = "no account on the chain checks ownership (`unsupported`), or the provider refused", body = ErrorBody),
              (status = 502, description = "the provider is unavailable", body = ErrorBody),
              (status = 504, description = "the provider did not answer in time", body = ErrorBody)))]
pub(crate) async fn verify_ownership(
    State(state): State<AppState>,
    Merchant(_): Merchant,
    JsonBody(body): JsonBody<VerifyOwnership>,
) -> Result<Json<Ownership>, ApiError> {
    let provider = capable_account(
        &state,
        &body.chain,
        body.provider.as_deref(),
        Capability::OwnershipProof,
    )?;
    checked_address(&body.chain, &body.address)?;
    for (field, value) in [("message", &body.message), ("signature", &body.signature)] {
        if value.is_empty() || value.chars().count() > 1000 {
            return Err(ApiError::bad_request(
                "invalid_field",
                format!("{field} must be 1 to 1000 characters"),
            )
            .with_details(serde_json::json!({ "field": field })));
        }
    }
    let owned = provider
        .verify_ownership(&body.chain, &body.address, &body.message, &body.signature)
        .await
        .map_err(provider_error)?;
    Ok(Json(Ownership {
        owned,
        checked_by: provider.account_id().to_owned(),
    }))
}
