//! Primitives shared by provider adapters and simulators.

pub mod rsa;

use md5::{Digest, Md5};
use rand::Rng;
use rand::distr::Alphanumeric;

/// Lower-case hex MD5 of the concatenated parts (UTF-8, no separators).
pub fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Compares two strings in time independent of where they differ and of their lengths: their
/// SHA-256 digests are compared, byte by byte, without stopping early.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use sha2::Sha256;
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `len` random letters and digits.
pub fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_hex_matches_known_digest() {
        assert_eq!(md5_hex(&["hello"]), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(md5_hex(&["hel", "lo"]), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
