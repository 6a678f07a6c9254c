//! Extractors whose rejections are API errors with the usual JSON body. Every text they let through
//! can be stored: a NUL character or invalid UTF-8 anywhere is 400 `invalid_input`, naming the field.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::domain::text::{TextError, first_nul, storable};
use crate::error::ApiError;

/// `axum::Json`, answering a bad body with 400 `invalid_body` (413 when it is too large).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::bad_request(
                "invalid_body",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::bad_request("invalid_body", rejection.body_text())
            }
        })?;
        if let Err(err) = std::str::from_utf8(&bytes) {
            return Err(invalid_input("body", TextError::NotUtf8)
                .with_details(json!({ "field": "body", "byte_offset": err.valid_up_to() })));
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request("invalid_body", format!("body is not JSON: {e}")))?;
        if let Some(field) = first_nul(&value) {
            let field = if field.is_empty() {
                "body".into()
            } else {
                field
            };
            return Err(invalid_input(&field, TextError::Nul));
        }
        serde_json::from_value(value)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
    }
}

fn is_json(req: &Request) -> bool {
    let Some(content_type) = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `axum::extract::Query`, answering bad parameters with 400 `invalid_query`.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        check_query_text(parts.uri.query().unwrap_or_default())?;
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => Err(query_error(rejection)),
        }
    }
}

/// Each name and value of the query, once percent-decoded, must be storable text.
fn check_query_text(query: &str) -> Result<(), ApiError> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |part: &str| -> Vec<u8> {
            percent_encoding::percent_decode(part.replace('+', " ").as_bytes()).collect()
        };
        let name_bytes = decode(name);
        let field = String::from_utf8_lossy(&name_bytes).replace('\0', "\\u0000");
        for bytes in [&name_bytes, &decode(value)] {
            if let Err(err) = storable(bytes) {
                return Err(invalid_input(&field, err));
            }
        }
    }
    Ok(())
}

fn invalid_input(field: &str, err: TextError) -> ApiError {
    ApiError::bad_request("invalid_input", format!("{field} {err}"))
        .with_details(json!({ "field": field }))
}

fn query_error(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", rejection.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_must_be_storable() {
        assert!(check_query_text("user_id=alice&limit=5").is_ok());
        assert!(check_query_text("q=caf%C3%A9+au+lait").is_ok());
        let nul = check_query_text("user_id=a%00b").unwrap_err();
        assert_eq!(nul.code, "invalid_input");
        assert_eq!(nul.details, Some(json!({ "field": "user_id" })));
        let not_utf8 = check_query_text("limit=1&address=%FF").unwrap_err();
        assert_eq!(not_utf8.details, Some(json!({ "field": "address" })));
        assert!(check_query_text("a%00=1").is_err());
    }
}
