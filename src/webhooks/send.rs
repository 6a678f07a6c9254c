//! Sending one signed notification to a merchant endpoint and reporting how it went.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::WebhookSettings;
use crate::domain::text::escape_nul;
use crate::webhooks::endpoint::{self, PublicOnlyResolver};
use crate::webhooks::signing::signature_header;

/// How much of a merchant's reply is kept with each attempt.
const RESPONSE_KEPT_BYTES: usize = 1024;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct SendOutcome {
    pub status: Option<u16>,
    pub latency_ms: i32,
    pub response_body: Option<String>,
    pub retry_after: Option<Duration>,
    pub error: Option<String>,
}

impl SendOutcome {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// 410 Gone: the merchant has turned the endpoint off.
    pub fn gone(&self) -> bool {
        self.status == Some(410)
    }

    fn failed(error: String, started: Instant) -> SendOutcome {
        SendOutcome {
            status: None,
            latency_ms: elapsed_ms(started),
            response_body: None,
            retry_after: None,
            error: Some(error),
        }
    }
}

fn elapsed_ms(started: Instant) -> i32 {
    started.elapsed().as_millis().min(i32::MAX as u128) as i32
}

#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    pub fn new(settings: &WebhookSettings) -> Sender {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "custody-gateway-webhooks/",
                env!("CARGO_PKG_VERSION")
            ));
        if !settings.allow_private_addresses {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Sender {
            client: builder.build().expect("HTTP client builds"),
            allow_private: settings.allow_private_addresses,
        }
    }

    /// POSTs `body` signed with each of `secrets` (Standard Webhooks headers).
    pub async fn send(&self, url: &str, id: &str, body: &str, secrets: &[&str]) -> SendOutcome {
        let started = Instant::now();
        // Literal addresses bypass the resolver, so they are checked here on every attempt.
        if let Err(err) = endpoint::parse(url, self.allow_private) {
            return SendOutcome::failed(err.to_string(), started);
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = match signature_header(secrets, id, timestamp, body) {
            Ok(signature) => signature,
            Err(err) => return SendOutcome::failed(err.to_string(), started),
        };
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        let mut response = match response {
            Ok(response) => response,
            Err(err) => {
                let error = if err.is_timeout() {
                    "timed out".to_owned()
                } else if err.is_connect() {
                    "connection failed".to_owned()
                } else {
                    "request failed".to_owned()
                };
                return SendOutcome::failed(error, started);
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let mut kept = Vec::new();
        let mut error = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = RESPONSE_KEPT_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if kept.len() >= RESPONSE_KEPT_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    error = Some("reading the reply failed".to_owned());
                    break;
                }
            }
        }
        SendOutcome {
            status: Some(status),
            latency_ms: elapsed_ms(started),
            response_body: Some(kept_text(&kept)),
            retry_after,
            error,
        }
    }
}

/// The kept bytes as text of at most [`RESPONSE_KEPT_BYTES`] bytes: invalid UTF-8 is replaced,
/// which can lengthen it, so it is cut again at a character boundary.
fn kept_text(bytes: &[u8]) -> String {
    // Kept in the database, which cannot hold NUL.
    let mut text = escape_nul(&String::from_utf8_lossy(bytes)).into_owned();
    if text.len() > RESPONSE_KEPT_BYTES {
        let mut end = RESPONSE_KEPT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .ok()?
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::{RESPONSE_KEPT_BYTES, kept_text, parse_retry_after};
    use std::time::Duration;

    #[test]
    fn kept_replies_are_at_most_one_kibibyte_of_text() {
        for reply in [
            vec![0xff; 1024],
            "é".repeat(600).into_bytes(),
            vec![b'a'; 1024],
        ] {
            let text = kept_text(&reply[..reply.len().min(RESPONSE_KEPT_BYTES)]);
            assert!(text.len() <= RESPONSE_KEPT_BYTES, "{}", text.len());
            assert!(!text.is_empty());
        }
        assert!(!kept_text(b"a\x00b").contains('\0'));
    }

    #[test]
    fn reads_retry_after_in_both_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("999999999"),
            Some(Duration::from_secs(24 * 3600))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            None,
            "a date in the past"
        );
        assert!(parse_retry_after("soon").is_none());
    }
}
