//! The wasm shim: `lumos-runner shim --engine E module` hosts one module in
//! one engine, with WASI stdio inherited (the frame pipes), no preopened
//! directories, no environment and no network unless asked, and a memory
//! limit that turns growth past it into a trap. With `--http-port P`
//! (wasmtime only) it serves a wasi:http component over HTTP instead
//! ([`wasi_http`]).

pub mod binary;
pub mod shim_args;
pub mod wasi_http;
#[cfg(feature = "wasmedge")]
pub mod wasmedge;
pub mod wasmedge_aot;
pub mod wasmi;
pub mod wasmtime;

use std::path::PathBuf;

/// Exit status of a shim whose guest trapped (or failed to load).
pub const TRAP_EXIT: i32 = 70;

/// What the shim gives the guest. Empty by default: the capability-free sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WasiPolicy {
    /// `KEY=VALUE` pairs.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// (host directory, guest path) pairs.
    #[serde(default)]
    pub preopens: Vec<(PathBuf, String)>,
    /// Sockets (only engines that provide them: WasmEdge).
    #[serde(default)]
    pub network: bool,
}

impl WasiPolicy {
    /// Command-line arguments that carry this policy to the shim.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![];
        for (k, v) in &self.env {
            a.push("--env".into());
            a.push(format!("{k}={v}"));
        }
        for (h, g) in &self.preopens {
            a.push("--dir".into());
            a.push(format!("{}::{g}", h.display()));
        }
        if self.network {
            a.push("--network".into());
        }
        a
    }
}

/// Everything a shim needs.
#[derive(Debug, Clone)]
pub struct ShimOpts {
    pub module: PathBuf,
    /// argv[0] the guest sees.
    pub name: String,
    pub memory_limit: Option<u64>,
    pub policy: WasiPolicy,
    /// Serve a wasi:http component on `127.0.0.1:PORT` (protocol `wasi-http`).
    pub http_port: Option<u16>,
}

/// A failure inside the shim, printed on its stderr.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("load {module}: {msg}")]
    Load { module: String, msg: String },
    #[error("trap: {0}")]
    Trap(String),
    #[error("{0}")]
    Unsupported(String),
}

/// With `LUMOS_SHIM_TRACE` set, the shim prints to stderr the time since it
/// entered `main` at each step of its start.
#[derive(Clone, Copy)]
pub(crate) struct Trace(Option<std::time::Instant>);

impl Trace {
    pub(crate) fn new() -> Trace {
        Trace(std::env::var_os("LUMOS_SHIM_TRACE").map(|_| std::time::Instant::now()))
    }
    pub(crate) fn on(&self) -> bool {
        self.0.is_some()
    }
    pub(crate) fn mark(&self, what: &str) {
        if let Some(t) = self.0 {
            eprintln!(
                "lumos-shim trace: {what}: {:.3} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}

/// Runs the shim for `engine`; returns the process exit status.
pub fn shim_main(engine: crate::Runtime, opts: &ShimOpts) -> i32 {
    use crate::Runtime as R;
    let r = match (engine, opts.http_port) {
        (R::WasmtimeAot | R::WasmtimeJit, Some(port)) => {
            wasi_http::run(opts, engine == R::WasmtimeAot, port)
        }
        (other, Some(_)) => Err(ShimError::Unsupported(format!(
            "--http-port: {} cannot host a wasi:http component (no component model); \
             use wasmtime-jit or wasmtime-aot",
            other.name()
        ))),
        (R::WasmtimeAot, None) => wasmtime::run(opts, true),
        (R::WasmtimeJit, None) => wasmtime::run(opts, false),
        (R::WasmiInterp, None) => wasmi::run(opts),
        #[cfg(feature = "wasmedge")]
        (R::WasmedgeInterp, None) => wasmedge::run(opts, false),
        #[cfg(feature = "wasmedge")]
        (R::WasmedgeAot, None) => wasmedge::run(opts, true),
        (other, None) => Err(ShimError::Unsupported(format!(
            "engine {} is not available in this build of lumos-runner",
            other.name()
        ))),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lumos-shim[{}]: {e}", engine.name());
            TRAP_EXIT
        }
    }
}
