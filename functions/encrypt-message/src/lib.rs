//! The encrypt-message function: AES-256-GCM encryption of a message read from storage.
//!
//! Request: `{"key":"encrypt-message/g1/message.json","secret":"<64 hex digits>","output_key":"encrypt-message/g1/sealed.json","forward":{…}}`
//! (`output_key` and `forward` optional).
//!
//! The object under `key` is a JSON document `{"message":"<text>"}`. The
//! function reads it (io), decodes it (deserialize), encrypts the message's
//! UTF-8 bytes (compute), encodes the [`envelope::Envelope`] as JSON with a
//! base64 ciphertext (serialize) and, when `output_key` is given, stores it
//! there (io). Without `output_key` the envelope is returned in the response.
//!
//! Response: `{"plaintext_bytes":N,"envelope_bytes":M,"sha256":"<of the envelope JSON>","output_key":"…"}`
//! or, without `output_key`, `{"plaintext_bytes":N,"envelope_bytes":M,"sha256":"…","envelope":{…}}`,
//! plus the fields of `forward`, copied as they are: what a next step of a
//! workflow needs beside the envelope (decrypt-message takes this response
//! as its request when `forward` carries its `secret`).

pub mod envelope;

use lumos_sdk::{Error, Request, Response, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Storage key of the message document.
    pub key: String,
    /// The AES-256 key, 64 hex digits.
    pub secret: String,
    /// Where to store the envelope; absent: return it.
    #[serde(default)]
    pub output_key: Option<String>,
    /// Fields copied into the response as they are, for the next step of a
    /// workflow (none may be named like a response field).
    #[serde(default)]
    pub forward: serde_json::Map<String, serde_json::Value>,
}

/// The stored message document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The text to encrypt.
    pub message: String,
}

/// The response body.
#[derive(Debug, Serialize)]
pub struct Output {
    /// Bytes of the message text.
    pub plaintext_bytes: usize,
    /// Bytes of the envelope JSON.
    pub envelope_bytes: usize,
    /// sha256 of the envelope JSON, hex.
    pub sha256: String,
    /// Where the envelope was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_key: Option<String>,
    /// The envelope, when it was not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<envelope::Envelope>,
    /// The request's `forward` fields.
    #[serde(flatten)]
    pub forward: serde_json::Map<String, serde_json::Value>,
}

/// The response's own field names, which `forward` may not use.
pub const OUTPUT_FIELDS: &[&str] = &[
    "plaintext_bytes",
    "envelope_bytes",
    "sha256",
    "output_key",
    "envelope",
];

/// The lumos handler.
pub fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    let key = envelope::parse_key(&input.secret).map_err(Error::bad_request)?;
    if let Some(f) = input
        .forward
        .keys()
        .find(|f| OUTPUT_FIELDS.contains(&f.as_str()))
    {
        return Err(Error::bad_request(format!(
            "forward: `{f}` is a field of the response itself"
        )));
    }
    let document: Message = req.fetch_json(&input.key)?;
    let (nonce, sealed) = envelope::encrypt(&key, document.message.as_bytes());
    let (sealed_envelope, bytes) = req.serialize_with(|| {
        let e = envelope::envelope(&nonce, &sealed);
        let bytes = serde_json::to_vec(&e).expect("an envelope always serializes");
        (e, bytes)
    });
    let mut output = Output {
        plaintext_bytes: document.message.len(),
        envelope_bytes: bytes.len(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        output_key: None,
        envelope: None,
        forward: input.forward,
    };
    match input.output_key {
        Some(out) => {
            req.put(&out, &bytes)?;
            output.output_key = Some(out);
        }
        None => output.envelope = Some(sealed_envelope),
    }
    req.respond_json(&output)
}

#[cfg(test)]
mod tests {
    use super::envelope::*;
    use super::*;
    use lumos_sdk::MemoryStorage;

    const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn round_trip_and_determinism() {
        let key = parse_key(SECRET).unwrap();
        let text = "Grüße aus Wien — a message with non-ASCII text.";
        let sealed = seal(&key, text);
        assert_eq!(open(&key, &sealed).unwrap(), text);
        assert_eq!(
            seal(&key, text),
            sealed,
            "synthetic nonce: same input, same envelope"
        );
        assert_ne!(seal(&key, "another message").nonce, sealed.nonce);
        let (_, ct) = decode(&sealed).unwrap();
        assert_eq!(ct.len(), text.len() + 16, "ciphertext plus 16-byte tag");
    }

    #[test]
    fn known_answer_vector() {
        // NIST GCM test case 13: AES-256, zero key, zero nonce, empty message:
        // the tag alone is 530f8afbc74536b9a963b4f1c4cb738b.
        let cipher_key = [0u8; 32];
        let sealed = decrypt(
            &cipher_key,
            &[0u8; 12],
            &hex::decode("530f8afbc74536b9a963b4f1c4cb738b").unwrap(),
        )
        .unwrap();
        assert!(sealed.is_empty());
    }

    #[test]
    fn tampering_is_detected() {
        let key = parse_key(SECRET).unwrap();
        let sealed = seal(&key, "attack at dawn");
        let (nonce, mut ct) = decode(&sealed).unwrap();
        ct[0] ^= 1;
        assert_eq!(
            decrypt(&key, &nonce, &ct),
            Err(EnvelopeError::Authentication)
        );
        let mut other = key;
        other[31] ^= 0x80;
        assert_eq!(open(&other, &sealed), Err(EnvelopeError::Authentication));
        let mut bad = sealed.clone();
        bad.nonce = "00".into();
        assert!(matches!(open(&key, &bad), Err(EnvelopeError::Malformed(_))));
        assert!(matches!(parse_key("abcd"), Err(EnvelopeError::BadKey(_))));
    }

    #[test]
    fn handler_stores_or_returns_the_envelope() {
        let doc = serde_json::to_vec(&Message {
            message: "hello lumos".into(),
        })
        .unwrap();
        let mut store = MemoryStorage::with([("in", doc)]);
        let body = format!(r#"{{"key":"in","secret":"{SECRET}","output_key":"out"}}"#);
        let mut req = Request::with_storage(body.into_bytes(), &mut store);
        let resp: serde_json::Value =
            serde_json::from_slice(handler(&mut req).unwrap().body()).unwrap();
        assert_eq!(resp["plaintext_bytes"], 11);
        assert_eq!(resp["output_key"], "out");
        let stored: Envelope = serde_json::from_slice(&store.objects["out"]).unwrap();
        assert_eq!(
            open(&parse_key(SECRET).unwrap(), &stored).unwrap(),
            "hello lumos"
        );
        assert_eq!(resp["envelope_bytes"], store.objects["out"].len());

        let body = format!(r#"{{"key":"in","secret":"{SECRET}"}}"#);
        let mut req = Request::with_storage(body.into_bytes(), &mut store);
        let resp: serde_json::Value =
            serde_json::from_slice(handler(&mut req).unwrap().body()).unwrap();
        assert_eq!(resp["envelope"]["alg"], "AES-256-GCM");

        // `forward` is copied into the response; it may not shadow a field.
        let body = format!(
            r#"{{"key":"in","secret":"{SECRET}","forward":{{"secret":"{SECRET}","n":1}}}}"#
        );
        let mut req = Request::with_storage(body.into_bytes(), &mut store);
        let resp: serde_json::Value =
            serde_json::from_slice(handler(&mut req).unwrap().body()).unwrap();
        assert_eq!((&resp["secret"], &resp["n"]), (&SECRET.into(), &1.into()));
        let body = format!(r#"{{"key":"in","secret":"{SECRET}","forward":{{"sha256":"x"}}}}"#);
        let mut req = Request::with_storage(body.into_bytes(), &mut store);
        assert_eq!(
            handler(&mut req).unwrap_err().kind(),
            lumos_sdk::ErrorKind::BadRequest
        );

        let mut req = Request::with_storage(&br#"{"key":"in","secret":"zz"}"#[..], &mut store);
        assert_eq!(
            handler(&mut req).unwrap_err().kind(),
            lumos_sdk::ErrorKind::BadRequest
        );
        let body = format!(r#"{{"key":"absent","secret":"{SECRET}"}}"#);
        let mut req = Request::with_storage(body.into_bytes(), &mut store);
        assert!(matches!(handler(&mut req), Err(Error::NotFound(_))));
    }
}
