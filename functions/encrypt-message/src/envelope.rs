//! The sealed-message format written by encrypt-message and read by decrypt-message.
//!
//! An envelope is a JSON object:
//! `{"v":1,"alg":"AES-256-GCM","nonce":"<24 hex digits>","ciphertext":"<base64, standard, padded>"}`,
//! where `ciphertext` is the AES-256-GCM ciphertext of the message's UTF-8
//! bytes followed by the 16-byte tag, with no associated data. Trailing JSON
//! whitespace after the object is allowed (payload generation pads with it).
//!
//! The nonce is synthetic, not random: the first 12 bytes of
//! `SHA-256("lumos/encrypt-message/nonce/v1" || key || message)`. The same
//! message under the same key always gives the same envelope (which a
//! benchmark wants, and which reveals only that two messages are equal);
//! different messages never share a nonce unless SHA-256 collides in 96 bits.
//! No random source is needed at run time, on native or wasm.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The only algorithm name an envelope carries.
pub const ALGORITHM: &str = "AES-256-GCM";
/// The envelope format version.
pub const VERSION: u32 = 1;
const NONCE_DOMAIN: &[u8] = b"lumos/encrypt-message/nonce/v1";

/// A sealed message, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Format version, 1.
    pub v: u32,
    /// Always `AES-256-GCM`.
    pub alg: String,
    /// The 96-bit nonce, hex.
    pub nonce: String,
    /// Ciphertext and tag, base64.
    pub ciphertext: String,
}

/// What can go wrong with a key or an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The secret is not 64 hex digits.
    BadKey(String),
    /// The envelope is not version 1 AES-256-GCM, or a field does not decode.
    Malformed(String),
    /// The tag did not verify: wrong key, or the envelope was altered.
    Authentication,
    /// The decrypted bytes are not UTF-8.
    NotUtf8,
}

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvelopeError::BadKey(m) => write!(f, "bad secret: {m}"),
            EnvelopeError::Malformed(m) => write!(f, "malformed envelope: {m}"),
            EnvelopeError::Authentication => write!(
                f,
                "authentication failed: wrong secret or altered ciphertext"
            ),
            EnvelopeError::NotUtf8 => write!(f, "the decrypted message is not UTF-8"),
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// Parses a 256-bit key from 64 hex digits.
pub fn parse_key(secret_hex: &str) -> Result<[u8; 32], EnvelopeError> {
    let bytes = hex::decode(secret_hex.trim()).map_err(|e| EnvelopeError::BadKey(e.to_string()))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        EnvelopeError::BadKey(format!("{} bytes, need 32 (64 hex digits)", b.len()))
    })
}

/// The synthetic nonce for `message` under `key`.
pub fn nonce_for(key: &[u8; 32], message: &[u8]) -> [u8; 12] {
    let digest = Sha256::new()
        .chain_update(NONCE_DOMAIN)
        .chain_update(key)
        .chain_update(message)
        .finalize();
    digest[..12]
        .try_into()
        .expect("a sha256 digest has 32 bytes")
}

/// Encrypts `message`: returns (nonce, ciphertext with tag).
pub fn encrypt(key: &[u8; 32], message: &[u8]) -> ([u8; 12], Vec<u8>) {
    let nonce = nonce_for(key, message);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), message)
        .expect("AES-GCM encrypts any message below 64 GiB");
    (nonce, sealed)
}

/// Wraps an encryption into an envelope (the base64 encoding is the caller's serialization).
pub fn envelope(nonce: &[u8; 12], sealed: &[u8]) -> Envelope {
    Envelope {
        v: VERSION,
        alg: ALGORITHM.to_owned(),
        nonce: hex::encode(nonce),
        ciphertext: base64::engine::general_purpose::STANDARD.encode(sealed),
    }
}

/// Seals `message` under `key` into an envelope.
pub fn seal(key: &[u8; 32], message: &str) -> Envelope {
    let (nonce, sealed) = encrypt(key, message.as_bytes());
    envelope(&nonce, &sealed)
}

/// Decodes an envelope's fields: (nonce, ciphertext with tag).
pub fn decode(envelope: &Envelope) -> Result<([u8; 12], Vec<u8>), EnvelopeError> {
    if envelope.v != VERSION || envelope.alg != ALGORITHM {
        return Err(EnvelopeError::Malformed(format!(
            "version {} algorithm {:?}",
            envelope.v, envelope.alg
        )));
    }
    let nonce: [u8; 12] = hex::decode(&envelope.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| EnvelopeError::Malformed("nonce is not 24 hex digits".into()))?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&envelope.ciphertext)
        .map_err(|e| EnvelopeError::Malformed(format!("ciphertext: {e}")))?;
    Ok((nonce, sealed))
}

/// Decrypts a decoded envelope, verifying its tag.
pub fn decrypt(key: &[u8; 32], nonce: &[u8; 12], sealed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(Nonce::from_slice(nonce), sealed)
        .map_err(|_| EnvelopeError::Authentication)
}

/// Opens an envelope into the message text.
pub fn open(key: &[u8; 32], envelope: &Envelope) -> Result<String, EnvelopeError> {
    let (nonce, sealed) = decode(envelope)?;
    String::from_utf8(decrypt(key, &nonce, &sealed)?).map_err(|_| EnvelopeError::NotUtf8)
}
