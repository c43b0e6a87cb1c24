//! Every function's handler on its group-1 payload, through the SDK, with the
//! payload's objects preloaded into an in-memory store as the runner does.

use lumos_payloads::{payload, FUNCTIONS};
use lumos_sdk::{MemoryStorage, Request, Response, Result};

type Handler = fn(&mut Request<'_>) -> Result<Response>;

fn handler_of(function: &str) -> Handler {
    match function {
        "audio-generation" => audio_generation::handler,
        "fuzzy-search" => fuzzy_search::handler,
        "language-detection" => language_detection::handler,
        "encrypt-message" => encrypt_message::handler,
        "decrypt-message" => decrypt_message::handler,
        "fibonacci" => fibonacci::handler,
        "prime-numbers" => prime_numbers::handler,
        "mandelbrot-bitmap" => mandelbrot_bitmap::handler,
        other => panic!("no handler for {other}"),
    }
}

fn run(function: &str, group: u8, store: &mut MemoryStorage) -> Vec<u8> {
    let p = payload(function, group).unwrap();
    for o in &p.objects {
        store.objects.insert(o.key.clone(), o.bytes.clone());
    }
    let mut req = Request::with_storage(p.request.clone(), store);
    let body = handler_of(function)(&mut req)
        .unwrap_or_else(|e| panic!("{function}: {e}"))
        .into_body();
    let meta = req.meta();
    if !p.objects.is_empty() {
        assert!(
            meta.phases.io > std::time::Duration::ZERO,
            "{function} reads storage"
        );
    }
    assert!(
        meta.phases.deserialize > std::time::Duration::ZERO,
        "{function} decodes"
    );
    assert!(
        meta.phases.serialize > std::time::Duration::ZERO,
        "{function} encodes"
    );
    body
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn every_function_answers_its_group_1_payload() {
    let mut store = MemoryStorage::new();
    for f in FUNCTIONS {
        let body = run(f, 1, &mut store);
        match f {
            "audio-generation" => {
                assert_eq!(body.len(), 512 * 1024);
                assert_eq!(&body[..4], b"RIFF");
            }
            "mandelbrot-bitmap" => {
                assert!(body.starts_with(b"P4\n512 512\n"));
                assert_eq!(body.len(), 11 + 64 * 512);
            }
            "fibonacci" => assert_eq!(json(&body)["digits"], 2090),
            "prime-numbers" => assert_eq!(json(&body)["count"], 1229),
            "fuzzy-search" => {
                let out = json(&body);
                assert!(out["matches"].as_u64().unwrap() > 10, "{out}");
                assert_eq!(out["best"][0]["distance"], 0);
            }
            "language-detection" => {
                let out = json(&body);
                for lang in ["eng", "deu", "spa", "fra"] {
                    assert!(
                        out["languages"][lang].as_u64().unwrap_or(0) > 100,
                        "{lang}: {out}"
                    );
                }
            }
            "encrypt-message" => {
                let out = json(&body);
                assert_eq!(out["plaintext_bytes"], 512 * 1024 - 14);
                assert!(store
                    .objects
                    .contains_key(out["output_key"].as_str().unwrap()));
            }
            "decrypt-message" => assert!(json(&body)["message_bytes"].as_u64().unwrap() > 380_000),
            other => panic!("unchecked {other}"),
        }
    }
}

#[test]
fn decrypt_opens_what_encrypt_stored_from_the_payload() {
    let mut store = MemoryStorage::new();
    let enc = json(&run("encrypt-message", 1, &mut store));
    let sealed_key = enc["output_key"].as_str().unwrap().to_owned();
    let body = format!(
        r#"{{"key":"{sealed_key}","secret":"{}"}}"#,
        lumos_payloads::secret_hex()
    );
    let mut req = Request::with_storage(body.into_bytes(), &mut store);
    let out = json(decrypt_message::handler(&mut req).unwrap().body());
    assert_eq!(out["message_bytes"], enc["plaintext_bytes"]);
}
