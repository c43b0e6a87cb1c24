//! HTTP mode (native only): `POST /` when `PORT` is set, storage in Redis.

use std::io::Read;
use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::frame::MAX_FRAME;
use crate::request::{Request, Response, Storage};
use crate::serve::{hello_json, run_handler};

/// Environment variable naming the Redis server used for storage in HTTP mode.
pub const REDIS_URL_ENV: &str = "LUMOS_REDIS_URL";

/// Storage in a Redis server (`GET` / `SET`), connected on first use and
/// reconnected after a failure.
pub struct RedisStorage {
    url: Option<String>,
    connection: Option<redis::Connection>,
}

impl RedisStorage {
    /// Storage at `url` (`redis://host:port`); `None` makes every call fail with
    /// a message saying which variable to set.
    pub fn new(url: Option<String>) -> Self {
        RedisStorage {
            url,
            connection: None,
        }
    }

    fn connection(&mut self) -> Result<&mut redis::Connection> {
        let Some(url) = &self.url else {
            return Err(Error::Storage(format!(
                "no storage in HTTP mode: set {REDIS_URL_ENV}=redis://host:port"
            )));
        };
        if self.connection.is_none() {
            let client = redis::Client::open(url.as_str())
                .map_err(|e| Error::Storage(format!("{REDIS_URL_ENV}={url}: {e}")))?;
            let connection = client
                .get_connection()
                .map_err(|e| Error::Storage(format!("connecting to {url}: {e}")))?;
            self.connection = Some(connection);
        }
        Ok(self.connection.as_mut().expect("just connected"))
    }

    fn run<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Result<T> {
        let result = cmd.query(self.connection()?);
        result.map_err(|e| {
            self.connection = None;
            Error::Storage(format!("redis: {e}"))
        })
    }
}

impl Storage for RedisStorage {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        self.run(redis::cmd("GET").arg(key))
    }

    fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.run(redis::cmd("SET").arg(key).arg(value))
    }
}

/// Serves `POST /` on `0.0.0.0:port` until the process is stopped; returns an
/// exit status when the server cannot start.
pub(crate) fn serve_http<F>(function: &str, port: &str, mut handler: F) -> i32
where
    F: FnMut(&mut Request<'_>) -> Result<Response>,
{
    let port: u16 = match port.trim().parse() {
        Ok(p) => p,
        Err(_) => {
            eprintln!("lumos-sdk: PORT={port:?} is not a port number");
            return 2;
        }
    };
    let server = match tiny_http::Server::http(("0.0.0.0", port)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lumos-sdk: cannot listen on 0.0.0.0:{port}: {e}");
            return 1;
        }
    };
    eprintln!("lumos-sdk: {function} serving HTTP on 0.0.0.0:{port}");
    let mut storage =
        RedisStorage::new(std::env::var(REDIS_URL_ENV).ok().filter(|u| !u.is_empty()));
    for mut request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("").to_owned();
        let response = match (request.method(), path.as_str()) {
            (tiny_http::Method::Post, "/") => {
                let mut body = Vec::new();
                let read = request
                    .as_reader()
                    .take(u64::from(MAX_FRAME) + 1)
                    .read_to_end(&mut body);
                match read {
                    Err(e) => text(400, &format!("reading the body: {e}")),
                    Ok(n) if n > MAX_FRAME as usize => text(413, "request body is past 256 MiB"),
                    Ok(_) => answer(&mut handler, body, &mut storage),
                }
            }
            (tiny_http::Method::Get, "/healthz") => {
                tiny_http::Response::from_data(hello_json(function)).with_status_code(200)
            }
            (_, "/") => text(405, "only POST / is served"),
            _ => text(404, "not found: POST / runs the function"),
        };
        if let Err(e) = request.respond(response) {
            eprintln!("lumos-sdk: writing an HTTP response failed: {e}");
        }
    }
    0
}

type HttpResponse = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn text(status: u16, message: &str) -> HttpResponse {
    tiny_http::Response::from_string(message).with_status_code(status)
}

fn answer<F>(handler: &mut F, body: Vec<u8>, storage: &mut RedisStorage) -> HttpResponse
where
    F: FnMut(&mut Request<'_>) -> Result<Response>,
{
    let outcome = run_handler(handler, body, storage, Instant::now());
    let (status, kind, body) = match outcome.result {
        Ok(body) => (200, None, body),
        Err((kind, message)) => (
            if kind == ErrorKind::BadRequest {
                400
            } else {
                500
            },
            Some(kind.as_str()),
            message.into_bytes(),
        ),
    };
    let meta = String::from_utf8(outcome.meta.to_json(kind)).expect("meta JSON is UTF-8");
    let header = tiny_http::Header::from_bytes(&b"x-lumos-meta"[..], meta.as_bytes())
        .expect("meta JSON is a valid header value");
    tiny_http::Response::from_data(body)
        .with_status_code(status)
        .with_header(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_storage_without_url_is_a_clear_error() {
        let mut s = RedisStorage::new(None);
        let err = s.get("k").unwrap_err().to_string();
        assert!(err.contains(REDIS_URL_ENV), "{err}");
        assert!(s.put("k", b"v").is_err());
    }

    #[test]
    fn answer_carries_meta_header() {
        let mut storage = RedisStorage::new(None);
        let mut handler = |req: &mut Request<'_>| -> Result<Response> {
            let n: u32 = req.json()?;
            Ok(Response::new(format!("{}", n * 2)))
        };
        let ok = answer(&mut handler, b"21".to_vec(), &mut storage);
        assert_eq!(ok.status_code().0, 200);
        assert!(ok
            .headers()
            .iter()
            .any(|h| h.field.equiv("x-lumos-meta") && h.value.as_str().contains("phases_ns")));
        let bad = answer(&mut handler, b"nope".to_vec(), &mut storage);
        assert_eq!(bad.status_code().0, 400);
    }
}
