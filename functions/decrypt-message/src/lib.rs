//! The decrypt-message function: opens an AES-256-GCM envelope read from storage.
//!
//! Request: `{"key":"decrypt-message/g1/sealed.json","secret":"<64 hex digits>"}`,
//! or encrypt-message's response, so the two chain as a workflow: the
//! envelope's key as `output_key` (or the envelope itself as `envelope`),
//! the `secret` (encrypt-message's `forward`), and its summary fields
//! (`plaintext_bytes`, checked against the message; `envelope_bytes`, `sha256`).
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
    /// Storage key of the envelope (`output_key` in encrypt-message's response).
    #[serde(default, alias = "output_key")]
    pub key: Option<String>,
    /// The envelope itself (encrypt-message's response without `output_key`).
    #[serde(default)]
    pub envelope: Option<Envelope>,
    /// The AES-256 key, 64 hex digits.
    pub secret: String,
    /// encrypt-message's response: the message's length, checked.
    #[serde(default)]
    pub plaintext_bytes: Option<usize>,
    /// encrypt-message's response: the envelope's length, accepted.
    #[serde(default)]
    pub envelope_bytes: Option<usize>,
    /// encrypt-message's response: the envelope's sha256, accepted.
    #[serde(default)]
    pub sha256: Option<String>,
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
    let (sealed, from): (Envelope, String) = match (input.key, input.envelope) {
        (Some(k), None) => (req.fetch_json(&k)?, k),
        (None, Some(e)) => (e, "envelope (in the request)".into()),
        (Some(_), Some(_)) => {
            return Err(Error::bad_request(
                "give the envelope's `key` (or `output_key`) or the `envelope`, not both",
            ))
        }
        (None, None) => {
            return Err(Error::bad_request(
                "no envelope: give its storage `key` (or `output_key`, as encrypt-message answers) or the `envelope`",
            ))
        }
    };
    let (nonce, ciphertext) = req
        .deserialize_with(|| envelope::decode(&sealed))
        .map_err(|e| Error::BadData {
            key: from.clone(),
            message: e.to_string(),
        })?;
    let plain = envelope::decrypt(&key, &nonce, &ciphertext).map_err(Error::msg)?;
    let message =
        String::from_utf8(plain).map_err(|_| Error::msg(envelope::EnvelopeError::NotUtf8))?;
    if let Some(n) = input.plaintext_bytes.filter(|n| *n != message.len()) {
        return Err(Error::BadData {
            key: from,
            message: format!(
                "the message has {} bytes; the request says plaintext_bytes {n}",
                message.len()
            ),
        });
    }
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
    fn takes_encrypt_messages_response_as_its_request() {
        let doc = serde_json::to_vec(&encrypt_message::Message {
            message: "chained".into(),
        })
        .unwrap();
        let mut store = MemoryStorage::with([("plain", doc)]);
        for output_key in [r#","output_key":"sealed""#, ""] {
            let body = format!(
                r#"{{"key":"plain","secret":"{SECRET}"{output_key},"forward":{{"secret":"{SECRET}"}}}}"#
            );
            let resp =
                encrypt_message::handler(&mut Request::with_storage(body.into_bytes(), &mut store))
                    .unwrap();
            let mut req = Request::with_storage(resp.body().to_vec(), &mut store);
            let out: serde_json::Value =
                serde_json::from_slice(handler(&mut req).unwrap().body()).unwrap();
            assert_eq!(out["preview"], "chained", "{output_key}");
        }
        // A response that does not fit what it opened is refused.
        let body = format!(r#"{{"output_key":"sealed","secret":"{SECRET}","plaintext_bytes":3}}"#);
        let mut req = Request::with_storage(body.into_bytes(), &mut store);
        assert!(matches!(handler(&mut req), Err(Error::BadData { .. })));
        let body = format!(r#"{{"secret":"{SECRET}"}}"#);
        let mut req = Request::with_storage(body.into_bytes(), &mut store);
        assert_eq!(
            handler(&mut req).unwrap_err().kind(),
            lumos_sdk::ErrorKind::BadRequest
        );
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
