//! Bearer authentication: merchants by API key (`/v1`), operators by the ops token (`/ops`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::orders::merchants::hash_api_key;
use crate::providers::crypto::constant_time_eq;
use crate::store::merchants;

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
pub struct Merchant(pub CallingMerchant);

/// Who a merchant request comes from. Only the identity: what else a handler needs of the
/// merchant it reads fresh, as a key may be taken from a kept copy (`known_keys`).
pub struct CallingMerchant {
    pub id: Uuid,
}

impl FromRequestParts<AppState> for Merchant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = hash_api_key(bearer(parts).ok_or_else(ApiError::unauthorized)?);
        let id = match state.known_keys.merchant(&key) {
            Some(id) => id,
            None => {
                let mark = state.known_keys.mark();
                let key_holder = merchants::find_key_holder(&state.pool, &key)
                    .await?
                    .ok_or_else(ApiError::unauthorized)?;
                if key_holder.disabled {
                    return Err(ApiError::new(
                        axum::http::StatusCode::FORBIDDEN,
                        "merchant_disabled",
                        "this merchant is disabled",
                    ));
                }
                state.known_keys.keep(key, key_holder.id, mark);
                key_holder.id
            }
        };
        tracing::Span::current().record("merchant", tracing::field::display(id));
        Ok(Merchant(CallingMerchant { id }))
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
