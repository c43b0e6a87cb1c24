//! What a handler sees: the [`Request`] (body, storage, phase clocks) and the [`Response`] it returns.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// A key-value store of bytes, reached through the host.
///
/// The SDK provides the implementations (frames to the host, Redis in HTTP
/// mode, nothing at all); a handler uses it through [`Request::get`] and
/// [`Request::put`], which time it. Implement it yourself to test a handler
/// with [`Request::with_storage`].
pub trait Storage {
    /// The bytes under `key`, or `None` when there is no such key.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Stores `value` under `key`.
    fn put(&mut self, key: &str, value: &[u8]) -> Result<()>;
}

/// A store that has nothing and accepts nothing; every call fails with `message`.
#[derive(Debug, Clone)]
pub struct NoStorage {
    /// Why there is no storage here.
    pub message: String,
}

impl Storage for NoStorage {
    fn get(&mut self, _key: &str) -> Result<Option<Vec<u8>>> {
        Err(Error::Storage(self.message.clone()))
    }
    fn put(&mut self, _key: &str, _value: &[u8]) -> Result<()> {
        Err(Error::Storage(self.message.clone()))
    }
}

/// An in-memory store, for tests and local runs.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    /// The objects, by key.
    pub objects: std::collections::BTreeMap<String, Vec<u8>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding these objects.
    pub fn with<K: Into<String>, V: Into<Vec<u8>>>(
        objects: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        MemoryStorage {
            objects: objects
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl Storage for MemoryStorage {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.objects.get(key).cloned())
    }
    fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.objects.insert(key.to_owned(), value.to_vec());
        Ok(())
    }
}

/// The time a request spent in each phase, as sent in the meta JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    /// Inside storage calls.
    pub io: Duration,
    /// Decoding the request body and stored data into types.
    pub deserialize: Duration,
    /// Everything else the handler did.
    pub compute: Duration,
    /// Encoding the response (and anything written to storage).
    pub serialize: Duration,
}

/// The per-request measurement sent beside every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The split of the request into phases.
    pub phases: Phases,
    /// From the request being read to the answer being ready.
    pub total: Duration,
}

impl Meta {
    /// The meta JSON: `{"phases_ns":{...},"total_ns":N}` plus `"kind"` for errors.
    pub fn to_json(&self, error_kind: Option<&str>) -> Vec<u8> {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let mut value = serde_json::json!({
            "phases_ns": {
                "io": ns(self.phases.io),
                "deserialize": ns(self.phases.deserialize),
                "compute": ns(self.phases.compute),
                "serialize": ns(self.phases.serialize),
            },
            "total_ns": ns(self.total),
        });
        if let Some(kind) = error_kind {
            value["kind"] = serde_json::Value::from(kind);
        }
        serde_json::to_vec(&value).expect("meta JSON always serializes")
    }
}

/// One request: its body, the storage it may use, and the clocks of its phases.
pub struct Request<'s> {
    body: Vec<u8>,
    storage: &'s mut dyn Storage,
    started: Instant,
    io: Duration,
    deserialize: Duration,
    serialize: Duration,
}

impl<'s> Request<'s> {
    /// A request with this body and storage; its clock starts now.
    pub fn with_storage(body: impl Into<Vec<u8>>, storage: &'s mut dyn Storage) -> Self {
        Request::started_at(body.into(), storage, Instant::now())
    }

    pub(crate) fn started_at(
        body: Vec<u8>,
        storage: &'s mut dyn Storage,
        started: Instant,
    ) -> Self {
        Request {
            body,
            storage,
            started,
            io: Duration::ZERO,
            deserialize: Duration::ZERO,
            serialize: Duration::ZERO,
        }
    }

    /// The raw request body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Decodes the JSON body into `T` (timed as `deserialize`); a body that does
    /// not decode is [`Error::BadRequest`].
    pub fn json<T: DeserializeOwned>(&mut self) -> Result<T> {
        let t = Instant::now();
        let value = serde_json::from_slice(&self.body)
            .map_err(|e| Error::BadRequest(format!("request body: {e}")));
        self.deserialize += t.elapsed();
        value
    }

    /// The bytes stored under `key`, or `None` (timed as `io`).
    pub fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        let t = Instant::now();
        let value = self.storage.get(key);
        self.io += t.elapsed();
        value
    }

    /// The bytes stored under `key`; a missing key is [`Error::NotFound`] (timed as `io`).
    pub fn fetch(&mut self, key: &str) -> Result<Vec<u8>> {
        self.get(key)?
            .ok_or_else(|| Error::NotFound(key.to_owned()))
    }

    /// Reads `key` (timed as `io`) and decodes it as JSON into `T` (timed as
    /// `deserialize`); data that does not decode is [`Error::BadData`].
    pub fn fetch_json<T: DeserializeOwned>(&mut self, key: &str) -> Result<T> {
        let bytes = self.fetch(key)?;
        self.deserialize_with(|| {
            serde_json::from_slice(&bytes).map_err(|e| Error::BadData {
                key: key.to_owned(),
                message: e.to_string(),
            })
        })
    }

    /// Stores `value` under `key` (timed as `io`).
    pub fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        let t = Instant::now();
        let result = self.storage.put(key, value);
        self.io += t.elapsed();
        result
    }

    /// Encodes `value` as JSON (timed as `serialize`) and stores it under `key` (timed as `io`).
    pub fn put_json<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        let bytes = self.serialize_with(|| {
            serde_json::to_vec(value).map_err(|e| Error::msg(format!("encoding {key:?}: {e}")))
        })?;
        self.put(key, &bytes)
    }

    /// Runs `f`, counting its time as `deserialize`: use it for decoding that
    /// the SDK does not do for you (a binary format, a base64 field).
    pub fn deserialize_with<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let value = f();
        self.deserialize += t.elapsed();
        value
    }

    /// Runs `f`, counting its time as `serialize`: use it for encoding the
    /// SDK does not do for you (a WAV or PBM body).
    pub fn serialize_with<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let value = f();
        self.serialize += t.elapsed();
        value
    }

    /// Encodes `value` as the JSON response body (timed as `serialize`).
    pub fn respond_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<Response> {
        let body = self.serialize_with(|| {
            serde_json::to_vec(value).map_err(|e| Error::msg(format!("encoding the response: {e}")))
        })?;
        Ok(Response::new(body))
    }

    /// The phases so far, with `compute` = elapsed time minus the other three.
    pub fn meta(&self) -> Meta {
        meta_from(
            self.started.elapsed(),
            self.io,
            self.deserialize,
            self.serialize,
        )
    }
}

pub(crate) fn meta_from(
    total: Duration,
    io: Duration,
    deserialize: Duration,
    serialize: Duration,
) -> Meta {
    let compute = total
        .saturating_sub(io)
        .saturating_sub(deserialize)
        .saturating_sub(serialize);
    Meta {
        phases: Phases {
            io,
            deserialize,
            compute,
            serialize,
        },
        total,
    }
}

/// A handler's answer: the response body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    body: Vec<u8>,
}

impl Response {
    /// A response with this body, sent as is. Encode it inside
    /// [`Request::serialize_with`] so the encoding is counted as `serialize`.
    pub fn new(body: impl Into<Vec<u8>>) -> Self {
        Response { body: body.into() }
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, owned.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_counted() {
        let mut store = MemoryStorage::with([("k", b"[1,2,3]".to_vec())]);
        let mut req = Request::with_storage(&b"{\"n\":5}"[..], &mut store);
        #[derive(serde::Deserialize)]
        struct In {
            n: u32,
        }
        let input: In = req.json().unwrap();
        assert_eq!(input.n, 5);
        let data: Vec<u32> = req.fetch_json("k").unwrap();
        assert_eq!(data, vec![1, 2, 3]);
        req.put_json("out", &data).unwrap();
        assert!(matches!(req.fetch("missing"), Err(Error::NotFound(k)) if k == "missing"));
        let resp = req.respond_json(&serde_json::json!({"sum": 6})).unwrap();
        assert_eq!(resp.body(), b"{\"sum\":6}");
        let meta = req.meta();
        assert!(meta.phases.io > Duration::ZERO);
        assert!(meta.phases.deserialize > Duration::ZERO);
        assert!(meta.phases.serialize > Duration::ZERO);
        let p = meta.phases;
        assert_eq!(p.io + p.deserialize + p.serialize + p.compute, meta.total);
        drop(req);
        assert_eq!(store.objects["out"], b"[1,2,3]");
    }

    #[test]
    fn bad_body_is_bad_request() {
        let mut store = NoStorage {
            message: "none".into(),
        };
        let mut req = Request::with_storage(&b"{nope"[..], &mut store);
        let err = req.json::<serde_json::Value>().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::BadRequest);
        assert!(matches!(req.get("x"), Err(Error::Storage(m)) if m == "none"));
    }

    #[test]
    fn meta_json_shape() {
        let meta = meta_from(
            Duration::from_nanos(100),
            Duration::from_nanos(10),
            Duration::from_nanos(20),
            Duration::from_nanos(30),
        );
        let v: serde_json::Value = serde_json::from_slice(&meta.to_json(Some("panic"))).unwrap();
        assert_eq!(v["phases_ns"]["compute"], 40);
        assert_eq!(v["total_ns"], 100);
        assert_eq!(v["kind"], "panic");
    }
}
