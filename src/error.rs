//! The API error: a status, a machine-readable code and a message, rendered as
//! `{"error":{"code","message","details"}}`. Internal causes are logged, never shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::AmountError;
use crate::orders::OrderError;
use crate::providers::ProviderError;
use crate::providers::registry::RouteError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid credentials: send Authorization: Bearer <api key>",
        )
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn payload_too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than the gateway accepts",
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = details;
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> ApiError {
        tracing::error!(error = %err, "database error");
        if crate::store::is_unavailable(&err) {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the gateway's database cannot be reached; try again shortly",
            );
        }
        ApiError::internal()
    }
}

impl From<AmountError> for ApiError {
    fn from(err: AmountError) -> ApiError {
        let code = match err {
            AmountError::NotADecimal => "amount_invalid",
            AmountError::NotPositive => "amount_not_positive",
            AmountError::TooPrecise { .. } => "amount_precision",
            AmountError::TooLarge => "amount_too_large",
        };
        let mut error = ApiError::bad_request(code, err.to_string());
        if let AmountError::TooPrecise { max } = err {
            error = error.with_details(json!({ "max_decimals": max }));
        }
        error
    }
}

impl From<RouteError> for ApiError {
    fn from(err: RouteError) -> ApiError {
        let code = match err {
            RouteError::UnknownAccount(_) => "unknown_provider",
            RouteError::AccountDoesNotServe { .. } | RouteError::NotServed(_) => {
                "unsupported_asset"
            }
            RouteError::AssetUnavailable { .. } => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "asset_unavailable",
                    err.to_string(),
                );
            }
        };
        ApiError::bad_request(code, err.to_string())
    }
}

impl From<OrderError> for ApiError {
    fn from(err: OrderError) -> ApiError {
        let message = err.to_string();
        match err {
            OrderError::Route(err) => err.into(),
            OrderError::Amount(err) => err.into(),
            OrderError::Provider(err) => err.into(),
            OrderError::Database(err) => err.into(),
            OrderError::IdempotencyConflict {
                withdrawal_id,
                differs,
                ..
            } => ApiError::conflict("idempotency_conflict", message)
                .with_details(json!({ "withdrawal_id": withdrawal_id, "differs": differs })),
            OrderError::NoAccount => ApiError::internal(),
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(err: ProviderError) -> ApiError {
        match &err {
            ProviderError::Refused { code, .. } => {
                // The provider's own words may name its internals: they are for ops (the log).
                tracing::warn!(error = %err, "provider refused");
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "provider_refused",
                    "the provider refused the request",
                )
                .with_details(json!({ "provider_code": code }))
            }
            ProviderError::Duplicate => ApiError::conflict("provider_duplicate", err.to_string()),
            ProviderError::InsufficientFunds(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "insufficient_funds",
                "the provider account's paying wallet does not hold enough",
            ),
            ProviderError::Unsupported(message) => {
                ApiError::bad_request("unsupported", message.clone())
            }
            ProviderError::Unknown {
                timed_out: true, ..
            } => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "provider_timeout",
                "the provider did not answer in time",
            ),
            ProviderError::Unknown { .. } | ProviderError::Unreachable(_) => {
                tracing::warn!(error = %err, "provider unavailable");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "provider_unavailable",
                    "the provider is unavailable",
                )
            }
        }
    }
}
