//! Function-side library of the `lumos` frame protocol (docs/frame-protocol.md).
//!
//! A function is a handler `fn(&mut Request) -> Result<Response, Error>`:
//!
//! ```no_run
//! use lumos_sdk::{Request, Response, Result};
//!
//! #[derive(serde::Deserialize)]
//! struct Input { key: String }
//!
//! fn handler(req: &mut Request) -> Result<Response> {
//!     let input: Input = req.json()?;            // timed as deserialize
//!     let text = req.fetch(&input.key)?;          // a storage call, timed as io
//!     req.respond_json(&text.len())               // timed as serialize
//! }
//!
//! lumos_sdk::main!(handler);
//! ```
//!
//! `lumos_sdk::main!` (or [`serve`]) runs a long-lived instance: it sends
//! `HELLO`, then answers `REQUEST` frames on stdin with `RESPONSE`/`ERROR`
//! frames on stdout, the same on native and `wasm32-wasip1`. With `PORT` set,
//! it serves `POST /` over HTTP instead: on native with storage in Redis at
//! `LUMOS_REDIS_URL`; on `wasm32-wasip1` under WasmEdge through its socket
//! extension, without storage.
//!
//! With the `wasi-http` feature, [`wasi_http!`] exports the same handler as a
//! `wasi:http/incoming-handler` component for `wasm32-wasip2` (`wasi_http` module).

mod error;
pub mod frame;
#[cfg(all(
    feature = "http",
    any(
        not(target_family = "wasm"),
        all(target_os = "wasi", target_env = "p1")
    )
))]
mod http;
mod request;
mod serve;
#[cfg(all(target_os = "wasi", target_env = "p2", feature = "wasi-http"))]
pub mod wasi_http;

pub use error::{Error, ErrorKind, Result};
#[cfg(all(not(target_family = "wasm"), feature = "http"))]
pub use http::{RedisStorage, REDIS_URL_ENV};
pub use request::{MemoryStorage, Meta, NoStorage, Phases, Request, Response, Storage};
pub use serve::{hello_json, panic_error_frame, serve_frames, Exit};

/// Runs `handler` as this process's function until the host stops it, then
/// exits: frames on stdin/stdout, or (`PORT` set; native, or wasm32-wasip1
/// under WasmEdge) HTTP.
///
/// `function` is the name announced in `HELLO`; [`main!`] passes the crate name.
pub fn serve<F>(function: &str, handler: F) -> !
where
    F: FnMut(&mut Request<'_>) -> Result<Response>,
{
    #[cfg(all(
        feature = "http",
        any(
            not(target_family = "wasm"),
            all(target_os = "wasi", target_env = "p1")
        )
    ))]
    if let Ok(port) = std::env::var("PORT") {
        std::process::exit(http::serve_http(function, &port, handler));
    }
    #[cfg(panic = "abort")]
    serve::install_panic_frame_hook();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let exit = serve_frames(
        function,
        stdin.lock(),
        std::io::BufWriter::new(stdout.lock()),
        handler,
    );
    std::process::exit(exit.code())
}

/// Defines `fn main()` serving this handler under the crate's name.
///
/// ```no_run
/// fn handler(req: &mut lumos_sdk::Request) -> lumos_sdk::Result<lumos_sdk::Response> {
///     Ok(lumos_sdk::Response::new(req.body().to_vec()))
/// }
/// lumos_sdk::main!(handler);
/// ```
#[macro_export]
macro_rules! main {
    ($handler:expr) => {
        fn main() {
            $crate::serve(env!("CARGO_PKG_NAME"), $handler)
        }
    };
}

/// Exports `handler` as this component's `wasi:http/incoming-handler`
/// (under the crate's name for `GET /healthz`). Expands to nothing unless
/// the target is `wasm32-wasip2`, so the line may sit in a crate built for
/// every target; needs lumos-sdk's `wasi-http` feature.
///
/// ```ignore
/// #[cfg(feature = "wasi-http")]
/// lumos_sdk::wasi_http!(handler);
/// ```
#[macro_export]
macro_rules! wasi_http {
    ($handler:expr) => {
        #[cfg(all(target_os = "wasi", target_env = "p2"))]
        const _: () = {
            struct LumosWasiHttp;
            impl $crate::wasi_http::__wasi::exports::http::incoming_handler::Guest for LumosWasiHttp {
                fn handle(
                    request: $crate::wasi_http::__wasi::http::types::IncomingRequest,
                    out: $crate::wasi_http::__wasi::http::types::ResponseOutparam,
                ) {
                    $crate::wasi_http::handle(env!("CARGO_PKG_NAME"), $handler, request, out)
                }
            }
            $crate::wasi_http::__wasi::http::proxy::export!(LumosWasiHttp);
        };
    };
}
