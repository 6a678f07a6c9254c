//! Bearer authentication: merchants by API key (`/v1`), operators by the ops token (`/ops`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use secrecy::ExposeSecret;

use crate::AppState;
use crate::error::ApiError;
use crate::orders::merchants::hash_api_key;
use crate::providers::crypto::constant_time_eq;
use crate::store::merchants::{self, MerchantRow};

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The merchant whose API key signed the request in.
pub struct Merchant(pub MerchantRow);

impl FromRequestParts<AppState> for Merchant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let merchant = merchants::find_merchant_by_key_hash(&state.pool, &hash_api_key(key))
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        if merchant.disabled {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "merchant_disabled",
                "this merchant is disabled",
            ));
        }
        tracing::Span::current().record("merchant", tracing::field::display(merchant.id));
        Ok(Merchant(merchant))
    }
}

/// An operator holding the ops token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = state
            .settings
            .ops
            .token
            .as_ref()
            .ok_or_else(ApiError::unauthorized)?;
        let given = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        if constant_time_eq(given, token.expose_secret()) {
            Ok(Operator)
        } else {
            Err(ApiError::unauthorized())
        }
    }
}
