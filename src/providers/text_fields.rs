//! JSON fields that providers send either as numbers or as strings, read as their text, so that
//! nothing is lost before a signature is checked or an amount parsed (numbers keep their digits:
//! serde_json's arbitrary precision).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A JSON string or number, as its text.
pub fn text<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    match Value::deserialize(de)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or number, found {other}"
        ))),
    }
}

/// Like [`text`], with null, absence and "" all meaning "none".
pub fn opt_text<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(de)? {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or number, found {other}"
        ))),
    }
}
