//! HTTP mode: `POST /` on `0.0.0.0:$PORT` when `PORT` is set.
//!
//! One request loop ([`conn::serve_connection`]) over two kinds of stream:
//! - native: `std::net`, a thread per connection reading requests, the
//!   handler called on the main thread (it need not be `Send`); storage in
//!   Redis at `LUMOS_REDIS_URL`;
//! - wasm32-wasip1 under WasmEdge: its socket extension ([`wasmedge`]), one
//!   connection at a time (no threads); no storage there: a storage call is a
//!   handler error saying so.

mod conn;
#[cfg(not(target_family = "wasm"))]
mod native;
#[cfg(all(target_os = "wasi", target_env = "p1"))]
mod wasmedge;

use std::time::Instant;

use crate::error::{ErrorKind, Result};
use crate::request::{Request, Response, Storage};
use crate::serve::{hello_json, run_handler};
use conn::{HttpReply, HttpRequest};

#[cfg(not(target_family = "wasm"))]
pub use native::RedisStorage;

/// Environment variable naming the Redis server used for storage in HTTP mode.
#[cfg_attr(target_family = "wasm", allow(dead_code))]
pub const REDIS_URL_ENV: &str = "LUMOS_REDIS_URL";

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
    #[cfg(not(target_family = "wasm"))]
    use native as net;
    #[cfg(all(target_os = "wasi", target_env = "p1"))]
    use wasmedge as net;
    let listener = match net::listen(port) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("lumos-sdk: cannot listen on 0.0.0.0:{port}: {e}");
            return 1;
        }
    };
    eprintln!("lumos-sdk: {function} serving HTTP on 0.0.0.0:{port}");
    let mut storage = net::storage();
    net::serve(listener, |request| {
        route(function, request, &mut handler, &mut *storage)
    })
}

/// The answer to one request: `POST /` runs the handler, `GET /healthz`
/// says hello.
fn route<F>(
    function: &str,
    request: HttpRequest,
    handler: &mut F,
    storage: &mut dyn Storage,
) -> HttpReply
where
    F: FnMut(&mut Request<'_>) -> Result<Response>,
{
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/") => answer(handler, request.body, storage),
        ("GET", "/healthz") => HttpReply {
            status: 200,
            content_type: "application/json",
            header: None,
            body: hello_json(function),
        },
        (_, "/") => HttpReply::text(405, "only POST / is served"),
        _ => HttpReply::text(404, "not found: POST / runs the function"),
    }
}

/// The handler's answer to `body`: 200 with its response, 400 for a bad
/// request, 500 for any other error; `x-lumos-meta` carries the phases.
fn answer<F>(handler: &mut F, body: Vec<u8>, storage: &mut dyn Storage) -> HttpReply
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
    HttpReply {
        status,
        content_type: if status == 200 {
            "application/octet-stream"
        } else {
            "text/plain; charset=utf-8"
        },
        header: Some(("x-lumos-meta", meta)),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoStorage;

    #[test]
    fn answer_carries_meta_header() {
        let mut storage = NoStorage {
            message: "none".into(),
        };
        let mut handler = |req: &mut Request<'_>| -> Result<Response> {
            let n: u32 = req.json()?;
            Ok(Response::new(format!("{}", n * 2)))
        };
        let ok = answer(&mut handler, b"21".to_vec(), &mut storage);
        assert_eq!((ok.status, ok.body.as_slice()), (200, &b"42"[..]));
        let (name, meta) = ok.header.unwrap();
        assert_eq!(name, "x-lumos-meta");
        assert!(meta.contains("phases_ns"), "{meta}");
        let bad = answer(&mut handler, b"nope".to_vec(), &mut storage);
        assert_eq!(bad.status, 400);
        let request = |method: &str, path: &str| HttpRequest {
            method: method.into(),
            path: path.into(),
            body: Vec::new(),
        };
        let hello = route("f", request("GET", "/healthz"), &mut handler, &mut storage);
        assert_eq!(hello.body, hello_json("f"));
        let get = route("f", request("GET", "/"), &mut handler, &mut storage);
        assert_eq!(get.status, 405);
        let other = route("f", request("POST", "/x"), &mut handler, &mut storage);
        assert_eq!(other.status, 404);
    }
}
