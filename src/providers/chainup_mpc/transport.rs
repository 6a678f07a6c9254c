//! ChainUp MPC transport (chainup_mpc.md A3, A4): requests are form posts of `app_id` and `data`,
//! where `data` is the business JSON plus `time` (ms) and `charset`, encrypted with our private key
//! (type-1 blocks, URL-safe Base64 without padding). Replies are `{"data": <cipher>}` that decrypt
//! with ChainUp's public key to `{code, msg, data}`; error replies may come as plaintext JSON.
//! Both directions live here so the simulator speaks exactly what the adapter expects.

use serde_json::{Map, Value, json};

use crate::providers::crypto::rsa::{
    Base64Form, PrivateKey, PublicKey, private_encrypt_chunked, public_decrypt_chunked,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransportError {
    #[error("payload could not be encrypted")]
    Encrypt,
    #[error("body is not JSON")]
    NotJson,
    #[error("data does not decrypt with the expected public key")]
    Decrypt,
    #[error("decrypted data is not a JSON object")]
    NotAnObject,
    #[error("reply has neither encrypted data nor a code")]
    Shape,
}

/// A decrypted reply. `code` "0" is success; it arrives as a string or a number.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub code: String,
    pub msg: String,
    pub data: Value,
}

impl Reply {
    pub fn is_ok(&self) -> bool {
        self.code == "0"
    }
}

/// The `data` form field of a request.
pub fn encrypt_request(
    mut fields: Map<String, Value>,
    time_ms: i64,
    key: &PrivateKey,
) -> Result<String, TransportError> {
    fields.insert("time".into(), json!(time_ms));
    fields.insert("charset".into(), json!("utf-8"));
    let plain = Value::Object(fields).to_string();
    private_encrypt_chunked(key, plain.as_bytes(), Base64Form::UrlSafeUnpadded)
        .map_err(|_| TransportError::Encrypt)
}

/// The provider's side: the request's business fields, decrypted with the caller's public key.
pub fn open_request(data: &str, key: &PublicKey) -> Result<Map<String, Value>, TransportError> {
    open_object(data, key)
}

/// Reads a reply body: encrypted `{"data": …}`, or a plaintext `{code, msg}` error.
pub fn decode_reply(body: &str, key: &PublicKey) -> Result<Reply, TransportError> {
    let outer: Value = serde_json::from_str(body).map_err(|_| TransportError::NotJson)?;
    let inner = match outer.get("data") {
        Some(Value::String(cipher)) if outer.get("code").is_none() => {
            Value::Object(open_object(cipher, key)?)
        }
        _ if outer.get("code").is_some() => outer,
        _ => return Err(TransportError::Shape),
    };
    let code = match inner.get("code") {
        Some(Value::String(code)) => code.clone(),
        Some(Value::Number(code)) => code.to_string(),
        _ => return Err(TransportError::Shape),
    };
    Ok(Reply {
        code,
        msg: inner
            .get("msg")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        data: inner.get("data").cloned().unwrap_or(Value::Null),
    })
}

/// The provider's side: a reply body encrypted with its private key.
pub fn seal_reply(reply: &Reply, key: &PrivateKey) -> Result<String, TransportError> {
    let plain = json!({ "code": reply.code, "msg": reply.msg, "data": reply.data }).to_string();
    let cipher = private_encrypt_chunked(key, plain.as_bytes(), Base64Form::UrlSafeUnpadded)
        .map_err(|_| TransportError::Encrypt)?;
    Ok(json!({ "data": cipher }).to_string())
}

/// A callback's `data` (ChainUp → us), decrypted with ChainUp's public key (A9).
pub fn open_notification(
    data: &str,
    key: &PublicKey,
) -> Result<Map<String, Value>, TransportError> {
    open_object(data, key)
}

/// The provider's side of [`open_notification`].
pub fn seal_notification(
    fields: &Map<String, Value>,
    key: &PrivateKey,
) -> Result<String, TransportError> {
    let plain = Value::Object(fields.clone()).to_string();
    private_encrypt_chunked(key, plain.as_bytes(), Base64Form::UrlSafeUnpadded)
        .map_err(|_| TransportError::Encrypt)
}

fn open_object(cipher: &str, key: &PublicKey) -> Result<Map<String, Value>, TransportError> {
    let plain = public_decrypt_chunked(key, cipher).map_err(|_| TransportError::Decrypt)?;
    match serde_json::from_slice(&plain) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(TransportError::NotAnObject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway_keys() -> (PrivateKey, PublicKey) {
        let private = PrivateKey::parse(include_str!(
            "../../../config/sim/chainup_gateway_private.pem"
        ))
        .unwrap();
        let public = PublicKey::parse(include_str!(
            "../../../config/sim/chainup_gateway_public.pem"
        ))
        .unwrap();
        (private, public)
    }

    fn provider_keys() -> (PrivateKey, PublicKey) {
        let private =
            PrivateKey::parse(include_str!("../../../config/sim/chainup_sim_private.pem")).unwrap();
        let public =
            PublicKey::parse(include_str!("../../../config/sim/chainup_sim_public.pem")).unwrap();
        (private, public)
    }

    #[test]
    fn a_request_opens_with_our_public_key_and_carries_time_and_charset() {
        let (private, public) = gateway_keys();
        let mut fields = Map::new();
        fields.insert("request_id".into(), json!("01a2b3"));
        fields.insert("amount".into(), json!("1.0001"));
        fields.insert(
            "address_to".into(),
            json!("0x5edc9177997bf6b4db559a5c184051858b3b3704"),
        );
        let data = encrypt_request(fields, 1_700_000_000_123, &private).unwrap();
        assert!(!data.contains(['+', '/', '=']), "URL-safe without padding");
        let opened = open_request(&data, &public).unwrap();
        assert_eq!(opened["amount"], "1.0001");
        assert_eq!(opened["time"], 1_700_000_000_123i64);
        assert_eq!(opened["charset"], "utf-8");
        // ChainUp's key does not open what we encrypted.
        assert_eq!(
            open_request(&data, &provider_keys().1),
            Err(TransportError::Decrypt)
        );
    }

    #[test]
    fn replies_decrypt_large_and_small_and_numeric_codes_are_read() {
        let (private, public) = provider_keys();
        let rows: Vec<Value> = (0..40)
            .map(|i| json!({ "id": i, "amount": "0.1", "status": 2000 }))
            .collect();
        let reply = Reply {
            code: "0".into(),
            msg: "success".into(),
            data: Value::Array(rows),
        };
        let body = seal_reply(&reply, &private).unwrap();
        assert_eq!(decode_reply(&body, &public).unwrap(), reply);

        let numeric = json!({ "code": 0, "msg": "ok", "data": { "height": 100 } }).to_string();
        let cipher =
            private_encrypt_chunked(&private, numeric.as_bytes(), Base64Form::StandardPadded)
                .unwrap();
        let decoded = decode_reply(&json!({ "data": cipher }).to_string(), &public).unwrap();
        assert!(decoded.is_ok());
        assert_eq!(decoded.data["height"], 100);
    }

    #[test]
    fn plaintext_errors_are_read_and_forgeries_refused() {
        let (_, public) = provider_keys();
        let error = decode_reply(
            r#"{"code":"100005","msg":"signature failed","data":null}"#,
            &public,
        )
        .unwrap();
        assert_eq!((error.code.as_str(), error.is_ok()), ("100005", false));
        let forged = seal_reply(
            &Reply {
                code: "0".into(),
                msg: String::new(),
                data: Value::Null,
            },
            &gateway_keys().0,
        )
        .unwrap();
        assert_eq!(decode_reply(&forged, &public), Err(TransportError::Decrypt));
        assert_eq!(
            decode_reply("<html>", &public),
            Err(TransportError::NotJson)
        );
        assert_eq!(
            decode_reply(r#"{"result":1}"#, &public),
            Err(TransportError::Shape)
        );
    }

    #[test]
    fn notifications_round_trip() {
        let (private, public) = provider_keys();
        let mut fields = Map::new();
        fields.insert("side".into(), json!("deposit"));
        fields.insert("id".into(), json!(12345));
        fields.insert("amount".into(), json!("0.5"));
        let data = seal_notification(&fields, &private).unwrap();
        assert_eq!(open_notification(&data, &public).unwrap(), fields);
    }
}
