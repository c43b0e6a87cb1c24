//! The language-detection function: detects the language of documents read from storage.
//!
//! Request: `{"key":"language-detection/g1/documents.json"}`.
//!
//! The object under `key` is a JSON document
//! `{"documents":[{"id":0,"text":"…"}, …]}`. Every document's language is
//! detected with `whatlang` (trigram profiles, 69 languages, pure Rust).
//!
//! Response: `{"documents":N,"reliable":R,"undetected":U,"languages":{"eng":…, "deu":…},"dominant":"eng"}`:
//! per ISO 639-3 code the number of documents detected in it, the number of
//! detections whatlang calls reliable, and the most frequent language.

use std::collections::BTreeMap;

use lumos_sdk::{Request, Response, Result};
use serde::{Deserialize, Serialize};

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Storage key of the documents.
    pub key: String,
}

/// One stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Its identifier.
    pub id: u64,
    /// Its text.
    pub text: String,
}

/// The stored collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Documents {
    /// The documents.
    pub documents: Vec<Document>,
}

/// The response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    /// Documents examined.
    pub documents: usize,
    /// Detections whatlang deems reliable.
    pub reliable: usize,
    /// Documents with no detectable language.
    pub undetected: usize,
    /// Documents per detected language (ISO 639-3).
    pub languages: BTreeMap<String, usize>,
    /// The most frequent language (ties: the first by code).
    pub dominant: Option<String>,
}

/// The ISO 639-3 code of `text`'s language and whether the detection is reliable.
pub fn detect(text: &str) -> Option<(&'static str, bool)> {
    whatlang::detect(text).map(|info| (info.lang().code(), info.is_reliable()))
}

/// Detects every document's language.
pub fn analyze(docs: &Documents) -> Output {
    let mut languages = BTreeMap::<String, usize>::new();
    let (mut reliable, mut undetected) = (0, 0);
    for doc in &docs.documents {
        match detect(&doc.text) {
            Some((code, sure)) => {
                *languages.entry(code.to_owned()).or_default() += 1;
                reliable += usize::from(sure);
            }
            None => undetected += 1,
        }
    }
    let dominant = languages
        .iter()
        .fold(None::<(&String, usize)>, |best, (code, &n)| match best {
            Some((_, m)) if m >= n => best,
            _ => Some((code, n)),
        })
        .map(|(code, _)| code.clone());
    Output {
        documents: docs.documents.len(),
        reliable,
        undetected,
        languages,
        dominant,
    }
}

/// The lumos handler.
pub fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    let docs: Documents = req.fetch_json(&input.key)?;
    let output = analyze(&docs);
    req.respond_json(&output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumos_sdk::MemoryStorage;

    const ENGLISH: &str = "The quick brown fox jumps over the lazy dog while the children are playing in the garden behind the old house.";
    const GERMAN: &str = "Der schnelle braune Fuchs springt über den faulen Hund, während die Kinder im Garten hinter dem alten Haus spielen.";
    const SPANISH: &str = "El rápido zorro marrón salta sobre el perro perezoso mientras los niños juegan en el jardín detrás de la casa vieja.";

    #[test]
    fn known_languages() {
        assert_eq!(detect(ENGLISH).map(|d| d.0), Some("eng"));
        assert_eq!(detect(GERMAN).map(|d| d.0), Some("deu"));
        assert_eq!(detect(SPANISH).map(|d| d.0), Some("spa"));
    }

    #[test]
    fn handler_counts_languages() {
        let docs = Documents {
            documents: [ENGLISH, GERMAN, SPANISH, ENGLISH, "1234 5678"]
                .iter()
                .enumerate()
                .map(|(id, text)| Document {
                    id: id as u64,
                    text: text.to_string(),
                })
                .collect(),
        };
        let mut store = MemoryStorage::with([("docs", serde_json::to_vec(&docs).unwrap())]);
        let mut req = Request::with_storage(&br#"{"key":"docs"}"#[..], &mut store);
        let out: serde_json::Value =
            serde_json::from_slice(handler(&mut req).unwrap().body()).unwrap();
        assert_eq!(out["documents"], 5);
        assert_eq!(out["languages"]["eng"], 2);
        assert_eq!(out["languages"]["deu"], 1);
        assert_eq!(out["languages"]["spa"], 1);
        assert_eq!(out["undetected"], 1);
        assert_eq!(out["dominant"], "eng");
        let mut req = Request::with_storage(&br#"{"key":"nope"}"#[..], &mut store);
        assert!(matches!(
            handler(&mut req),
            Err(lumos_sdk::Error::NotFound(_))
        ));
    }
}
