//! Calls to ChainUp's API (A1, A3, A4): fields encrypted with our private key, replies opened with
//! ChainUp's public key, `code` 0 or a refusal.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::providers::{ProviderError, send_for_text};

use super::ChainupProvider;
use super::transport::{decode_reply, encrypt_request};

pub(super) enum Method {
    Get,
    Post,
}

impl ChainupProvider {
    /// Encrypts `fields`, sends them (A1, A3) and returns the decrypted `data` of a `code` 0 reply (A4).
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        fields: Map<String, Value>,
    ) -> Result<Value, ProviderError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let data = encrypt_request(fields, now_ms, &self.private_key).map_err(|e| {
            ProviderError::Refused {
                code: "encrypt".into(),
                message: e.to_string(),
            }
        })?;
        let url = format!("{}{}", self.base_url, path);
        let request = match method {
            Method::Get => {
                let mut url = url::Url::parse(&url)
                    .map_err(|_| ProviderError::Unsupported("bad base URL".into()))?;
                url.query_pairs_mut()
                    .append_pair("app_id", &self.app_id)
                    .append_pair("data", &data);
                self.http.get(url)
            }
            Method::Post => self
                .http
                .post(url)
                .form(&[("app_id", self.app_id.as_str()), ("data", data.as_str())]),
        };
        let (_, body) = send_for_text(request, path).await?;
        let reply = decode_reply(&body, &self.chainup_key).map_err(|e| ProviderError::Unknown {
            detail: format!("reply from {path}: {e}"),
            timed_out: false,
        })?;
        if reply.is_ok() {
            Ok(reply.data)
        } else {
            Err(ProviderError::Refused {
                code: reply.code,
                message: reply.msg,
            })
        }
    }

    /// [`Self::call`], with the reply's `data` read as `T`.
    pub(super) async fn call_for<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        fields: Map<String, Value>,
    ) -> Result<T, ProviderError> {
        let data = self.call(method, path, fields).await?;
        serde_json::from_value(data).map_err(|e| ProviderError::Unknown {
            detail: format!("reply from {path}: {e}"),
            timed_out: false,
        })
    }
}

/// A list reply's records; `null` is an empty list.
pub(super) fn records(data: Value) -> Result<Vec<super::wire::Record>, ProviderError> {
    serde_json::from_value(if data.is_null() { json!([]) } else { data }).map_err(|e| {
        ProviderError::Unknown {
            detail: format!("records: {e}"),
            timed_out: false,
        }
    })
}

/// Request fields from name/value pairs.
pub(super) fn fields(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}
