//! Storage served to functions through the frame protocol's storage calls:
//! an in-memory map, or a real Redis (`--baas redis://…`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A key-value store the host answers `STORAGE_GET`/`STORAGE_PUT` from.
pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String>;
    /// What the store is, for the record (`memory`, `redis://127.0.0.1:6379`).
    fn describe(&self) -> String;
}

/// The runner's own memory.
#[derive(Default, Clone)]
pub struct MemoryStore {
    map: Arc<Mutex<HashMap<String, Arc<Vec<u8>>>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let v = self.map.lock().unwrap().get(key).cloned();
        Ok(v.map(|v| v.as_ref().clone()))
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.map
            .lock()
            .unwrap()
            .insert(key.to_string(), Arc::new(value.to_vec()));
        Ok(())
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

/// A Redis server; connections are pooled so concurrent instances do not
/// serialise on one socket.
pub struct RedisStore {
    url: String,
    client: redis::Client,
    pool: Mutex<Vec<redis::Connection>>,
}

impl RedisStore {
    /// Connects once to check the server answers.
    pub fn connect(url: &str) -> Result<Self, crate::Error> {
        let client = redis::Client::open(url)
            .map_err(|e| crate::Error::Store(format!("redis url {url}: {e}")))?;
        let mut conn = client
            .get_connection()
            .map_err(|e| crate::Error::Store(format!("redis {url}: {e}")))?;
        redis::cmd("PING")
            .query::<String>(&mut conn)
            .map_err(|e| crate::Error::Store(format!("redis {url}: PING: {e}")))?;
        Ok(RedisStore {
            url: url.to_string(),
            client,
            pool: Mutex::new(vec![conn]),
        })
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        let conn = self.pool.lock().unwrap().pop();
        let mut conn = match conn {
            Some(c) => c,
            None => self
                .client
                .get_connection()
                .map_err(|e| format!("redis {}: {e}", self.url))?,
        };
        let r = f(&mut conn).map_err(|e| format!("redis {}: {e}", self.url));
        if r.is_ok() {
            self.pool.lock().unwrap().push(conn);
        }
        r
    }
}

impl Store for RedisStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.with_conn(|c| redis::cmd("GET").arg(key).query::<Option<Vec<u8>>>(c))
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.with_conn(|c| redis::cmd("SET").arg(key).arg(value).query::<()>(c))
    }
    fn describe(&self) -> String {
        self.url.clone()
    }
}

/// Opens the store named by `--baas` (None: memory).
pub fn open(baas: Option<&str>) -> Result<Arc<dyn Store>, crate::Error> {
    match baas {
        None | Some("memory") => Ok(Arc::new(MemoryStore::new())),
        Some(url) if url.starts_with("redis://") || url.starts_with("redis+unix://") => {
            Ok(Arc::new(RedisStore::connect(url)?))
        }
        Some(other) => Err(crate::Error::Store(format!(
            "unknown --baas {other:?}: expected redis://HOST:PORT or memory"
        ))),
    }
}
