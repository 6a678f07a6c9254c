//! WaaS (UUWallet) transport (waas.md C1, C3). One RSA-1024 key pair per merchant, of which WaaS
//! keeps the private half:
//! - what we send (request `data`, the `data` of our callback replies) is encrypted with WaaS's
//!   **public** key, `RSA/ECB/PKCS1Padding` (random type-2 padding, 117-byte chunks, blocks
//!   concatenated), standard Base64;
//! - what WaaS sends (reply `data`, callbacks) is made of type-1 blocks with its private key and
//!   recovered with the public key.
//!
//! Both sides live here so that the simulator speaks exactly the same bytes.

use serde_json::{Map, Value};

use crate::providers::crypto::rsa::{
    Base64Form, PrivateKey, PublicKey, private_decrypt_chunked, private_encrypt_chunked,
    public_decrypt_chunked, public_encrypt_chunked,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransportError {
    #[error("payload could not be encrypted")]
    Encrypt,
    #[error("reply is not the JSON envelope {{code, message, data}}")]
    Envelope,
    #[error("data does not decrypt with the key")]
    Decrypt,
    #[error("decrypted data is not a JSON object")]
    NotAnObject,
}

/// Our side: `fields` as the `data` of a request or of a callback reply.
pub fn seal_for_waas(fields: &Value, key: &PublicKey) -> Result<String, TransportError> {
    public_encrypt_chunked(
        key,
        fields.to_string().as_bytes(),
        Base64Form::StandardPadded,
    )
    .map_err(|_| TransportError::Encrypt)
}

/// Our side: what WaaS sealed with its private key (reply `data`, a callback body).
pub fn open_from_waas(data: &str, key: &PublicKey) -> Result<Map<String, Value>, TransportError> {
    let plain = public_decrypt_chunked(key, data).map_err(|_| TransportError::Decrypt)?;
    object(&plain)
}

/// A decoded reply `{code, message, data}`; `code` 0 is success.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub code: String,
    pub message: String,
    /// The decrypted `data`: an object, or `Null` when the reply carries none.
    pub data: Value,
}

impl Reply {
    pub fn is_ok(&self) -> bool {
        self.code == "0"
    }
}

/// Reads a reply body; `data`, when present, is opened with WaaS's public key.
pub fn open_reply(body: &str, key: &PublicKey) -> Result<Reply, TransportError> {
    let outer: Value = serde_json::from_str(body).map_err(|_| TransportError::Envelope)?;
    let code = match outer.get("code") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => return Err(TransportError::Envelope),
    };
    let data = match outer.get("data") {
        Some(Value::String(cipher)) if !cipher.is_empty() => {
            Value::Object(open_from_waas(cipher, key)?)
        }
        _ => Value::Null,
    };
    Ok(Reply {
        code,
        message: outer
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        data,
    })
}

/// The ciphertext of a callback body: raw Base64 as WaaS sends it, or a `data=` form field; a
/// form decoder's space for `+` is undone.
pub fn callback_ciphertext(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let cipher = if text.starts_with("data=") {
        form_urlencoded::parse(text.as_bytes())
            .find(|(k, _)| k == "data")
            .map(|(_, v)| v.into_owned())?
    } else {
        text.to_owned()
    };
    Some(cipher.replace(' ', "+"))
}

/// WaaS's side (the simulator): a request's or callback reply's `data`, with its private key.
pub fn open_at_waas(data: &str, key: &PrivateKey) -> Result<Map<String, Value>, TransportError> {
    let plain = private_decrypt_chunked(key, data).map_err(|_| TransportError::Decrypt)?;
    object(&plain)
}

/// WaaS's side (the simulator): reply `data` or a callback body, with its private key.
pub fn seal_at_waas(fields: &Value, key: &PrivateKey) -> Result<String, TransportError> {
    private_encrypt_chunked(
        key,
        fields.to_string().as_bytes(),
        Base64Form::StandardPadded,
    )
    .map_err(|_| TransportError::Encrypt)
}

fn object(plain: &[u8]) -> Result<Map<String, Value>, TransportError> {
    match serde_json::from_slice(plain) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(TransportError::NotAnObject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    const WAAS_PRIVATE: &str = include_str!("../../../config/sim/waas_private.pem");
    const WAAS_PUBLIC: &str = include_str!("../../../config/sim/waas_public.pem");
    const OTHER_PRIVATE: &str = include_str!("../../../config/sim/chainup_sim_private.pem");

    fn keys() -> (PrivateKey, PublicKey) {
        (
            PrivateKey::parse(WAAS_PRIVATE).unwrap(),
            PublicKey::parse(WAAS_PUBLIC).unwrap(),
        )
    }

    /// A JSON object whose text is exactly `len` bytes.
    fn payload(len: usize) -> Value {
        let skeleton = json!({ "p": "" }).to_string().len();
        json!({ "p": "x".repeat(len - skeleton) })
    }

    #[test]
    fn round_trips_short_exact_and_multi_block_payloads_both_ways() {
        let (private, public) = keys();
        for len in [20, 117, 118, 500] {
            let fields = payload(len);
            assert_eq!(fields.to_string().len(), len);
            // Ours to WaaS: 128-byte blocks, one per 117 bytes.
            let sealed = seal_for_waas(&fields, &public).unwrap();
            assert_eq!(
                STANDARD.decode(&sealed).unwrap().len(),
                len.div_ceil(117) * 128
            );
            assert_eq!(
                Value::Object(open_at_waas(&sealed, &private).unwrap()),
                fields
            );
            // WaaS's to us.
            let sealed = seal_at_waas(&fields, &private).unwrap();
            assert_eq!(
                Value::Object(open_from_waas(&sealed, &public).unwrap()),
                fields
            );
        }
    }

    #[test]
    fn another_key_or_a_tampered_block_fails_cleanly() {
        let (private, public) = keys();
        let fields = payload(300);
        let other = PrivateKey::parse(OTHER_PRIVATE).unwrap();
        let forged = seal_at_waas(&fields, &other).unwrap();
        assert_eq!(
            open_from_waas(&forged, &public),
            Err(TransportError::Decrypt)
        );
        let mut bytes = STANDARD
            .decode(seal_at_waas(&fields, &private).unwrap())
            .unwrap();
        bytes[130] ^= 0x01;
        assert_eq!(
            open_from_waas(&STANDARD.encode(&bytes), &public),
            Err(TransportError::Decrypt)
        );
        assert_eq!(
            open_from_waas("not base64 at all!", &public),
            Err(TransportError::Decrypt)
        );
    }

    #[test]
    fn replies_carry_a_code_and_optional_data() {
        let (private, public) = keys();
        let data = seal_at_waas(&json!({ "address": "T1" }), &private).unwrap();
        let body = json!({ "code": 0, "message": "", "data": data }).to_string();
        let reply = open_reply(&body, &public).unwrap();
        assert!(reply.is_ok());
        assert_eq!(reply.data["address"], "T1");
        let refused = open_reply(r#"{"code":1001,"message":"bad"}"#, &public).unwrap();
        assert!(!refused.is_ok());
        assert_eq!(refused.data, Value::Null);
        assert_eq!(open_reply("<html>", &public), Err(TransportError::Envelope));
    }

    #[test]
    fn callback_bodies_are_raw_base64_or_a_data_field() {
        assert_eq!(callback_ciphertext(b"AbC+/=").as_deref(), Some("AbC+/="));
        assert_eq!(
            callback_ciphertext(b"data=AbC%2B%2F%3D").as_deref(),
            Some("AbC+/=")
        );
        assert_eq!(
            callback_ciphertext(b"data=AbC+%2F").as_deref(),
            Some("AbC+/")
        );
        assert_eq!(callback_ciphertext(b"AbC /=").as_deref(), Some("AbC+/="));
    }
}
