//! UBAO's request and notification signature (seed 003 §0.3, §0.5.1):
//! `sign = md5(body + api_key + nonce + timestamp)`, lower-case hex, where `body` is the Base64
//! text exactly as sent or received, never the JSON it decodes to.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::providers::crypto::{constant_time_eq, md5_hex};

pub fn ubao_sign(body: &str, api_key: &str, nonce: &str, timestamp: &str) -> String {
    md5_hex(&[body, api_key, nonce, timestamp])
}

/// Checks a received signature; upper-case hex is accepted.
pub fn verify_ubao_sign(
    body: &str,
    api_key: &str,
    nonce: &str,
    timestamp: &str,
    sign: &str,
) -> bool {
    constant_time_eq(
        &ubao_sign(body, api_key, nonce, timestamp),
        &sign.to_ascii_lowercase(),
    )
}

/// The `body` field for business parameters: standard Base64, padded, of the JSON (§0.2).
pub fn encode_body(json: &serde_json::Value) -> String {
    STANDARD.encode(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector in shared/providers/README.md, over the seed's own Base64 body.
    #[test]
    fn reproduces_the_reference_vector() {
        let body = "eyJtYWluQ29pblR5cGUiOjE2MCwiY2FsbFVybCI6Imh0dHA6XC9cL3h4eC5jb21cL3ViYW9fY2FsbGJhY2suaHRtbCJ9";
        assert_eq!(
            ubao_sign(body, "testkey", "595365", "1729640397"),
            "42df2afd0e8aae7bfeaedb87d2cf504f"
        );
        assert!(verify_ubao_sign(
            body,
            "testkey",
            "595365",
            "1729640397",
            "42DF2AFD0E8AAE7BFEAEDB87D2CF504F"
        ));
        assert!(!verify_ubao_sign(
            body,
            "otherkey",
            "595365",
            "1729640397",
            "42df2afd0e8aae7bfeaedb87d2cf504f"
        ));
    }

    #[test]
    fn bodies_are_padded_standard_base64_of_the_json() {
        let body = encode_body(&serde_json::json!({ "chainType": 160 }));
        assert_eq!(body, "eyJjaGFpblR5cGUiOjE2MH0=");
    }
}
