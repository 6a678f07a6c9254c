//! One error shape everywhere: responses made outside our handlers (a body over the limit, a method a
//! route does not take, an axum rejection) are rewritten into `{"error":{"code","message"}}`.
//! Provider callback answers are the provider's own form and are left alone, except 405 and 413.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The most of an unshaped error body carried over as the message.
const MESSAGE_BYTES: usize = 512;

pub async fn json_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let ours = path.starts_with("/v1") || path.starts_with("/ops") || path == "/metrics";
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        _ if !ours => return response,
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MESSAGE_BYTES)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty() && !status.is_server_error());
    let message = text.unwrap_or_else(|| match status {
        StatusCode::METHOD_NOT_ALLOWED => "this route does not take this method".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than the gateway accepts".to_owned()
        }
        StatusCode::NOT_FOUND => "no such route".to_owned(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    });
    let shaped = ApiError::new(status, code, message).into_response();
    let (shaped_parts, shaped_body) = shaped.into_parts();
    // Keep what the original said besides its body (e.g. `Allow` on a 405).
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &shaped_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, Body::new(shaped_body))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .is_some_and(|t| t.contains("json"))
}
