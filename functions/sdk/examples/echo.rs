//! A test fixture for hosts: every SDK path on demand.
//!
//! Requests (JSON): `{"op":"echo"}` returns the body; `{"op":"get","key":"k"}`
//! returns the stored bytes (or `null` as JSON when missing);
//! `{"op":"put","key":"k","value":"text"}` stores the text; `{"op":"fail"}` is
//! a handler error; `{"op":"panic"}` panics (caught on native; on wasm the
//! panic hook writes the ERROR frame, then the instance traps).
//!
//! Build: `cargo build -p lumos-sdk --example echo [--target wasm32-wasip1]`.

use lumos_sdk::{Error, Request, Response, Result};

#[derive(serde::Deserialize)]
struct Input {
    op: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    match input.op.as_str() {
        "echo" => Ok(Response::new(req.body().to_vec())),
        "get" => match req.get(&input.key)? {
            Some(value) => Ok(Response::new(value)),
            None => Ok(Response::new("null")),
        },
        "put" => {
            req.put(&input.key, input.value.as_bytes())?;
            req.respond_json(&input.value.len())
        }
        "fail" => Err(Error::msg("asked to fail")),
        "panic" => panic!("asked to panic"),
        other => Err(Error::bad_request(format!("unknown op {other:?}"))),
    }
}

lumos_sdk::main!(handler);
