//! ChainUp MPC withdrawal `sign` field (chainup_mpc.md A5, A7; seed 000), which Co-Signer checks in
//! its "signature verification" mode before co-signing:
//! `sign = Base64(SHA256withRSA(md5_hex(lowercase(k1=v1&k2=v2…))))`, keys sorted, blanks dropped.

use rust_decimal::Decimal;

use crate::providers::crypto::md5_hex;
use crate::providers::crypto::rsa::{
    PrivateKey, PublicKey, RsaError, sign_sha256_with_rsa, verify_sha256_with_rsa,
};

/// The withdrawal fields ChainUp signs (chainup_mpc.md A5 "Fields signed for a withdrawal"): the
/// six documented ones plus `outputs`, which the Java, Rust and Go SDKs include when present.
/// `remark` and the fee fields are never signed (A7).
#[derive(Debug, Clone, Copy)]
pub struct WithdrawalSignFields<'a> {
    pub request_id: &'a str,
    pub sub_wallet_id: i64,
    pub symbol: &'a str,
    /// In its real case: only the signed text is lowercased (A11), never the request.
    pub address_to: &'a str,
    pub amount: Decimal,
    pub memo: Option<&'a str>,
    pub outputs: Option<&'a str>,
}

impl WithdrawalSignFields<'_> {
    /// The text whose MD5 is signed (chainup_mpc.md A5 steps 1–3).
    pub fn signed_text(&self) -> String {
        let sub_wallet_id = self.sub_wallet_id.to_string();
        let amount = normalized_amount(self.amount);
        signed_text(&[
            ("request_id", self.request_id),
            ("sub_wallet_id", &sub_wallet_id),
            ("symbol", self.symbol),
            ("address_to", self.address_to),
            ("amount", &amount),
            ("memo", self.memo.unwrap_or_default()),
            ("outputs", self.outputs.unwrap_or_default()),
        ])
    }
}

/// `amount` as ChainUp signs it, and therefore as the request must carry it: plain decimal without
/// trailing zeros, `1.0001000` → `1.0001`, `100.00` → `100` (chainup_mpc.md A5 "Trailing zeros").
pub fn normalized_amount(amount: Decimal) -> String {
    amount.normalize().to_string()
}

/// chainup_mpc.md A5 steps 1–3 for any field set (withdrawal or Web3): blank values dropped, keys
/// in ASCII order, `k=v` joined with `&`, the whole text lowercased, values included.
pub fn signed_text(fields: &[(&str, &str)]) -> String {
    // Blank means empty or whitespace only, as the Java SDK's `StringUtils.isBlank`.
    let mut present: Vec<&(&str, &str)> = fields
        .iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .collect();
    present.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
    present
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
        .to_lowercase()
}

/// The `sign` value (chainup_mpc.md A5 steps 4–6): the lowercase MD5 hex of `signed_text`, signed
/// SHA256withRSA with the sign key (or `rsa_third_prv` when none is set, A2), standard Base64.
pub fn chainup_sign(signed_text: &str, key: &PrivateKey) -> Result<String, RsaError> {
    sign_sha256_with_rsa(key, md5_hex(&[signed_text]).as_bytes())
}

/// Co-Signer's check of a `sign` value, for the simulator (chainup_mpc.md A5).
pub fn verify_chainup_sign(signed_text: &str, key: &PublicKey, sign: &str) -> bool {
    verify_sha256_with_rsa(key, md5_hex(&[signed_text]).as_bytes(), sign)
}

/// Co-Signer's key self-check hash (chainup_mpc.md A9b, `verify_public_hash`): HMAC-SHA256 keyed
/// with the `app_id`, over the public key's Base64 DER (the PEM body without header, footer and
/// line breaks), as lowercase hex.
pub fn public_key_hash(app_id: &str, key: &PublicKey) -> Result<String, RsaError> {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(app_id.as_bytes()).map_err(|_| RsaError::Operation)?;
    mac.update(key.to_spki_base64()?.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const GATEWAY_PRIVATE: &str = include_str!("../../../config/sim/chainup_gateway_private.pem");
    const GATEWAY_PUBLIC: &str = include_str!("../../../config/sim/chainup_gateway_public.pem");
    const CHAINUP_SIM_PUBLIC: &str = include_str!("../../../config/sim/chainup_sim_public.pem");

    const VECTOR_TEXT: &str = "address_to=0x5edc9177997bf6b4db559a5c184051858b3b3704&amount=1.0001";

    /// `openssl dgst -sha256 -sign config/sim/chainup_gateway_private.pem` over the vector's MD5
    /// hex `c10c47a46b616526e739985ce1c7f15d`, Base64.
    const VECTOR_SIGN: &str = "vXuDSBpio6XIVQL3iPSOg7JFwn6ySszIqH9I6oXSeCxq6KoYJ9EWZkAhfl1YLZ1p83DzYkY1yLQWd/ELA4XrBBh/aiXq42Y+yEPEiWUuSkkwFlDhT5MsAFV4OdYWAIDGV4CytYeNQXW6lNy8nRyi5uqg3w+/fwdTRBTiXAoy5Nkams/iS07YlT494SJKxr05mHQuor7IMNSCudNgwzrijvu9sdtrUkXZtW8ZBR7LuCUQMIJOSpak96DkCzTpY1J4yDGcmVE9k10gV+hAXj4Q+KeuxeYmL7xVf9LdbX9iMDit50PW67J/7Hen0xP8vYYiw8wZmXGFJQxnpEykbrJ50w==";

    fn gateway_key() -> PrivateKey {
        PrivateKey::parse(GATEWAY_PRIVATE).unwrap()
    }

    fn amount(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn withdrawal() -> WithdrawalSignFields<'static> {
        WithdrawalSignFields {
            request_id: "WD-0001",
            sub_wallet_id: 1000537,
            symbol: "USDTERC20",
            address_to: "0x5EDC9177997bf6b4db559a5c184051858b3b3704",
            amount: amount("12.5000"),
            memo: None,
            outputs: None,
        }
    }

    /// The vector in shared/providers/README.md, from the provider's docs.
    #[test]
    fn reproduces_the_doc_vector() {
        let text = signed_text(&[
            ("amount", "1.0001"),
            ("address_to", "0x5edc9177997bf6b4db559a5c184051858b3b3704"),
            ("memo", ""),
        ]);
        assert_eq!(text, VECTOR_TEXT);
        assert_eq!(md5_hex(&[&text]), "c10c47a46b616526e739985ce1c7f15d");
        assert_eq!(chainup_sign(&text, &gateway_key()).unwrap(), VECTOR_SIGN);
    }

    #[test]
    fn vector_sign_verifies_only_with_the_right_key_and_text() {
        let gateway_public = PublicKey::parse(GATEWAY_PUBLIC).unwrap();
        let other_public = PublicKey::parse(CHAINUP_SIM_PUBLIC).unwrap();
        assert!(verify_chainup_sign(
            VECTOR_TEXT,
            &gateway_public,
            VECTOR_SIGN
        ));
        assert!(!verify_chainup_sign(
            VECTOR_TEXT,
            &other_public,
            VECTOR_SIGN
        ));
        let changed = VECTOR_TEXT.replace("1.0001", "1.0002");
        assert!(!verify_chainup_sign(&changed, &gateway_public, VECTOR_SIGN));
    }

    #[test]
    fn withdrawal_text_is_sorted_lowercased_and_skips_absent_fields() {
        assert_eq!(
            withdrawal().signed_text(),
            "address_to=0x5edc9177997bf6b4db559a5c184051858b3b3704&amount=12.5\
             &request_id=wd-0001&sub_wallet_id=1000537&symbol=usdterc20"
        );
    }

    #[test]
    fn withdrawal_text_includes_memo_and_outputs_when_present() {
        let fields = WithdrawalSignFields {
            memo: Some("Tag 42"),
            outputs: Some("[]"),
            ..withdrawal()
        };
        assert_eq!(
            fields.signed_text(),
            "address_to=0x5edc9177997bf6b4db559a5c184051858b3b3704&amount=12.5&memo=tag 42\
             &outputs=[]&request_id=wd-0001&sub_wallet_id=1000537&symbol=usdterc20"
        );
        let blank_memo = WithdrawalSignFields {
            memo: Some("  "),
            ..withdrawal()
        };
        assert_eq!(blank_memo.signed_text(), withdrawal().signed_text());
    }

    #[test]
    fn amounts_are_signed_without_trailing_zeros() {
        assert_eq!(normalized_amount(amount("1.0001000")), "1.0001");
        assert_eq!(normalized_amount(amount("100.00")), "100");
        assert_eq!(normalized_amount(amount("100")), "100");
        assert_eq!(
            normalized_amount(amount("0.000000000000000001")),
            "0.000000000000000001"
        );
        assert_eq!(
            normalized_amount(amount("123456789.123456789012345678")),
            "123456789.123456789012345678"
        );
        let zeros = WithdrawalSignFields {
            amount: amount("1.0001000"),
            ..withdrawal()
        };
        assert!(zeros.signed_text().contains("&amount=1.0001&"));
    }

    #[test]
    fn withdrawal_sign_round_trips_and_breaks_on_any_change() {
        let key = gateway_key();
        let sign = chainup_sign(&withdrawal().signed_text(), &key).unwrap();
        let public = key.public_key();
        assert!(verify_chainup_sign(
            &withdrawal().signed_text(),
            &public,
            &sign
        ));

        let other_amount = WithdrawalSignFields {
            amount: amount("12.51"),
            ..withdrawal()
        };
        assert!(!verify_chainup_sign(
            &other_amount.signed_text(),
            &public,
            &sign
        ));
        // Case does not matter: the text is lowercased before hashing.
        let lower_address = WithdrawalSignFields {
            address_to: "0x5edc9177997bf6b4db559a5c184051858b3b3704",
            ..withdrawal()
        };
        assert!(verify_chainup_sign(
            &lower_address.signed_text(),
            &public,
            &sign
        ));
    }

    #[test]
    fn public_key_hash_is_hmac_of_the_pem_body_keyed_by_app_id() {
        // Computed independently: HMAC-SHA256("test-chainup-app", PEM body without line breaks).
        let key = PublicKey::parse(include_str!(
            "../../../config/sim/chainup_gateway_public.pem"
        ))
        .unwrap();
        assert_eq!(
            public_key_hash("test-chainup-app", &key).unwrap(),
            "ee3f8fe4230ef51c905f725036cf896cf409dc280385f9d7ccfa755768d983a5"
        );
        assert_ne!(
            public_key_hash("another-app", &key).unwrap(),
            public_key_hash("test-chainup-app", &key).unwrap()
        );
    }
}
