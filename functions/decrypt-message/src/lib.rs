//! The decrypt-message function: opens an AES-256-GCM envelope read from storage.
//!
//! Request: `{"key":"decrypt-message/g1/sealed.json","secret":"<64 hex digits>"}`.
//!
//! The object under `key` is an envelope in encrypt-message's format
//! ([`encrypt_message::envelope`]). The function reads it (io), decodes the
//! JSON and the base64 ciphertext (deserialize), verifies and decrypts it
//! (compute) and answers with a summary of the message (serialize).
//! A wrong secret or an altered envelope is an error ("authentication failed").
//!
//! Response: `{"message_bytes":N,"sha256":"<of the message>","preview":"<first 64 characters>"}`.

use encrypt_message::envelope::{self, Envelope};
use lumos_sdk::{Error, Request, Response, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How many characters of the message the response shows.
pub const PREVIEW_CHARS: usize = 64;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Storage key of the envelope.
    pub key: String,
    /// The AES-256 key, 64 hex digits.
    pub secret: String,
}

/// The response body.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    /// Bytes of the decrypted message.
    pub message_bytes: usize,
    /// sha256 of the decrypted message, hex.
    pub sha256: String,
    /// Its first characters.
    pub preview: String,
}

/// Summarises a decrypted message.
pub fn summarize(message: &str) -> Output {
    Output {
        message_bytes: message.len(),
        sha256: hex::encode(Sha256::digest(message.as_bytes())),
        preview: message.chars().take(PREVIEW_CHARS).collect(),
    }
}

/// The lumos handler.
pub fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    let key = envelope::parse_key(&input.secret).map_err(Error::bad_request)?;
    let sealed: Envelope = req.fetch_json(&input.key)?;
    let (nonce, ciphertext) = req
        .deserialize_with(|| envelope::decode(&sealed))
        .map_err(|e| Error::BadData {
            key: input.key.clone(),
            message: e.to_string(),
        })?;
    let plain = envelope::decrypt(&key, &nonce, &ciphertext).map_err(Error::msg)?;
    let message =
        String::from_utf8(plain).map_err(|_| Error::msg(envelope::EnvelopeError::NotUtf8))?;
    req.respond_json(&summarize(&message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumos_sdk::MemoryStorage;

    const SECRET: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    fn run(store: &mut MemoryStorage, secret: &str) -> Result<serde_json::Value> {
        let body = format!(r#"{{"key":"sealed","secret":"{secret}"}}"#);
        let mut req = Request::with_storage(body.into_bytes(), store);
        handler(&mut req).map(|r| serde_json::from_slice(r.body()).unwrap())
    }

    #[test]
    fn decrypts_what_encrypt_writes() {
        let text = "Hola, ¿qué tal? This message went through encrypt-message's format.";
        let key = envelope::parse_key(SECRET).unwrap();
        let stored = serde_json::to_vec(&envelope::seal(&key, text)).unwrap();
        let mut store = MemoryStorage::with([("sealed", stored)]);
        let out = run(&mut store, SECRET).unwrap();
        assert_eq!(out["message_bytes"], text.len());
        assert_eq!(out["sha256"], hex::encode(Sha256::digest(text.as_bytes())));
        assert_eq!(out["preview"], text.chars().take(64).collect::<String>());
    }

    #[test]
    fn end_to_end_through_the_encrypt_handler() {
        let doc = serde_json::to_vec(&encrypt_message::Message {
            message: "round trip".into(),
        })
        .unwrap();
        let mut store = MemoryStorage::with([("plain", doc)]);
        let body = format!(r#"{{"key":"plain","secret":"{SECRET}","output_key":"sealed"}}"#);
        encrypt_message::handler(&mut Request::with_storage(body.into_bytes(), &mut store))
            .unwrap();
        assert_eq!(run(&mut store, SECRET).unwrap()["preview"], "round trip");
    }

    #[test]
    fn tampering_and_wrong_key_fail() {
        let key = envelope::parse_key(SECRET).unwrap();
        let mut sealed = envelope::seal(&key, "do not alter");
        let mut store = MemoryStorage::with([("sealed", serde_json::to_vec(&sealed).unwrap())]);
        let wrong = SECRET.replace("1f1e", "0f1e");
        let err = run(&mut store, &wrong).unwrap_err();
        assert!(err.to_string().contains("authentication failed"), "{err}");
        // Flip one base64 character of the ciphertext.
        let first = sealed.ciphertext.remove(0);
        sealed
            .ciphertext
            .insert(0, if first == 'A' { 'B' } else { 'A' });
        store
            .objects
            .insert("sealed".into(), serde_json::to_vec(&sealed).unwrap());
        assert!(run(&mut store, SECRET)
            .unwrap_err()
            .to_string()
            .contains("authentication failed"));
        store.objects.insert("sealed".into(), b"{\"v\":1}".to_vec());
        assert!(matches!(
            run(&mut store, SECRET),
            Err(Error::BadData { .. })
        ));
    }
}
