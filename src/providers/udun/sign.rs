//! Udun request and callback signature (seed 001 "Verification description"; udun.md A2, A5):
//! `sign = md5(body + key + nonce + timestamp)`, lower-case hex, over each field's exact text.

use crate::providers::crypto::{constant_time_eq, md5_hex};

pub fn udun_sign(body: &str, api_key: &str, nonce: &str, timestamp: &str) -> String {
    md5_hex(&[body, api_key, nonce, timestamp])
}

/// Checks a received signature; upper-case hex is accepted.
pub fn verify_udun_sign(
    body: &str,
    api_key: &str,
    nonce: &str,
    timestamp: &str,
    sign: &str,
) -> bool {
    constant_time_eq(
        &udun_sign(body, api_key, nonce, timestamp),
        &sign.to_ascii_lowercase(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector in shared/providers/README.md.
    #[test]
    fn reproduces_the_reference_vector() {
        let body = r#"[{"merchantId":"300015","coinType":520,"callUrl":"http://localhost:8080/callBack"}]"#;
        assert_eq!(
            udun_sign(body, "testkey", "10000", "1535005047"),
            "b7f39c02e092ce39ff08eeee461d5695"
        );
        assert!(verify_udun_sign(
            body,
            "testkey",
            "10000",
            "1535005047",
            "B7F39C02E092CE39FF08EEEE461D5695"
        ));
    }

    #[test]
    fn any_changed_part_breaks_the_signature() {
        let body = r#"{"amount":"12345678"}"#;
        let sign = udun_sign(body, "k", "abc123", "1658370940327");
        assert!(verify_udun_sign(
            body,
            "k",
            "abc123",
            "1658370940327",
            &sign
        ));
        assert!(!verify_udun_sign(
            r#"{"amount":"12345679"}"#,
            "k",
            "abc123",
            "1658370940327",
            &sign
        ));
        assert!(!verify_udun_sign(
            body,
            "other",
            "abc123",
            "1658370940327",
            &sign
        ));
        assert!(!verify_udun_sign(
            body,
            "k",
            "abc124",
            "1658370940327",
            &sign
        ));
        assert!(!verify_udun_sign(
            body,
            "k",
            "abc123",
            "1658370940328",
            &sign
        ));
        assert!(!verify_udun_sign(body, "k", "abc123", "1658370940327", ""));
    }
}
