//! RSA transport shared by the ChainUp MPC and WaaS adapters and their simulators
//! (shared/providers/README.md, "we send / we accept").
//!
//! Two block directions, both PKCS#1 v1.5, both cutting the plaintext into chunks of at most
//! k − 11 bytes (k = modulus length in bytes) that each become one k-byte block:
//! - **private-key encryption** (type-1 padding, raw private operation), read back with the public
//!   key: ChainUp MPC requests and replies (chainup_mpc.md A3, A4), WaaS replies and callbacks
//!   (waas.md C1, C3). It authenticates; it does not hide anything from a public-key holder.
//! - **public-key encryption** (type-2 random padding), decrypted with the private key: WaaS
//!   requests and callback replies (waas.md C1, C3).
//!
//! Plus SHA256withRSA signatures (chainup_mpc.md A5 step 5).

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Encrypt, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

/// Bytes PKCS#1 v1.5 adds to each chunk: `00 0X`, at least eight padding bytes, `00`.
const PADDING_OVERHEAD: usize = 11;
/// RFC 8017 §9.2: the type-1 padding string is at least eight `FF` bytes.
const MIN_TYPE1_PADDING: usize = 8;
/// WaaS keys are 1024 bits (waas.md C1), ChainUp keys 2048 (chainup_mpc.md A2); nothing smaller.
const MIN_KEY_BITS: usize = 1024;

/// Why an RSA step failed. Messages name the step only: never key material or payload bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RsaError {
    #[error("not an unencrypted RSA private key (PKCS#8 or PKCS#1, PEM or Base64 DER)")]
    InvalidPrivateKey,
    #[error("not an RSA public key (SubjectPublicKeyInfo or PKCS#1, PEM or Base64 DER)")]
    InvalidPublicKey,
    #[error("RSA key has {bits} bits; at least {MIN_KEY_BITS} are required")]
    KeyTooSmall { bits: usize },
    #[error("nothing to encrypt")]
    EmptyPlaintext,
    #[error("ciphertext is empty")]
    EmptyCiphertext,
    #[error("ciphertext is not Base64")]
    CiphertextNotBase64,
    #[error("ciphertext is {len} bytes, not a whole number of {block_len}-byte blocks")]
    CiphertextLength { len: usize, block_len: usize },
    /// Wrong key, tampered data or bad padding; deliberately not told apart.
    #[error("ciphertext does not decrypt under this key")]
    Decryption,
    #[error("RSA operation failed")]
    Operation,
}

/// An RSA private key. `Debug` shows only its size, so it may sit in logged configuration.
#[derive(Clone)]
pub struct PrivateKey(RsaPrivateKey);

/// An RSA public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(RsaPublicKey);

impl PrivateKey {
    /// Reads a private key: PKCS#8 (ChainUp's form, chainup_mpc.md A2) or PKCS#1, either as PEM
    /// or as the bare Base64 DER that ChainUp's console hands out.
    pub fn parse(text: &str) -> Result<PrivateKey, RsaError> {
        let text = text.trim();
        let key = if is_pem(text) {
            RsaPrivateKey::from_pkcs8_pem(text)
                .or_else(|_| RsaPrivateKey::from_pkcs1_pem(text))
                .map_err(|_| RsaError::InvalidPrivateKey)?
        } else {
            let der = decode_lenient_base64(text).ok_or(RsaError::InvalidPrivateKey)?;
            RsaPrivateKey::from_pkcs8_der(&der)
                .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
                .map_err(|_| RsaError::InvalidPrivateKey)?
        };
        check_key_size(&key)?;
        Ok(PrivateKey(key))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.to_public_key())
    }

    /// Modulus length in bytes (k): the size of every ciphertext block.
    pub fn block_len(&self) -> usize {
        self.0.size()
    }
}

impl PublicKey {
    /// Reads a public key: X.509 SubjectPublicKeyInfo (ChainUp's and WaaS's `MIGfMA0G…` form,
    /// chainup_mpc.md A2, waas.md C1) or PKCS#1, either as PEM or as bare Base64 DER.
    pub fn parse(text: &str) -> Result<PublicKey, RsaError> {
        let text = text.trim();
        let key = if is_pem(text) {
            RsaPublicKey::from_public_key_pem(text)
                .or_else(|_| RsaPublicKey::from_pkcs1_pem(text))
                .map_err(|_| RsaError::InvalidPublicKey)?
        } else {
            let der = decode_lenient_base64(text).ok_or(RsaError::InvalidPublicKey)?;
            RsaPublicKey::from_public_key_der(&der)
                .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
                .map_err(|_| RsaError::InvalidPublicKey)?
        };
        check_key_size(&key)?;
        Ok(PublicKey(key))
    }

    /// Modulus length in bytes (k): the size of every ciphertext block.
    pub fn block_len(&self) -> usize {
        self.0.size()
    }

    /// The SubjectPublicKeyInfo DER in standard Base64: the PEM body without its header, footer
    /// and line breaks, which is what Co-Signer hashes in its key self-check (chainup_mpc.md A9b).
    pub fn to_spki_base64(&self) -> Result<String, RsaError> {
        use rsa::pkcs8::EncodePublicKey;
        let der = self
            .0
            .to_public_key_der()
            .map_err(|_| RsaError::Operation)?;
        Ok(STANDARD.encode(der.as_bytes()))
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({} bits)", self.0.n().bits())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({} bits)", self.0.n().bits())
    }
}

/// How an encrypted payload is written out. Reading is always lenient (any alphabet, padded or
/// not, line breaks ignored), per the README rule "send one strict form; accept every form".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Form {
    /// `-` `_`, no `=`, no line breaks: ChainUp MPC (chainup_mpc.md A3 step 4, A4).
    UrlSafeUnpadded,
    /// `+` `/` with `=` padding: WaaS (waas.md C1 step 3).
    StandardPadded,
}

impl Base64Form {
    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Base64Form::UrlSafeUnpadded => URL_SAFE_NO_PAD.encode(bytes),
            Base64Form::StandardPadded => STANDARD.encode(bytes),
        }
    }
}

/// ChainUp request encryption (chainup_mpc.md A3), also WaaS replies as the simulator sends them
/// (waas.md C1 "Response"): each chunk of at most k − 11 bytes is padded `00 01 FF…FF 00 chunk`
/// and raised to the private exponent, like OpenSSL `RSA_private_encrypt(RSA_PKCS1_PADDING)`.
/// The result is deterministic. Blocks are concatenated, then Base64-encoded as `form` says.
pub fn private_encrypt_chunked(
    key: &PrivateKey,
    plaintext: &[u8],
    form: Base64Form,
) -> Result<String, RsaError> {
    let blocks = encrypt_chunks(plaintext, key.block_len(), |chunk| {
        // An unprefixed PKCS#1 v1.5 "signature" of the raw chunk is exactly type-1 encryption;
        // the RNG blinds the private operation against timing attacks.
        key.0
            .sign_with_rng(&mut OsRng, Pkcs1v15Sign::new_unprefixed(), chunk)
            .map_err(|_| RsaError::Operation)
    })?;
    Ok(form.encode(&blocks))
}

/// ChainUp reply and callback decryption (chainup_mpc.md A4), also WaaS replies and callbacks
/// (waas.md C1, C3): per k-byte block the raw public operation, then a strict check of the type-1
/// padding `00 01`, at least eight `FF`, `00`. A block made with another key fails that check.
/// Accepts any Base64 alphabet, with or without `=`, and ignores whitespace.
pub fn public_decrypt_chunked(key: &PublicKey, ciphertext: &str) -> Result<Vec<u8>, RsaError> {
    decrypt_blocks(ciphertext, key.block_len(), |block| {
        recover_type1_block(&key.0, block)
    })
}

/// WaaS request and callback-reply encryption (waas.md C1 "Request encryption", C3 "Required
/// reply"): `RSA/ECB/PKCS1Padding` with the public key, i.e. random type-2 padding, over chunks of
/// at most k − 11 bytes (117 for RSA-1024). Blocks are concatenated, then Base64-encoded.
pub fn public_encrypt_chunked(
    key: &PublicKey,
    plaintext: &[u8],
    form: Base64Form,
) -> Result<String, RsaError> {
    let blocks = encrypt_chunks(plaintext, key.block_len(), |chunk| {
        key.0
            .encrypt(&mut OsRng, Pkcs1v15Encrypt, chunk)
            .map_err(|_| RsaError::Operation)
    })?;
    Ok(form.encode(&blocks))
}

/// The WaaS side of [`public_encrypt_chunked`], for the simulator (waas.md C1: WaaS keeps the
/// private key). Type-2 padding per k-byte block; any Base64 form accepted, whitespace ignored.
pub fn private_decrypt_chunked(key: &PrivateKey, ciphertext: &str) -> Result<Vec<u8>, RsaError> {
    decrypt_blocks(ciphertext, key.block_len(), |block| {
        key.0
            .decrypt_blinded(&mut OsRng, Pkcs1v15Encrypt, block)
            .map_err(|_| RsaError::Decryption)
    })
}

/// SHA256withRSA (PKCS#1 v1.5 with the SHA-256 DigestInfo) over `message`, as standard padded
/// Base64 (chainup_mpc.md A5 steps 5–6).
pub fn sign_sha256_with_rsa(key: &PrivateKey, message: &[u8]) -> Result<String, RsaError> {
    let digest = Sha256::digest(message);
    let signature = key
        .0
        .sign_with_rng(&mut OsRng, Pkcs1v15Sign::new::<Sha256>(), &digest)
        .map_err(|_| RsaError::Operation)?;
    Ok(STANDARD.encode(signature))
}

/// Checks a SHA256withRSA signature given in any Base64 form (chainup_mpc.md A5).
pub fn verify_sha256_with_rsa(key: &PublicKey, message: &[u8], signature: &str) -> bool {
    let Some(signature) = decode_lenient_base64(signature) else {
        return false;
    };
    let digest = Sha256::digest(message);
    key.0
        .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
        .is_ok()
}

fn is_pem(text: &str) -> bool {
    text.starts_with("-----BEGIN ")
}

fn check_key_size(key: &impl PublicKeyParts) -> Result<(), RsaError> {
    let bits = key.n().bits();
    if bits < MIN_KEY_BITS {
        return Err(RsaError::KeyTooSmall { bits });
    }
    Ok(())
}

/// Splits `plaintext` into chunks of at most `block_len - 11` bytes and concatenates the blocks
/// `encrypt_chunk` makes of them.
fn encrypt_chunks(
    plaintext: &[u8],
    block_len: usize,
    encrypt_chunk: impl Fn(&[u8]) -> Result<Vec<u8>, RsaError>,
) -> Result<Vec<u8>, RsaError> {
    // An empty payload would produce no blocks at all: nothing the receiver could authenticate.
    if plaintext.is_empty() {
        return Err(RsaError::EmptyPlaintext);
    }
    let mut ciphertext = Vec::with_capacity(plaintext.len().div_ceil(block_len) * block_len);
    for chunk in plaintext.chunks(block_len - PADDING_OVERHEAD) {
        ciphertext.extend_from_slice(&encrypt_chunk(chunk)?);
    }
    Ok(ciphertext)
}

/// Decodes `ciphertext`, cuts it into `block_len`-byte blocks and concatenates what
/// `decrypt_block` makes of each.
fn decrypt_blocks(
    ciphertext: &str,
    block_len: usize,
    decrypt_block: impl Fn(&[u8]) -> Result<Vec<u8>, RsaError>,
) -> Result<Vec<u8>, RsaError> {
    let ciphertext = decode_lenient_base64(ciphertext).ok_or(RsaError::CiphertextNotBase64)?;
    if ciphertext.is_empty() {
        return Err(RsaError::EmptyCiphertext);
    }
    if ciphertext.len() % block_len != 0 {
        return Err(RsaError::CiphertextLength {
            len: ciphertext.len(),
            block_len,
        });
    }
    let mut plaintext = Vec::with_capacity(ciphertext.len());
    for block in ciphertext.chunks(block_len) {
        plaintext.extend_from_slice(&decrypt_block(block)?);
    }
    Ok(plaintext)
}

/// Undoes one private-key block: `block^e mod n`, then the type-1 padding check.
fn recover_type1_block(key: &RsaPublicKey, block: &[u8]) -> Result<Vec<u8>, RsaError> {
    let c = BigUint::from_bytes_be(block);
    // A value at or above the modulus was not produced by the private operation.
    if &c >= key.n() {
        return Err(RsaError::Decryption);
    }
    let encoded = left_pad(&c.modpow(key.e(), key.n()).to_bytes_be(), block.len());
    strip_type1_padding(&encoded).map(<[u8]>::to_vec)
}

fn left_pad(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut padded = vec![0u8; len.saturating_sub(bytes.len())];
    padded.extend_from_slice(bytes);
    padded
}

/// The message inside `00 01 FF…FF 00 message`, with at least eight `FF`; anything else is an
/// error. (The provider's SDK skips the `FF` check and returns garbage on a wrong key,
/// chainup_mpc.md "Cross-check" 7.)
fn strip_type1_padding(encoded: &[u8]) -> Result<&[u8], RsaError> {
    let [0x00, 0x01, rest @ ..] = encoded else {
        return Err(RsaError::Decryption);
    };
    let padding_len = rest.iter().take_while(|&&byte| byte == 0xFF).count();
    match rest.get(padding_len) {
        Some(0x00) if padding_len >= MIN_TYPE1_PADDING => Ok(&rest[padding_len + 1..]),
        _ => Err(RsaError::Decryption),
    }
}

/// Base64 in any alphabet (`+/` or `-_`), padded or not, with whitespace and line breaks
/// ignored: Java's commons-codec wraps at 76 columns (chainup_mpc.md A3 step 4).
fn decode_lenient_base64(text: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let standard: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    LENIENT.decode(standard).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
    use rsa::pkcs8::EncodePrivateKey;

    // Test pairs from config/sim (2048 bits): the gateway's, and a provider's.
    const GATEWAY_PRIVATE: &str = include_str!("../../../config/sim/chainup_gateway_private.pem");
    const GATEWAY_PUBLIC: &str = include_str!("../../../config/sim/chainup_gateway_public.pem");
    const PROVIDER_PRIVATE: &str = include_str!("../../../config/sim/chainup_sim_private.pem");
    const PROVIDER_PUBLIC: &str = include_str!("../../../config/sim/chainup_sim_public.pem");
    const WAAS_PRIVATE: &str = include_str!("../../../config/sim/waas_private.pem");
    const WAAS_PUBLIC: &str = include_str!("../../../config/sim/waas_public.pem");

    /// The ChainUp sign vector's MD5 (chainup_mpc.md A5; shared/providers/README.md).
    const SIGN_VECTOR_MD5: &str = "c10c47a46b616526e739985ce1c7f15d";

    /// `openssl pkeyutl -sign -pkeyopt rsa_padding_mode:pkcs1` (raw type-1, no digest) of
    /// `{"code":"0","msg":"ok"}` with chainup_sim_private.pem, URL-safe Base64 without `=`.
    const OPENSSL_PRIVATE_ENCRYPT: &str = "HMoX5HIqkOc1yNqt1B1QMhG43AzuXftwhqrPQRqPL4SRXH62ImEeMJ7LglRbqwKZLJZqhCZkLfCWvUcMHCQTg_JWSQnJePKPmYsWGjSL9B3qiwyQkdTvrcj8pkeferBdWuDvrwLRXG2gKZMp4q9ET-9xBi8T_4-A7lTyZ6g5dejTr13tVmMXXWiJWpAUf_jGh43uwO7hqRDuOkO42egFYPnJXCsJ1m6dMJeOkfjCgH2uoYZJDPsvEEc2thr3KHI6rdI8_u2ZTOwF5-jp42WVqzKZQsKb4uXflvYDFNPIWz6S7YP2iZfm1mYxvvYiU_oSN1qoXejCGkRIjlB3gW3W7w";

    /// `openssl dgst -sha256 -sign chainup_gateway_private.pem` of the vector's MD5 hex, Base64.
    const OPENSSL_SHA256_SIGNATURE: &str = "vXuDSBpio6XIVQL3iPSOg7JFwn6ySszIqH9I6oXSeCxq6KoYJ9EWZkAhfl1YLZ1p83DzYkY1yLQWd/ELA4XrBBh/aiXq42Y+yEPEiWUuSkkwFlDhT5MsAFV4OdYWAIDGV4CytYeNQXW6lNy8nRyi5uqg3w+/fwdTRBTiXAoy5Nkams/iS07YlT494SJKxr05mHQuor7IMNSCudNgwzrijvu9sdtrUkXZtW8ZBR7LuCUQMIJOSpak96DkCzTpY1J4yDGcmVE9k10gV+hAXj4Q+KeuxeYmL7xVf9LdbX9iMDit50PW67J/7Hen0xP8vYYiw8wZmXGFJQxnpEykbrJ50w==";

    fn private_key(pem: &str) -> PrivateKey {
        PrivateKey::parse(pem).expect("test key loads")
    }

    fn public_key(pem: &str) -> PublicKey {
        PublicKey::parse(pem).expect("test key loads")
    }

    /// The Base64 body of a PEM file on one line: the form ChainUp's console hands out.
    fn bare_base64_der(pem: &str) -> String {
        pem.lines()
            .filter(|line| !line.starts_with("-----"))
            .collect()
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"{\"k\":\"v\"}0123456789"[i % 19])
            .collect()
    }

    // --- key loading ---

    #[test]
    fn loads_pkcs8_and_spki_pem() {
        let private = private_key(GATEWAY_PRIVATE);
        let public = public_key(GATEWAY_PUBLIC);
        assert_eq!(private.public_key(), public);
        assert_eq!(private.block_len(), 256);
        assert_eq!(public_key(WAAS_PUBLIC).block_len(), 128);
    }

    #[test]
    fn loads_bare_base64_der_as_consoles_hand_it_out() {
        let private = PrivateKey::parse(&bare_base64_der(GATEWAY_PRIVATE)).unwrap();
        let public = PublicKey::parse(&bare_base64_der(GATEWAY_PUBLIC)).unwrap();
        assert_eq!(private.public_key(), public);
        assert_eq!(public, public_key(GATEWAY_PUBLIC));
        assert!(bare_base64_der(WAAS_PUBLIC).starts_with("MIGfMA0G"));
        assert_eq!(
            PublicKey::parse(&bare_base64_der(WAAS_PUBLIC)).unwrap(),
            public_key(WAAS_PUBLIC)
        );
    }

    #[test]
    fn loads_pkcs1_pem_and_der() {
        let original = private_key(WAAS_PRIVATE);
        let pkcs1_private_pem = original.0.to_pkcs1_pem(LineEnding::LF).unwrap();
        let pkcs1_private_der = STANDARD.encode(original.0.to_pkcs1_der().unwrap().as_bytes());
        let pkcs1_public_pem = original.0.to_public_key().to_pkcs1_pem(LineEnding::CRLF);
        let pkcs1_public_der = original.0.to_public_key().to_pkcs1_der().unwrap();

        assert!(pkcs1_private_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let from_pem = PrivateKey::parse(&pkcs1_private_pem).unwrap();
        let from_der = PrivateKey::parse(&pkcs1_private_der).unwrap();
        assert_eq!(from_pem.public_key(), original.public_key());
        assert_eq!(from_der.public_key(), original.public_key());

        let from_pem = PublicKey::parse(&pkcs1_public_pem.unwrap()).unwrap();
        let from_der = PublicKey::parse(&STANDARD.encode(pkcs1_public_der.as_bytes())).unwrap();
        assert_eq!(from_pem, original.public_key());
        assert_eq!(from_der, original.public_key());
    }

    #[test]
    fn loaded_keys_work_whatever_the_source_form() {
        let from_der = PrivateKey::parse(&bare_base64_der(PROVIDER_PRIVATE)).unwrap();
        let ciphertext =
            private_encrypt_chunked(&from_der, b"{}", Base64Form::UrlSafeUnpadded).unwrap();
        let public = PublicKey::parse(&bare_base64_der(PROVIDER_PUBLIC)).unwrap();
        assert_eq!(public_decrypt_chunked(&public, &ciphertext).unwrap(), b"{}");
    }

    #[test]
    fn rejects_what_is_not_a_key_without_echoing_it() {
        let truncated = &GATEWAY_PRIVATE[..600];
        let err = PrivateKey::parse(truncated).unwrap_err();
        assert_eq!(err, RsaError::InvalidPrivateKey);
        let body_fragment = &bare_base64_der(GATEWAY_PRIVATE)[40..60];
        assert!(!err.to_string().contains(body_fragment));
        assert!(!format!("{err:?}").contains(body_fragment));

        assert_eq!(
            PrivateKey::parse("").unwrap_err(),
            RsaError::InvalidPrivateKey
        );
        assert_eq!(
            PrivateKey::parse("not base64 at all!").unwrap_err(),
            RsaError::InvalidPrivateKey
        );
        assert_eq!(
            PrivateKey::parse(GATEWAY_PUBLIC).unwrap_err(),
            RsaError::InvalidPrivateKey
        );
        assert_eq!(
            PublicKey::parse(GATEWAY_PRIVATE).unwrap_err(),
            RsaError::InvalidPublicKey
        );
        assert_eq!(
            PublicKey::parse("MIGfMA0G").unwrap_err(),
            RsaError::InvalidPublicKey
        );
    }

    #[test]
    fn rejects_keys_under_1024_bits() {
        let small = RsaPrivateKey::new(&mut OsRng, 512).unwrap();
        let der = STANDARD.encode(small.to_pkcs8_der().unwrap().as_bytes());
        assert_eq!(
            PrivateKey::parse(&der).unwrap_err(),
            RsaError::KeyTooSmall { bits: 512 }
        );
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let key = private_key(GATEWAY_PRIVATE);
        assert_eq!(format!("{key:?}"), "PrivateKey(2048 bits)");
        assert_eq!(format!("{:?}", key.public_key()), "PublicKey(2048 bits)");
    }

    // --- ChainUp direction: private-key encryption, public-key recovery ---

    #[test]
    fn private_encrypt_round_trips_below_at_and_above_one_block() {
        let private = private_key(GATEWAY_PRIVATE);
        let public = public_key(GATEWAY_PUBLIC);
        for (len, blocks) in [(1, 1), (100, 1), (245, 1), (246, 2), (490, 2), (1000, 5)] {
            let plaintext = payload(len);
            let ciphertext =
                private_encrypt_chunked(&private, &plaintext, Base64Form::UrlSafeUnpadded).unwrap();
            let raw = URL_SAFE_NO_PAD.decode(&ciphertext).unwrap();
            assert_eq!(raw.len(), blocks * 256, "{len} bytes make {blocks} blocks");
            assert_eq!(
                public_decrypt_chunked(&public, &ciphertext).unwrap(),
                plaintext
            );
        }
    }

    #[test]
    fn private_key_output_is_url_safe_without_padding_or_line_breaks() {
        let ciphertext = private_encrypt_chunked(
            &private_key(GATEWAY_PRIVATE),
            &payload(1000),
            Base64Form::UrlSafeUnpadded,
        )
        .unwrap();
        assert!(
            ciphertext
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn private_encrypt_matches_openssl_byte_for_byte() {
        let ciphertext = private_encrypt_chunked(
            &private_key(PROVIDER_PRIVATE),
            br#"{"code":"0","msg":"ok"}"#,
            Base64Form::UrlSafeUnpadded,
        )
        .unwrap();
        assert_eq!(ciphertext, OPENSSL_PRIVATE_ENCRYPT);
    }

    #[test]
    fn public_decrypt_reads_what_openssl_made() {
        let plaintext =
            public_decrypt_chunked(&public_key(PROVIDER_PUBLIC), OPENSSL_PRIVATE_ENCRYPT).unwrap();
        assert_eq!(plaintext, br#"{"code":"0","msg":"ok"}"#);
    }

    #[test]
    fn public_decrypt_accepts_any_base64_form_and_whitespace() {
        let private = private_key(PROVIDER_PRIVATE);
        let public = public_key(PROVIDER_PUBLIC);
        // Five 256-byte blocks: 1280 bytes, so the padded forms end in one `=`.
        let plaintext = payload(1000);
        let url_safe =
            private_encrypt_chunked(&private, &plaintext, Base64Form::UrlSafeUnpadded).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&url_safe).unwrap();
        let standard = STANDARD.encode(&raw);
        assert!(standard.ends_with('=') && standard.contains(['+', '/']));

        let wrapped_crlf = standard
            .as_bytes()
            .chunks(76)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
        let url_safe_padded = URL_SAFE.encode(&raw);
        let spaced = format!("  {}\n {}\t\n", &url_safe[..100], &url_safe[100..]);
        let standard_unpadded = standard.trim_end_matches('=').to_owned();

        for form in [
            &url_safe,
            &standard,
            &wrapped_crlf,
            &url_safe_padded,
            &spaced,
            &standard_unpadded,
        ] {
            assert_eq!(public_decrypt_chunked(&public, form).unwrap(), plaintext);
        }
    }

    #[test]
    fn public_decrypt_reads_java_sdk_234_byte_chunks() {
        // chainup_mpc.md A3 step 2: the Java SDK cuts 234-byte chunks, not 245.
        let private = private_key(PROVIDER_PRIVATE);
        let plaintext = payload(500);
        let mut raw = Vec::new();
        for chunk in plaintext.chunks(234) {
            let block = private_encrypt_chunked(&private, chunk, Base64Form::UrlSafeUnpadded);
            raw.extend(URL_SAFE_NO_PAD.decode(block.unwrap()).unwrap());
        }
        assert_eq!(raw.len(), 3 * 256);
        let ciphertext = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(
            public_decrypt_chunked(&public_key(PROVIDER_PUBLIC), &ciphertext).unwrap(),
            plaintext
        );
    }

    #[test]
    fn private_encrypt_is_deterministic() {
        let key = private_key(GATEWAY_PRIVATE);
        let once = private_encrypt_chunked(&key, b"same", Base64Form::UrlSafeUnpadded).unwrap();
        let twice = private_encrypt_chunked(&key, b"same", Base64Form::UrlSafeUnpadded).unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn ciphertext_from_another_private_key_is_an_error() {
        let from_simulator = private_encrypt_chunked(
            &private_key(PROVIDER_PRIVATE),
            &payload(300),
            Base64Form::UrlSafeUnpadded,
        )
        .unwrap();
        assert_eq!(
            public_decrypt_chunked(&public_key(GATEWAY_PUBLIC), &from_simulator),
            Err(RsaError::Decryption)
        );
    }

    #[test]
    fn tampered_ciphertext_is_an_error() {
        let private = private_key(GATEWAY_PRIVATE);
        let public = public_key(GATEWAY_PUBLIC);
        let ciphertext =
            private_encrypt_chunked(&private, &payload(300), Base64Form::UrlSafeUnpadded).unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(&ciphertext).unwrap();
        raw[300] ^= 0x01; // inside the second block
        assert_eq!(
            public_decrypt_chunked(&public, &URL_SAFE_NO_PAD.encode(&raw)),
            Err(RsaError::Decryption)
        );
    }

    #[test]
    fn malformed_ciphertext_is_an_error() {
        let public = public_key(GATEWAY_PUBLIC);
        assert_eq!(
            public_decrypt_chunked(&public, ""),
            Err(RsaError::EmptyCiphertext)
        );
        assert_eq!(
            public_decrypt_chunked(&public, "not*base64"),
            Err(RsaError::CiphertextNotBase64)
        );
        assert_eq!(
            public_decrypt_chunked(&public, &STANDARD.encode([7u8; 255])),
            Err(RsaError::CiphertextLength {
                len: 255,
                block_len: 256
            })
        );
        // At or above the modulus: never the output of the private operation.
        assert_eq!(
            public_decrypt_chunked(&public, &STANDARD.encode([0xFFu8; 256])),
            Err(RsaError::Decryption)
        );
        // Plaintext JSON where a ciphertext belongs (chainup_mpc.md A4: error replies may be plain).
        assert!(public_decrypt_chunked(&public, r#"{"code":"100005","msg":"x"}"#).is_err());
    }

    #[test]
    fn empty_plaintext_is_refused() {
        assert_eq!(
            private_encrypt_chunked(
                &private_key(GATEWAY_PRIVATE),
                b"",
                Base64Form::UrlSafeUnpadded
            ),
            Err(RsaError::EmptyPlaintext)
        );
        assert_eq!(
            public_encrypt_chunked(&public_key(WAAS_PUBLIC), b"", Base64Form::StandardPadded),
            Err(RsaError::EmptyPlaintext)
        );
    }

    #[test]
    fn type1_padding_is_checked_strictly() {
        let block = |head: &[u8], ff: usize, tail: &[u8]| {
            let mut b = head.to_vec();
            b.extend(std::iter::repeat_n(0xFF, ff));
            b.extend_from_slice(tail);
            b
        };
        assert_eq!(
            strip_type1_padding(&block(&[0, 1], 8, &[0, b'h', b'i'])),
            Ok(&b"hi"[..])
        );
        assert_eq!(strip_type1_padding(&block(&[0, 1], 8, &[0])), Ok(&b""[..]));
        let refused = [
            block(&[0, 1], 7, &[0, b'h']),             // fewer than eight FF
            block(&[0, 2], 8, &[0, b'h']),             // type 2, not type 1
            block(&[1, 1], 8, &[0, b'h']),             // no leading zero
            block(&[0, 1], 8, &[0xFE, 0, b'h']),       // a non-FF byte in the padding
            block(&[0, 1], 20, &[]),                   // no separator
            block(&[0, 1, 0xFF, 0x00], 8, &[0, b'h']), // separator after only one FF
        ];
        for encoded in refused {
            assert_eq!(strip_type1_padding(&encoded), Err(RsaError::Decryption));
        }
    }

    // --- WaaS direction: public-key encryption, private-key decryption ---

    #[test]
    fn public_encrypt_round_trips_below_at_and_above_one_block() {
        let public = public_key(WAAS_PUBLIC);
        let private = private_key(WAAS_PRIVATE);
        for (len, blocks) in [(1, 1), (60, 1), (117, 1), (118, 2), (234, 2), (500, 5)] {
            let plaintext = payload(len);
            let ciphertext =
                public_encrypt_chunked(&public, &plaintext, Base64Form::StandardPadded).unwrap();
            let raw = STANDARD.decode(&ciphertext).unwrap();
            assert_eq!(raw.len(), blocks * 128, "{len} bytes make {blocks} blocks");
            assert_eq!(
                private_decrypt_chunked(&private, &ciphertext).unwrap(),
                plaintext
            );
        }
    }

    #[test]
    fn waas_output_is_standard_base64_and_randomised() {
        let public = public_key(WAAS_PUBLIC);
        let once = public_encrypt_chunked(&public, b"{}", Base64Form::StandardPadded).unwrap();
        let twice = public_encrypt_chunked(&public, b"{}", Base64Form::StandardPadded).unwrap();
        assert_ne!(once, twice, "type-2 padding is random");
        assert_eq!(STANDARD.encode(STANDARD.decode(&once).unwrap()), once);
        assert!(
            once.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        );
    }

    #[test]
    fn waas_private_decrypt_refuses_another_keys_ciphertext() {
        let ciphertext = public_encrypt_chunked(
            &private_key(WAAS_PRIVATE).public_key(),
            &payload(200),
            Base64Form::StandardPadded,
        )
        .unwrap();
        // Another 1024-bit key, so the block length matches and only the key differs.
        let other = RsaPrivateKey::new(&mut OsRng, 1024).unwrap();
        let other =
            PrivateKey::parse(&STANDARD.encode(other.to_pkcs8_der().unwrap().as_bytes())).unwrap();
        assert_eq!(
            private_decrypt_chunked(&other, &ciphertext),
            Err(RsaError::Decryption)
        );
    }

    #[test]
    fn waas_replies_and_callbacks_round_trip_with_the_private_key() {
        // waas.md C1 "Response", C3: WaaS encrypts with its private key, the gateway recovers.
        let private = private_key(WAAS_PRIVATE);
        let public = public_key(WAAS_PUBLIC);
        for len in [1, 117, 118, 500] {
            let plaintext = payload(len);
            let ciphertext =
                private_encrypt_chunked(&private, &plaintext, Base64Form::StandardPadded).unwrap();
            assert_eq!(STANDARD.decode(&ciphertext).unwrap().len() % 128, 0);
            assert_eq!(
                public_decrypt_chunked(&public, &ciphertext).unwrap(),
                plaintext
            );
        }
    }

    // --- SHA256withRSA ---

    #[test]
    fn sha256_with_rsa_signs_the_reference_vector_and_verifies() {
        let private = private_key(GATEWAY_PRIVATE);
        let public = public_key(GATEWAY_PUBLIC);
        let md5 = crate::providers::crypto::md5_hex(&[
            "address_to=0x5edc9177997bf6b4db559a5c184051858b3b3704&amount=1.0001",
        ]);
        assert_eq!(md5, SIGN_VECTOR_MD5);

        let signature = sign_sha256_with_rsa(&private, md5.as_bytes()).unwrap();
        assert_eq!(signature, OPENSSL_SHA256_SIGNATURE);
        assert!(verify_sha256_with_rsa(&public, md5.as_bytes(), &signature));
        assert!(!verify_sha256_with_rsa(
            &public_key(PROVIDER_PUBLIC),
            md5.as_bytes(),
            &signature
        ));
        assert!(!verify_sha256_with_rsa(
            &public,
            b"c10c47a46b616526e739985ce1c7f15e",
            &signature
        ));
        assert!(!verify_sha256_with_rsa(
            &public,
            md5.as_bytes(),
            "not base64!"
        ));
        assert!(!verify_sha256_with_rsa(&public, md5.as_bytes(), ""));
    }

    #[test]
    fn sha256_with_rsa_verify_accepts_url_safe_signatures() {
        let private = private_key(GATEWAY_PRIVATE);
        let signature = sign_sha256_with_rsa(&private, b"message").unwrap();
        let url_safe = URL_SAFE_NO_PAD.encode(STANDARD.decode(&signature).unwrap());
        assert!(verify_sha256_with_rsa(
            &private.public_key(),
            b"message",
            &url_safe
        ));
    }
}
