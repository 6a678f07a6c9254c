//! Calls to Pay Protocol's API (C1–C3): the query string built once and signed as sent, the JSON
//! body signed as sent, and the `{code, msg, description, data}` envelope read.

use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::providers::{ProviderError, send_for_text};

use super::PayProtocolProvider;
use super::sign::pay_sign;
use super::wire::{API_PREFIX, CODE_OK, Envelope};

impl PayProtocolProvider {
    /// A signed `GET {path}?{query}`; the reply's `data` read as `T`.
    pub(super) async fn get_for<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ProviderError> {
        let query = (!query.is_empty()).then(|| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish()
        });
        let path_and_query = match &query {
            Some(query) => format!("{API_PREFIX}{path}?{query}"),
            None => format!("{API_PREFIX}{path}"),
        };
        let request = self.http.get(format!("{}{path_and_query}", self.base_url));
        self.send(request, "GET", &path_and_query, String::new(), path)
            .await
    }

    /// A signed `POST {path}` with `body` as JSON; the reply's `data` read as `T`.
    pub(super) async fn post_for<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, ProviderError> {
        let path = path.to_owned();
        let signed_path = format!("{API_PREFIX}{path}");
        let body = body.to_string();
        let request = self
            .http
            .post(format!("{}{signed_path}", self.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        self.send(request, "POST", &signed_path, body, &path).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        signed_path: &str,
        body: String,
        path: &str,
    ) -> Result<T, ProviderError> {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let sign = pay_sign(
            self.api_secret.expose_secret(),
            &timestamp,
            method,
            signed_path,
            &body,
        );
        let request = request
            .header("X-PAY-KEY", self.api_key.expose_secret())
            .header("X-PAY-TIMESTAMP", &timestamp)
            .header("X-PAY-SIGN", sign)
            .body(body);
        let (_, text) = send_for_text(request, path).await?;
        let unreadable = |e: serde_json::Error| ProviderError::Unknown {
            detail: format!("reply from {path}: {e}"),
            timed_out: false,
        };
        let envelope: Envelope = serde_json::from_str(&text).map_err(unreadable)?;
        if envelope.code != CODE_OK {
            let message = [envelope.msg, envelope.description]
                .into_iter()
                .flatten()
                .filter(|m| !m.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            return Err(ProviderError::Refused {
                code: envelope.code.to_string(),
                message,
            });
        }
        serde_json::from_value(envelope.data).map_err(unreadable)
    }
}
