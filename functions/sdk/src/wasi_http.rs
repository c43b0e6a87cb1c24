//! The wasi:http front end (feature `wasi-http`, target `wasm32-wasip2`): the
//! same handler `fn(&mut Request) -> Result<Response>` exported as
//! `wasi:http/incoming-handler` (wasi 0.2.12, the version wasmtime-wasi-http
//! 48 serves), so a function builds as a component that `wasmtime serve`,
//! runwasi, Spin-style hosts and the Lumos runner's `wasi-http` protocol run.
//!
//! ```ignore
//! // src/lib.rs of the function
//! #[cfg(feature = "wasi-http")]
//! lumos_sdk::wasi_http!(handler);
//! ```
//! built with `cargo rustc --lib --crate-type cdylib --target wasm32-wasip2
//! --features wasi-http` (no change to the crate's own `crate-type`).
//!
//! Requests as in the SDK's native HTTP mode: `POST /` runs the function (the
//! body in; 200 and the response body out; 400 for a bad request, 500 for any
//! other handler error, the message as body), with the `x-lumos-meta` header
//! carrying the phase split; `GET /healthz` answers the `HELLO` JSON. There is
//! no storage host here: storage calls fail with a message saying so. A panic
//! aborts the instance (wasm has no unwinding); the host answers 500. The
//! instance is the host's to keep or drop: wasi:http hosts make one per request.

use std::time::Instant;

use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::StreamError;

use crate::error::{ErrorKind, Result};
use crate::frame::MAX_FRAME;
use crate::request::{NoStorage, Request, Response};
use crate::serve::{hello_json, run_handler};

/// The bindings the [`wasi_http!`](crate::wasi_http!) macro expands to.
#[doc(hidden)]
pub use wasi as __wasi;

/// Serves one wasi:http request with `handler` (called by the code
/// [`wasi_http!`](crate::wasi_http!) generates).
pub fn handle<F>(function: &str, mut handler: F, request: IncomingRequest, out: ResponseOutparam)
where
    F: FnMut(&mut Request<'_>) -> Result<Response>,
{
    let started = Instant::now();
    let path = request.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or("");
    let (status, meta, body) = match (request.method(), path) {
        (Method::Post, "/") => match read_body(&request) {
            Err(e) => (400, None, e.into_bytes()),
            Ok(body) => {
                let mut storage = NoStorage {
                    message: "no storage in a wasi:http component: the SDK's storage calls \
                              need the Lumos frame host"
                        .into(),
                };
                let outcome = run_handler(&mut handler, body, &mut storage, started);
                match outcome.result {
                    Ok(body) => (200, Some(outcome.meta.to_json(None)), body),
                    Err((kind, message)) => (
                        if kind == ErrorKind::BadRequest {
                            400
                        } else {
                            500
                        },
                        Some(outcome.meta.to_json(Some(kind.as_str()))),
                        message.into_bytes(),
                    ),
                }
            }
        },
        (Method::Get, "/healthz") => (200, None, hello_json(function)),
        (_, "/") => (405, None, b"only POST / is served".to_vec()),
        _ => (404, None, b"not found: POST / runs the function".to_vec()),
    };
    respond(out, status, meta, &body);
}

fn read_body(request: &IncomingRequest) -> std::result::Result<Vec<u8>, String> {
    let incoming = request
        .consume()
        .map_err(|()| "the request body was already taken".to_string())?;
    let mut body = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| "the request body stream was already taken".to_string())?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_FRAME as usize {
                        return Err("request body is past 256 MiB".into());
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(format!("reading the body: {}", e.to_debug_string()))
                }
            }
        }
    }
    wasi::http::types::IncomingBody::finish(incoming);
    Ok(body)
}

fn respond(out: ResponseOutparam, status: u16, meta: Option<Vec<u8>>, body: &[u8]) {
    let headers = Fields::new();
    // Content-Length: the host then sends the body unchunked.
    let _ = headers.append("content-length", body.len().to_string().as_bytes());
    if let Some(meta) = meta {
        let _ = headers.append("x-lumos-meta", &meta);
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    {
        let Ok(stream) = outgoing.write() else {
            return;
        };
        // blocking_write_and_flush takes at most 4096 bytes per call.
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                return;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
