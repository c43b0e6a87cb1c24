//! The wasm engines this library links (wasmtime AoT/JIT, wasmi), hosted by
//! the runner's own executable as `lumos-runner shim --spec JSON` (or
//! `cargo-lumos shim …`): one module in one engine, WASI stdio inherited
//! (the frame pipes), no preopened directories, no environment and no
//! network unless asked, and a memory limit that turns growth past it into a
//! trap. With `http_port` set (wasmtime only) the shim serves a wasi:http
//! component over HTTP instead ([`wasi_http`]). The spec, its confinement to
//! the rootfs and the exit codes are lumos-shim's, shared with the WasmEdge
//! shim (`lumos-shim-wasmedge`, its own executable: only it maps libwasmedge
//! and libLLVM).

pub mod binary;
pub mod wasi_http;
pub mod wasmi;
pub mod wasmtime;

pub use lumos_shim::{
    parse_shim_args, shim_args, ShimArgsError, ShimError, ShimOpts, WasiPolicy, TRAP_EXIT,
};

/// The shim's entry point for an executable that hosts shims: `args` are
/// the arguments after the word `shim`. Returns the process exit status
/// (2 for arguments that are not a shim spec).
pub fn shim_entry<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> i32 {
    lumos_shim::run_shim("lumos-runner shim", args, run)
}

/// Runs a confined spec in the engine it names.
fn run(opts: &ShimOpts) -> Result<i32, ShimError> {
    use crate::Runtime as R;
    match (opts.engine, opts.http_port) {
        (R::WasmtimeAot | R::WasmtimeJit, Some(port)) => {
            wasi_http::run(opts, opts.engine == R::WasmtimeAot, port)
        }
        (other, Some(_)) => Err(ShimError::Unsupported(format!(
            "http_port: {} cannot host a wasi:http component (no component model); \
             use wasmtime-jit or wasmtime-aot",
            other.name()
        ))),
        (R::WasmtimeAot, None) => wasmtime::run(opts, true),
        (R::WasmtimeJit, None) => wasmtime::run(opts, false),
        (R::WasmiInterp, None) => wasmi::run(opts),
        (other, None) => Err(ShimError::Unsupported(format!(
            "engine {} does not run in this executable (its shim: {})",
            other.name(),
            crate::runtime::shim_program_name(other).unwrap_or("none")
        ))),
    }
}
