//! Storage served to functions through the frame protocol's storage calls:
//! an in-memory map, or a real Redis (`--baas redis://…`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The deadline of connecting to Redis (name lookup, TCP, AUTH/SELECT) and
/// of each command's answer. Loopback answers in microseconds and a remote
/// Redis in milliseconds; a server that has not answered in 10 s is stuck.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to a store. The message names the store and the
/// command; the redis error, when there is one, is the source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unknown --baas {0:?}: expected redis://HOST:PORT or memory")]
    UnknownBaas(String),
    #[error("redis url {url}: {source}")]
    Url {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("redis {url}: cannot start a thread: {source}")]
    Thread {
        url: String,
        #[source]
        source: std::io::Error,
    },
    /// No answer within [`REDIS_TIMEOUT`]; `command` is `connecting` or a
    /// command's name.
    #[error("redis {url}: no answer to {command} within {} s", REDIS_TIMEOUT.as_secs())]
    Timeout {
        url: String,
        command: &'static str,
        /// The client's own timeout error (None: the connecting thread was late).
        #[source]
        source: Option<redis::RedisError>,
    },
    #[error("redis {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("redis {url}: setting socket timeouts: {source}")]
    SocketTimeouts {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("redis {url}: {command}: {source}")]
    Command {
        url: String,
        command: &'static str,
        #[source]
        source: redis::RedisError,
    },
}

/// A key-value store the host answers `STORAGE_GET`/`STORAGE_PUT` from.
pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
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
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.map.lock().unwrap().get(key).cloned();
        Ok(v.map(|v| v.as_ref().clone()))
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
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
    /// What [`Store::describe`] says (the URL, or `memory` behind a link).
    shown: String,
    client: redis::Client,
    pool: Mutex<Vec<redis::Connection>>,
}

/// Connects within [`REDIS_TIMEOUT`] and gives the connection read and
/// write timeouts of [`REDIS_TIMEOUT`]. The redis crate bounds the TCP
/// connect but not the name lookup or the commands it sends while
/// connecting (CLIENT SETINFO, AUTH, SELECT), so the connect runs in a helper thread that is abandoned
/// (with its socket) if it is late.
fn connect_bounded(client: &redis::Client, url: &str) -> Result<redis::Connection, StoreError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let c = client.clone();
    std::thread::Builder::new()
        .name("lumos-redis-connect".into())
        .spawn(move || {
            let _ = tx.send(c.get_connection_with_timeout(REDIS_TIMEOUT));
        })
        .map_err(|source| StoreError::Thread {
            url: url.into(),
            source,
        })?;
    let late = |source| StoreError::Timeout {
        url: url.into(),
        command: "connecting",
        source,
    };
    let conn = match rx.recv_timeout(REDIS_TIMEOUT) {
        Ok(Ok(c)) => c,
        Ok(Err(e)) if e.is_timeout() => return Err(late(Some(e))),
        Ok(Err(source)) => {
            return Err(StoreError::Connect {
                url: url.into(),
                source,
            })
        }
        Err(_) => return Err(late(None)),
    };
    conn.set_read_timeout(Some(REDIS_TIMEOUT))
        .and_then(|()| conn.set_write_timeout(Some(REDIS_TIMEOUT)))
        .map_err(|source| StoreError::SocketTimeouts {
            url: url.into(),
            source,
        })?;
    Ok(conn)
}

/// A command's error, naming the command and the deadline when it timed out.
fn command_error(url: &str, command: &'static str, e: redis::RedisError) -> StoreError {
    if e.is_timeout() {
        StoreError::Timeout {
            url: url.into(),
            command,
            source: Some(e),
        }
    } else {
        StoreError::Command {
            url: url.into(),
            command,
            source: e,
        }
    }
}

/// `url` with the password of its user information replaced by `***`
/// (`redis://user:***@host:6379/0`): the form that goes into error messages
/// and results, which are shown and shared. Written here rather than with
/// the `url` crate because it must also hold for a URL that does not parse.
pub fn redacted(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

impl RedisStore {
    /// Connects once to check the server answers (PING), within
    /// [`REDIS_TIMEOUT`]. Errors and [`Store::describe`] show the URL
    /// [`redacted`].
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let shown = redacted(url);
        let client = redis::Client::open(url).map_err(|source| StoreError::Url {
            url: shown.clone(),
            source,
        })?;
        Self::connect_client(client, &shown, shown.clone())
    }

    /// Connects to `info` (e.g. a relay in front of the server), naming it
    /// `url` in errors and `shown` in the record.
    pub fn connect_info(
        info: redis::ConnectionInfo,
        url: String,
        shown: String,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(info).map_err(|source| StoreError::Url {
            url: url.clone(),
            source,
        })?;
        Self::connect_client(client, &url, shown)
    }

    fn connect_client(client: redis::Client, url: &str, shown: String) -> Result<Self, StoreError> {
        let mut conn = connect_bounded(&client, url)?;
        redis::cmd("PING")
            .query::<String>(&mut conn)
            .map_err(|e| command_error(url, "PING", e))?;
        Ok(RedisStore {
            url: url.to_string(),
            shown,
            client,
            pool: Mutex::new(vec![conn]),
        })
    }

    fn with_conn<T>(
        &self,
        command: &'static str,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let conn = self.pool.lock().unwrap().pop();
        let mut conn = match conn {
            Some(c) => c,
            None => connect_bounded(&self.client, &self.url)?,
        };
        let r = f(&mut conn).map_err(|e| command_error(&self.url, command, e));
        if r.is_ok() {
            self.pool.lock().unwrap().push(conn);
        }
        r
    }
}

impl Store for RedisStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_conn("GET", |c| {
            redis::cmd("GET").arg(key).query::<Option<Vec<u8>>>(c)
        })
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.with_conn("SET", |c| {
            redis::cmd("SET").arg(key).arg(value).query::<()>(c)
        })
    }
    fn describe(&self) -> String {
        self.shown.clone()
    }
}

/// Opens the store named by `--baas` (None: memory).
pub fn open(baas: Option<&str>) -> Result<Arc<dyn Store>, StoreError> {
    match baas {
        None | Some("memory") => Ok(Arc::new(MemoryStore::new())),
        Some(url) if url.starts_with("redis://") || url.starts_with("redis+unix://") => {
            Ok(Arc::new(RedisStore::connect(url)?))
        }
        Some(other) => Err(StoreError::UnknownBaas(redacted(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_reaches_what_is_shown() {
        for (url, shown) in [
            ("redis://:s3cret@db:6379/0", "redis://:***@db:6379/0"),
            ("redis://me:s3cret@db:6379", "redis://me:***@db:6379"),
            ("redis://me:p@ss@db", "redis://me:***@db"),
            ("redis://me@db:6379", "redis://me@db:6379"),
            ("redis://db:6379/0?x=a@b", "redis://db:6379/0?x=a@b"),
            ("rediss://u:s3cret@db", "rediss://u:***@db"),
            ("memory", "memory"),
        ] {
            assert_eq!(redacted(url), shown, "{url}");
        }
        // An unknown scheme's error and a store that cannot connect say the
        // URL without the password.
        let e = open(Some("rediss://u:s3cret@127.0.0.1:1")).err().unwrap();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = open(Some("redis://u:s3cret@127.0.0.1:1")).err().unwrap();
        let chain = lumos_model::error_chain(&e);
        assert!(
            !chain.contains("s3cret") && chain.contains("u:***@"),
            "{chain}"
        );
    }

    /// A real TCP listener on loopback that accepts and never answers.
    fn silent_port() -> (u16, std::sync::mpsc::Sender<()>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let conn = l.accept();
            let _ = stopped.recv(); // hold the connection open, silent
            drop(conn);
        });
        (port, stop)
    }

    #[test]
    fn a_redis_that_never_answers_fails_within_the_deadline_saying_what_it_waited_for() {
        let (port, stop) = silent_port();
        let url = format!("redis://127.0.0.1:{port}");
        let t = std::time::Instant::now();
        let err = match RedisStore::connect(&url) {
            Ok(_) => panic!("a silent port passed for redis"),
            Err(e) => e.to_string(),
        };
        // Without timeouts this PING waited forever; 60 s is not a speed target.
        assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
        assert!(
            err.contains(&format!("redis {url}: no answer to connecting"))
                && err.contains("within 10 s"),
            "{err}"
        );
        let _ = stop.send(());
    }

    #[test]
    fn a_refused_connection_keeps_the_redis_error_as_its_source() {
        // A port nobody listens on (bound, then closed).
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("redis://127.0.0.1:{port}");
        let err = match RedisStore::connect(&url) {
            Ok(_) => panic!("a closed port passed for redis"),
            Err(e) => e,
        };
        assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with(&format!("redis {url}: ")),
            "{err}"
        );
        let source = std::error::Error::source(&err).expect("the redis error");
        assert!(source.downcast_ref::<redis::RedisError>().is_some());
        // Through the library's error, on one line, the cause said once.
        let line = lumos_model::error_chain(&crate::Error::from(err));
        assert!(line.starts_with(&format!("store: redis {url}: ")), "{line}");
        assert_eq!(line.matches(&format!("redis {url}")).count(), 1, "{line}");
        assert!(matches!(
            open(Some("mysql://x")),
            Err(StoreError::UnknownBaas(_))
        ));
    }
}
