//! Seeded, deterministic payload groups for the built-in functions.
//!
//! Every payload is generated from the fixed seed [`rng::SEED`] with a
//! SplitMix64 stream per (function, group), so the same bytes come out on
//! every machine, in any order. A [`Payload`] is what the runner needs for
//! one (function, group): the request body (JSON) and the storage objects to
//! preload into the host's store before sending it.
//!
//! Groups (the paper's Table 2, with our choices where it gives none):
//!
//! | function | group 1 | group 2 | group 3 | what the size is |
//! |---|---|---|---|---|
//! | fuzzy-search, language-detection, encrypt-message, decrypt-message | 512 KiB | 1 MiB | 2 MiB | the stored object, exactly |
//! | fibonacci, prime-numbers | 10,000 | 100,000 | 1,000,000 | n |
//! | audio-generation | 512 KiB | 1 MiB | 2 MiB | the WAV response, exactly (44.1 kHz 16-bit mono: 5.9 s, 11.9 s, 23.8 s) |
//! | mandelbrot-bitmap | 512² | 1024² | 2048² | pixels (50 iterations; PBM response 32 KiB, 128 KiB, 512 KiB) |

pub mod manifest;
pub mod rng;
pub mod text;

use encrypt_message::envelope::{self, Envelope};
use fuzzy_search::Corpus;
use language_detection::{Document, Documents};
use serde::Serialize;
use sha2::{Digest, Sha256};

use rng::SplitMix64;

pub use manifest::{write_dir, FileEntry, Manifest, ManifestEntry};

/// The built-in functions, in the paper's order.
pub const FUNCTIONS: [&str; 8] = [
    "audio-generation",
    "fuzzy-search",
    "language-detection",
    "encrypt-message",
    "decrypt-message",
    "fibonacci",
    "prime-numbers",
    "mandelbrot-bitmap",
];

/// The payload groups.
pub const GROUPS: [u8; 3] = [1, 2, 3];

/// The query fuzzy-search payloads look for.
pub const FUZZY_QUERY: &str = "serverless";
/// Variants of [`FUZZY_QUERY`] planted in the corpus: exact, and 1 or 2 edits away.
pub const FUZZY_VARIANTS: &[&str] = &[
    "serverless",
    "Serverless",
    "serverles",
    "servreless",
    "sevrerless",
    "server-less",
    "srvrless",
];

/// What can go wrong generating or writing payloads.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not one of [`FUNCTIONS`].
    #[error("unknown function {0:?} (known: {known})", known = FUNCTIONS.join(", "))]
    UnknownFunction(String),
    /// Not one of [`GROUPS`].
    #[error("unknown payload group {0} (groups are 1, 2 and 3)")]
    UnknownGroup(u8),
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

/// One object to preload into the host's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageObject {
    /// The key the function's request names.
    pub key: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Everything the runner needs for one (function, group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The function.
    pub function: String,
    /// The group, 1..=3.
    pub group: u8,
    /// What the payload is, for people.
    pub description: String,
    /// The request body (JSON).
    pub request: Vec<u8>,
    /// Objects to preload into the store before the request.
    pub objects: Vec<StorageObject>,
}

/// sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The data size of a group for data functions: 512 KiB, 1 MiB, 2 MiB.
pub fn data_size(group: u8) -> Result<usize, PayloadError> {
    match group {
        1 => Ok(512 * 1024),
        2 => Ok(1024 * 1024),
        3 => Ok(2 * 1024 * 1024),
        g => Err(PayloadError::UnknownGroup(g)),
    }
}

/// The n of a group for fibonacci and prime-numbers: 10^4, 10^5, 10^6.
pub fn number(group: u8) -> Result<u64, PayloadError> {
    match group {
        1 => Ok(10_000),
        2 => Ok(100_000),
        3 => Ok(1_000_000),
        g => Err(PayloadError::UnknownGroup(g)),
    }
}

/// The image side of a group for mandelbrot-bitmap: 512, 1024, 2048.
pub fn mandelbrot_side(group: u8) -> Result<u32, PayloadError> {
    match group {
        1 => Ok(512),
        2 => Ok(1024),
        3 => Ok(2048),
        g => Err(PayloadError::UnknownGroup(g)),
    }
}

/// The AES-256 key the encrypt-message and decrypt-message payloads use, hex.
pub fn secret_hex() -> String {
    hex::encode(SplitMix64::for_stream("aes-256-gcm-key").bytes32())
}

fn json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("payload JSON always serializes")
}

/// The payload of `function` for `group`.
pub fn payload(function: &str, group: u8) -> Result<Payload, PayloadError> {
    if !FUNCTIONS.contains(&function) {
        return Err(PayloadError::UnknownFunction(function.to_owned()));
    }
    let size = data_size(group)?;
    let mut rng = SplitMix64::for_stream(&format!("{function}/g{group}"));
    let key = |name: &str| format!("{function}/g{group}/{name}");
    let (description, request, objects) = match function {
        "fibonacci" | "prime-numbers" => {
            let n = number(group)?;
            let what = if function == "fibonacci" {
                "F(n), exact"
            } else {
                "primes up to n"
            };
            (
                format!("{what}, n = {n}"),
                json(&serde_json::json!({ "n": n })),
                Vec::new(),
            )
        }
        "audio-generation" => {
            let samples = (size - 44) / 2;
            let request = serde_json::json!({
                "sample_rate": 44_100,
                "samples": samples,
                "tones": [
                    {"frequency": 440.0, "amplitude": 0.3},
                    {"frequency": 554.365, "amplitude": 0.2},
                    {"frequency": 659.255, "amplitude": 0.2},
                ],
            });
            (format!("A-major chord, {samples} samples at 44.1 kHz: a WAV response of exactly {size} bytes"), json(&request), Vec::new())
        }
        "mandelbrot-bitmap" => {
            let side = mandelbrot_side(group)?;
            let request = serde_json::json!({"width": side, "height": side, "max_iterations": 50});
            (
                format!("{side}x{side} pixels, 50 iterations, single-threaded"),
                json(&request),
                Vec::new(),
            )
        }
        "fuzzy-search" => {
            let k = key("corpus.json");
            let corpus = fuzzy_corpus(&mut rng, size);
            let request =
                serde_json::json!({"key": k, "query": FUZZY_QUERY, "max_distance": 2, "limit": 10});
            (
                format!("a {size}-byte JSON corpus of English lines with planted variants of {FUZZY_QUERY:?}"),
                json(&request),
                vec![StorageObject { key: k, bytes: corpus }],
            )
        }
        "language-detection" => {
            let k = key("documents.json");
            let docs = language_documents(&mut rng, size);
            (
                format!("a {size}-byte JSON collection of documents in English, German, Spanish and French"),
                json(&serde_json::json!({"key": k})),
                vec![StorageObject { key: k, bytes: docs }],
            )
        }
        "encrypt-message" => {
            let k = key("message.json");
            let wrapper = r#"{"message":""}"#.len();
            let message = text::ascii_text(&mut rng, size - wrapper);
            let bytes = json(&encrypt_message::Message { message });
            // `forward`: the secret rides along in the response, so
            // decrypt-message takes the response as its request (a workflow).
            let request = serde_json::json!({
                "key": k,
                "secret": secret_hex(),
                "output_key": key("sealed.json"),
                "forward": {"secret": secret_hex()},
            });
            (
                format!("a {size}-byte JSON message document to seal with AES-256-GCM"),
                json(&request),
                vec![StorageObject { key: k, bytes }],
            )
        }
        "decrypt-message" => {
            let k = key("sealed.json");
            let bytes = sealed_envelope(&mut rng, size);
            (
                format!("a {size}-byte AES-256-GCM envelope (encrypt-message's format) to open"),
                json(&serde_json::json!({"key": k, "secret": secret_hex()})),
                vec![StorageObject { key: k, bytes }],
            )
        }
        _ => unreachable!("checked against FUNCTIONS above"),
    };
    Ok(Payload {
        function: function.to_owned(),
        group,
        description,
        request,
        objects,
    })
}

/// Every payload of every function and group.
pub fn all() -> Vec<Payload> {
    FUNCTIONS
        .iter()
        .flat_map(|f| {
            GROUPS
                .iter()
                .map(move |&g| payload(f, g).expect("built-in function and group"))
        })
        .collect()
}

fn fuzzy_corpus(rng: &mut SplitMix64, size: usize) -> Vec<u8> {
    let mut next_line = |_: usize| {
        let mut line = text::sentence(rng, text::ENGLISH, 5, 18);
        if rng.below(40) == 0 {
            let variant = *rng.pick(FUZZY_VARIANTS);
            let at = line.find(' ').unwrap_or(0);
            line.insert_str(at, &format!(" {variant}"));
        }
        line
    };
    text::exact_json_list(
        size,
        16,
        |lines| Corpus { lines },
        &mut next_line,
        |_, n| "x".repeat(n - 2),
    )
}

fn language_documents(rng: &mut SplitMix64, size: usize) -> Vec<u8> {
    let pad_rng = rng.clone();
    let mut next_doc = |id: usize| {
        let (_, words) = text::LANGUAGES[rng.below(text::LANGUAGES.len())];
        let sentences = rng.range(2, 6);
        Document {
            id: id as u64,
            text: text::paragraph(rng, words, sentences),
        }
    };
    let pad = |id: usize, n: usize| {
        let empty = json(&Document {
            id: id as u64,
            text: String::new(),
        })
        .len();
        let mut r = pad_rng.clone();
        Document {
            id: id as u64,
            text: text::ascii_text(&mut r, n - empty),
        }
    };
    text::exact_json_list(
        size,
        64,
        |documents| Documents { documents },
        &mut next_doc,
        pad,
    )
}

fn sealed_envelope(rng: &mut SplitMix64, size: usize) -> Vec<u8> {
    let key = envelope::parse_key(&secret_hex()).expect("32-byte key");
    let empty = Envelope {
        v: envelope::VERSION,
        alg: envelope::ALGORITHM.to_owned(),
        nonce: "0".repeat(24),
        ciphertext: String::new(),
    };
    let overhead = json(&empty).len();
    // Unpadded base64 (a multiple of 3 bytes) filling the object to within 3 bytes.
    let b64 = (size - overhead) / 4 * 4;
    let message = text::ascii_text(rng, b64 / 4 * 3 - 16);
    let mut bytes = json(&envelope::seal(&key, &message));
    // The rest is JSON whitespace after the object.
    bytes.resize(size, b' ');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_errors() {
        assert!(matches!(
            payload("nope", 1),
            Err(PayloadError::UnknownFunction(_))
        ));
        assert!(matches!(
            payload("fibonacci", 4),
            Err(PayloadError::UnknownGroup(4))
        ));
        assert!(matches!(
            payload("fibonacci", 0),
            Err(PayloadError::UnknownGroup(0))
        ));
    }

    #[test]
    fn numeric_groups() {
        let p = payload("fibonacci", 3).unwrap();
        assert_eq!(p.request, br#"{"n":1000000}"#);
        assert!(p.objects.is_empty());
        assert_eq!(
            payload("prime-numbers", 1).unwrap().request,
            br#"{"n":10000}"#
        );
        let m: serde_json::Value =
            serde_json::from_slice(&payload("mandelbrot-bitmap", 2).unwrap().request).unwrap();
        assert_eq!(
            (m["width"].as_u64(), m["height"].as_u64()),
            (Some(1024), Some(1024))
        );
        let a: serde_json::Value =
            serde_json::from_slice(&payload("audio-generation", 1).unwrap().request).unwrap();
        assert_eq!(44 + 2 * a["samples"].as_u64().unwrap(), 512 * 1024);
    }

    #[test]
    fn data_objects_have_exact_sizes_and_decode() {
        for group in GROUPS {
            let size = data_size(group).unwrap();
            for f in [
                "fuzzy-search",
                "language-detection",
                "encrypt-message",
                "decrypt-message",
            ] {
                let p = payload(f, group).unwrap();
                assert_eq!(p.objects.len(), 1, "{f}");
                assert_eq!(p.objects[0].bytes.len(), size, "{f} group {group}");
                let request: serde_json::Value = serde_json::from_slice(&p.request).unwrap();
                assert_eq!(request["key"], p.objects[0].key.as_str());
            }
        }
        let corpus: Corpus =
            serde_json::from_slice(&payload("fuzzy-search", 1).unwrap().objects[0].bytes).unwrap();
        assert!(corpus.lines.iter().any(|l| l.contains(FUZZY_QUERY)));
        let docs: Documents =
            serde_json::from_slice(&payload("language-detection", 1).unwrap().objects[0].bytes)
                .unwrap();
        assert!(docs.documents.len() > 500);
    }

    #[test]
    fn decrypt_payload_opens_with_the_secret() {
        let p = payload("decrypt-message", 1).unwrap();
        let sealed: Envelope = serde_json::from_slice(&p.objects[0].bytes).unwrap();
        let message =
            envelope::open(&envelope::parse_key(&secret_hex()).unwrap(), &sealed).unwrap();
        assert!(message.len() > 380_000);
    }

    #[test]
    fn deterministic() {
        for f in FUNCTIONS {
            assert_eq!(payload(f, 1).unwrap(), payload(f, 1).unwrap(), "{f}");
        }
        assert_ne!(
            payload("fuzzy-search", 1).unwrap().objects,
            payload("fuzzy-search", 2).unwrap().objects
        );
        // Pinned digest: a change here changes the recorded benchmark inputs.
        let p = payload("fuzzy-search", 1).unwrap();
        assert_eq!(
            sha256_hex(&p.objects[0].bytes),
            "71b4d5ce51f27d7717b3ee51197690e39c6d1455a4073cd69d64b3533f316f9d"
        );
    }
}
