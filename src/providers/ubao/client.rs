//! Calls to UBAO's API (seed 003 §0.1–§0.3): a form of `merchantId`, `timestamp`, `nonce`, the
//! Base64 `body` and its `sign`; the reply's `code` 200 or a refusal.

use rand::Rng;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::providers::{ProviderError, send_for_text};

use super::UbaoProvider;
use super::sign::{encode_body, ubao_sign};
use super::wire::{CODE_OK, Reply};

impl UbaoProvider {
    /// Posts `fields` to `path`; the reply of a `code` 200.
    pub(super) async fn call(&self, path: &str, fields: &Value) -> Result<Reply, ProviderError> {
        let body = encode_body(fields);
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let nonce = rand::rng().random_range(100_000..1_000_000).to_string();
        let sign = ubao_sign(&body, self.api_key.expose_secret(), &nonce, &timestamp);
        let merchant_id = self.merchant_id.to_string();
        let request = self.http.post(format!("{}{path}", self.base_url)).form(&[
            ("merchantId", merchant_id.as_str()),
            ("timestamp", timestamp.as_str()),
            ("nonce", nonce.as_str()),
            ("body", body.as_str()),
            ("sign", sign.as_str()),
        ]);
        let (_, text) = send_for_text(request, path).await?;
        let reply: Reply = serde_json::from_str(&text).map_err(|e| ProviderError::Unknown {
            detail: format!("reply from {path}: {e}"),
            timed_out: false,
        })?;
        if reply.code != CODE_OK {
            return Err(ProviderError::Refused {
                code: reply.code,
                message: reply.message.unwrap_or_default(),
            });
        }
        Ok(reply)
    }
}
