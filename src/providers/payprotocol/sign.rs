//! Pay Protocol's request signature (payprotocol.md C2): `X-PAY-SIGN` = standard Base64 of
//! HMAC-SHA256(secret, timestamp + METHOD + requestPath + body), where `requestPath` starts at
//! `/api/mer` and carries `?query` for GETs, and `body` is the exact JSON sent (empty for GETs).
//! Callbacks carry the same three headers; how their text is built is unpublished (C5).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::providers::crypto::constant_time_eq;

pub const KEY_HEADER: &str = "x-pay-key";
pub const TIMESTAMP_HEADER: &str = "x-pay-timestamp";
pub const SIGN_HEADER: &str = "x-pay-sign";

/// `X-PAY-SIGN` for one request.
pub fn pay_sign(secret: &str, timestamp: &str, method: &str, path: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    for part in [timestamp, method, path, body] {
        mac.update(part.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `given` is the signature of the text for any of `paths`, compared in constant time.
/// Returns the path that matched.
pub fn verify_pay_sign<'a>(
    secret: &str,
    timestamp: &str,
    method: &str,
    paths: &[&'a str],
    body: &str,
    given: &str,
) -> Option<&'a str> {
    // Every candidate is compared, so the time taken does not say which one was close.
    let mut matched = None;
    for path in paths {
        if constant_time_eq(&pay_sign(secret, timestamp, method, path, body), given)
            && matched.is_none()
        {
            matched = Some(*path);
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    // shared/providers/README.md "Test vectors", secret `testsecret`.
    #[test]
    fn signs_a_get_with_its_query() {
        assert_eq!(
            pay_sign(
                "testsecret",
                "1684304935",
                "GET",
                "/api/mer/conf/list/currency?chainId=101",
                ""
            ),
            "nPMfGRqCohgrs7gpwl4nD1eXcAVmAAqyCL8ba8OHooE="
        );
    }

    #[test]
    fn signs_a_post_with_its_body() {
        assert_eq!(
            pay_sign(
                "testsecret",
                "1723971200",
                "POST",
                "/api/mer/user/create",
                r#"{"uuid":"USER10001"}"#
            ),
            "vXSR54KlI7MO2E5+mbVs9LHt/T+9IXKWFgD+0zNOpM8="
        );
    }

    #[test]
    fn verifies_against_any_candidate_path_and_nothing_else() {
        let body = r#"{"rechargeId":7}"#;
        let sign = pay_sign("s", "1", "POST", "/callbacks/pp", body);
        let paths = ["/callbacks/pp?x=1", "/callbacks/pp"];
        assert_eq!(
            verify_pay_sign("s", "1", "POST", &paths, body, &sign),
            Some("/callbacks/pp")
        );
        assert_eq!(verify_pay_sign("t", "1", "POST", &paths, body, &sign), None);
        assert_eq!(verify_pay_sign("s", "2", "POST", &paths, body, &sign), None);
        assert_eq!(
            verify_pay_sign("s", "1", "POST", &paths, r#"{"rechargeId":8}"#, &sign),
            None
        );
    }
}
