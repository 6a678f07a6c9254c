//! What providers POST to the gateway, as an adapter reads it, and the reply it builds.
//!
//! Every call reaches one adapter entry, `Provider::read_callback`, with the raw bytes and where
//! they arrived. The adapter answers with a plain [`ProviderReply`] built from the call and what
//! became of it, so that a reply echoing the request (or encrypted) is as easy as a plain `success`.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::ChainAsset;
use crate::providers::ProviderEvent;

/// Which of an account's two addresses a call arrived at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /callbacks/{account}`: the provider's notifications.
    Callbacks,
    /// `POST /callbacks/{account}/approvals`: a signer asking before it signs, from a caller the
    /// API layer has already authenticated with the account's token.
    Approvals,
}

/// A call exactly as it arrived.
pub struct RawCallback {
    pub endpoint: Endpoint,
    /// The address the provider was given for `endpoint` (`{public_url}/callbacks/{account}`, or
    /// its `/approvals`), for schemes that sign the URL they post to.
    pub public_url: String,
    /// The query string as received, if any.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawCallback {
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// A header's value as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What an adapter read from a call.
pub enum Inbound {
    /// Facts to record, exactly once each (possibly none).
    Events(Vec<ProviderEvent>),
    /// A call that could not be authenticated, taken only as a prompt: the events are what the
    /// provider's own API answered when asked about it. Recorded once each like any other, with
    /// the call kept as unverified.
    Prompted(Vec<ProviderEvent>),
    /// A signer asking to approve a withdrawal, or saying it has signed one.
    Approval(ApprovalRequest),
    /// Something the adapter answers on its own (e.g. a key self-check).
    Answered(ProviderReply),
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("signature does not verify")]
    BadSignature,
    /// Unreadable before its signature could be checked (missing fields, bad envelope).
    #[error("malformed callback: {0}")]
    Malformed(String),
    /// Authentic, but its content is not what the protocol describes.
    #[error("invalid callback content: {0}")]
    Invalid(String),
    /// The provider could not be asked to confirm what the call says: ask it to send again later.
    /// Never a refusal.
    #[error("cannot confirm with the provider now: {0}")]
    Unavailable(String),
    /// An unauthenticated prompt past the account's limit: not asked about, recorded, and the
    /// provider asked to send it again later.
    #[error("unverified callback over the account's limit: {0}")]
    Limited(String),
}

impl CallbackError {
    /// Whether the signature was checked and found good before the callback was refused.
    pub fn signature_verified(&self) -> bool {
        matches!(self, CallbackError::Invalid(_))
    }
}

/// What became of a call, for the adapter to put in the provider's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its events are stored: stop sending it.
    Stored,
    /// Everything in it was stored before: stop sending it.
    Duplicate,
    /// Not authentic or not understood.
    Refused,
    /// Could not be stored (or confirmed) now: send it again later.
    RetryLater,
    /// An approval request granted.
    Approved,
    /// An approval request refused.
    Declined,
}

/// The gateway's answer to a provider, exactly as it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
}

impl ProviderReply {
    pub fn text(status: StatusCode, body: impl Into<String>) -> ProviderReply {
        ProviderReply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    pub fn json(status: StatusCode, body: &serde_json::Value) -> ProviderReply {
        ProviderReply {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}

impl axum::response::IntoResponse for ProviderReply {
    fn into_response(self) -> axum::response::Response {
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

/// A signer asking us to approve a withdrawal before it signs it (ChainUp Co-Signer, WaaS second
/// confirmation), or telling us it has signed it.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalRequest {
    /// A stable key for this question, so that a repeated question gets the same answer.
    pub key: String,
    pub stage: ApprovalStage,
    /// The stage in the provider's words, kept for audit (e.g. `sign_start`).
    pub provider_status: String,
    pub request_id: String,
    /// The provider's id of the withdrawal.
    pub provider_ref: String,
    pub chain_asset: Option<ChainAsset>,
    pub to_address: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStage {
    /// May it be signed?
    BeforeSigning,
    /// It was signed (a claim to confirm with the provider, never the truth by itself).
    Signed { tx_hash: Option<String> },
}
