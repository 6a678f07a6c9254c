//! Text that PostgreSQL can store. Its `text` and `jsonb` types cannot hold U+0000, and text must be
//! valid UTF-8; input that breaks either is refused at the edge or kept in an escaped form, never
//! left to fail inside a transaction.

use std::borrow::Cow;

use serde_json::Value;

/// Why a piece of input text cannot be stored as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("contains a NUL character")]
    Nul,
    #[error("is not valid UTF-8")]
    NotUtf8,
}

/// Checks raw bytes meant to be stored as text.
pub fn storable(bytes: &[u8]) -> Result<&str, TextError> {
    let text = std::str::from_utf8(bytes).map_err(|_| TextError::NotUtf8)?;
    if text.contains('\0') {
        return Err(TextError::Nul);
    }
    Ok(text)
}

/// The text with each NUL written as `\u0000`, so that it can be stored and shown.
pub fn escape_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\\u0000"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A body as it can be stored: its text when it is storable text, otherwise a readable escaped
/// form (`\x00`, `\xff`, …) with the exact bytes kept beside it.
pub fn stored_body(bytes: &[u8]) -> (Cow<'_, str>, Option<&[u8]>) {
    match storable(bytes) {
        Ok(text) => (Cow::Borrowed(text), None),
        Err(_) => (Cow::Owned(bytes.escape_ascii().to_string()), Some(bytes)),
    }
}

/// The path (`body.address`, `items[2]`) of the first string or key in `value` holding a NUL.
pub fn first_nul(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(String::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_nul(item).map(|path| join(&format!("[{i}]"), &path, ""))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(escape_nul(key).into_owned());
            }
            first_nul(item).map(|path| join(key, &path, "."))
        }),
        _ => None,
    }
}

fn join(head: &str, tail: &str, separator: &str) -> String {
    match tail {
        "" => head.to_owned(),
        t if t.starts_with('[') => format!("{head}{t}"),
        t => format!("{head}{separator}{t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nul_anywhere_and_names_where() {
        assert_eq!(
            first_nul(&json!({ "a": "ok", "b": [1, "x\u{0}"] })),
            Some("b[1]".into())
        );
        assert_eq!(
            first_nul(&json!({ "a": { "c": "\u{0}" } })),
            Some("a.c".into())
        );
        assert_eq!(first_nul(&json!({ "k\u{0}": 1 })), Some("k\\u0000".into()));
        assert_eq!(first_nul(&json!("\u{0}")), Some(String::new()));
        assert_eq!(first_nul(&json!({ "a": "fine", "n": 5 })), None);
    }

    #[test]
    fn unstorable_bodies_are_escaped_and_kept_exactly() {
        assert_eq!(stored_body(b"a=1").0, "a=1");
        assert!(stored_body(b"a=1").1.is_none());
        let (text, raw) = stored_body(b"a=\x00\xff");
        assert_eq!(text, "a=\\x00\\xff");
        assert_eq!(raw, Some(&b"a=\x00\xff"[..]));
        assert_eq!(storable(b"x\x00"), Err(TextError::Nul));
        assert_eq!(storable(b"\xc3"), Err(TextError::NotUtf8));
        assert_eq!(escape_nul("a\u{0}b"), "a\\u0000b");
    }
}
