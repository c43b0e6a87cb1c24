//! The fuzzy-search function: approximate search of a query in a text corpus read from storage.
//!
//! Request: `{"key":"fuzzy-search/g1/corpus.json","query":"serverless","max_distance":2,"limit":10}`
//! (`max_distance` defaults to 2, `limit` to 10).
//!
//! The object under `key` is a JSON document `{"lines":["…", …]}`. For each
//! line the function finds the smallest Levenshtein distance between the
//! query and any substring of the line (Sellers' algorithm, case-insensitive
//! by Unicode lowercase), and reports every line within `max_distance`.
//!
//! Response: `{"lines":N,"matches":M,"best":[{"line":i,"distance":d,"text":"…"}]}`:
//! the `limit` best matches by (distance, line number); `text` is cut to 160 characters.

use lumos_sdk::{Error, Request, Response, Result};
use serde::{Deserialize, Serialize};

/// Longest query served, in characters.
pub const MAX_QUERY_CHARS: usize = 128;
/// Most matches listed.
pub const MAX_LIMIT: usize = 1_000;
/// Characters of a matching line shown.
pub const TEXT_CHARS: usize = 160;

fn default_distance() -> usize {
    2
}

fn default_limit() -> usize {
    10
}

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Storage key of the corpus.
    pub key: String,
    /// What to look for.
    pub query: String,
    /// Largest edit distance that counts as a match.
    #[serde(default = "default_distance")]
    pub max_distance: usize,
    /// How many matches to list.
    #[serde(default = "default_limit")]
    pub limit: usize,
}

/// The stored corpus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Corpus {
    /// The lines searched.
    pub lines: Vec<String>,
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// Index of the line in the corpus.
    pub line: usize,
    /// Edit distance of the best substring.
    pub distance: usize,
    /// The line (cut).
    pub text: String,
}

/// The response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    /// Lines searched.
    pub lines: usize,
    /// Lines within `max_distance`.
    pub matches: usize,
    /// The best matches.
    pub best: Vec<Match>,
}

/// A query prepared for matching.
pub struct Matcher {
    query: Vec<char>,
    column: Vec<usize>,
}

impl Matcher {
    /// Prepares `query` (lowercased).
    pub fn new(query: &str) -> Self {
        let query: Vec<char> = query.chars().flat_map(char::to_lowercase).collect();
        let column = vec![0; query.len() + 1];
        Matcher { query, column }
    }

    /// The smallest edit distance between the query and any substring of
    /// `text`, lowercased (Sellers 1980: the edit-distance table with a free start
    /// in the text, kept one column at a time).
    pub fn distance(&mut self, text: &str) -> usize {
        let m = self.query.len();
        for (i, cell) in self.column.iter_mut().enumerate() {
            *cell = i;
        }
        let mut best = m;
        for c in text.chars().flat_map(char::to_lowercase) {
            let mut diagonal = self.column[0]; // D[i-1][j-1]
            self.column[0] = 0;
            for i in 1..=m {
                let substitute = diagonal + usize::from(self.query[i - 1] != c);
                diagonal = self.column[i];
                self.column[i] = substitute
                    .min(self.column[i] + 1)
                    .min(self.column[i - 1] + 1);
            }
            best = best.min(self.column[m]);
            if best == 0 {
                break;
            }
        }
        best
    }
}

/// Searches the corpus.
pub fn search(corpus: &Corpus, query: &str, max_distance: usize, limit: usize) -> Output {
    let mut matcher = Matcher::new(query);
    let mut found: Vec<(usize, usize)> = corpus
        .lines
        .iter()
        .enumerate()
        .filter_map(|(line, text)| {
            let d = matcher.distance(text);
            (d <= max_distance).then_some((d, line))
        })
        .collect();
    let matches = found.len();
    found.sort_unstable();
    let best = found
        .into_iter()
        .take(limit)
        .map(|(distance, line)| Match {
            line,
            distance,
            text: corpus.lines[line].chars().take(TEXT_CHARS).collect(),
        })
        .collect();
    Output {
        lines: corpus.lines.len(),
        matches,
        best,
    }
}

/// The lumos handler.
pub fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    let chars = input.query.chars().count();
    if chars == 0 || chars > MAX_QUERY_CHARS {
        return Err(Error::bad_request(format!(
            "query must have 1..={MAX_QUERY_CHARS} characters"
        )));
    }
    if input.max_distance >= chars {
        return Err(Error::bad_request(
            "max_distance must be below the query's length (or everything matches)",
        ));
    }
    if input.limit > MAX_LIMIT {
        return Err(Error::bad_request(format!(
            "limit must be at most {MAX_LIMIT}"
        )));
    }
    let corpus: Corpus = req.fetch_json(&input.key)?;
    let output = search(&corpus, &input.query, input.max_distance, input.limit);
    req.respond_json(&output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumos_sdk::MemoryStorage;

    #[test]
    fn distances() {
        let mut m = Matcher::new("kitten");
        assert_eq!(m.distance("a kitten sat"), 0);
        assert_eq!(m.distance("the KITTEN"), 0);
        assert_eq!(m.distance("sitting"), 2); // substring "sittin": k→s, e→i
        assert_eq!(m.distance("mitten"), 1);
        assert_eq!(m.distance("kiten"), 1);
        assert_eq!(m.distance(""), 6);
        assert_eq!(Matcher::new("straße").distance("STRASSE"), 2);
    }

    #[test]
    fn search_finds_and_ranks() {
        let corpus = Corpus {
            lines: vec![
                "Edge computing runs functions near the data.".into(),
                "A serverles platform scales to zero.".into(),
                "Nothing to see here.".into(),
                "Serverless functions on WebAssembly.".into(),
                "sevrerless is a typo with a swap".into(),
            ],
        };
        let out = search(&corpus, "serverless", 2, 10);
        assert_eq!(out.lines, 5);
        assert_eq!(out.matches, 3);
        let got: Vec<(usize, usize)> = out.best.iter().map(|m| (m.line, m.distance)).collect();
        assert_eq!(got, vec![(3, 0), (1, 1), (4, 2)]);
        assert_eq!(search(&corpus, "serverless", 2, 1).best.len(), 1);
    }

    #[test]
    fn handler_reads_the_corpus_from_storage() {
        let corpus = Corpus {
            lines: vec!["alpha beta".into(), "lumos benchmark".into()],
        };
        let mut store = MemoryStorage::with([("c", serde_json::to_vec(&corpus).unwrap())]);
        let mut req = Request::with_storage(
            &br#"{"key":"c","query":"benchmrk","max_distance":1}"#[..],
            &mut store,
        );
        let out: serde_json::Value =
            serde_json::from_slice(handler(&mut req).unwrap().body()).unwrap();
        assert_eq!(out["matches"], 1);
        assert_eq!(out["best"][0]["line"], 1);
        assert_eq!(out["best"][0]["text"], "lumos benchmark");
        assert!(req.meta().phases.io > std::time::Duration::ZERO);
        let mut req = Request::with_storage(
            &br#"{"key":"c","query":"ab","max_distance":2}"#[..],
            &mut store,
        );
        assert!(handler(&mut req).is_err());
        store.objects.insert("c".into(), b"[1,2]".to_vec());
        let mut req = Request::with_storage(&br#"{"key":"c","query":"lumos"}"#[..], &mut store);
        assert!(matches!(handler(&mut req), Err(Error::BadData { .. })));
    }
}
