//! `lumos-shim-wasmtime --spec JSON`: one wasm module in wasmtime
//! (`wasmtime-aot` loads a `.cwasm`, `wasmtime-jit` compiles with cranelift)
//! or, with `http_port` in the spec, one wasi:http component served over
//! HTTP (lumos-shim's contract), or, with engine `wasmtime-pooled` and
//! `pool_socket`, the long-lived host of many instances of one module
//! ([`pool`]). It links wasmtime and nothing of the other
//! engines, so an instance maps only what it runs.

mod module;
mod pool;
#[cfg(feature = "wasi-http")]
mod wasi_http;

use lumos_model::Runtime;
use lumos_shim::ShimError;

fn main() -> std::process::ExitCode {
    let version = format!(
        "wasmtime {}; jit: {}, wasi-http: {}",
        lumos_wasm::wasmtime::VERSION,
        cfg!(feature = "jit"),
        cfg!(feature = "wasi-http"),
    );
    lumos_shim::shim_main(lumos_shim::WASMTIME_SHIM, &version, run)
}

/// Runs a confined spec in the engine it names.
fn run(opts: &lumos_shim::ShimOpts) -> Result<i32, ShimError> {
    match (opts.engine, &opts.pool_socket, opts.http_port) {
        (Runtime::WasmtimePooled, Some(socket), None) => return pool::run(opts, socket),
        (Runtime::WasmtimePooled, _, _) | (_, Some(_), _) => {
            return Err(ShimError::Unsupported(
                "engine wasmtime-pooled goes with pool_socket (and no http_port): \
                 the pool host serves instances on a Unix socket"
                    .into(),
            ))
        }
        _ => {}
    }
    let aot = match opts.engine {
        Runtime::WasmtimeAot => true,
        Runtime::WasmtimeJit if cfg!(feature = "jit") => false,
        Runtime::WasmtimeJit => {
            return Err(ShimError::Unsupported(format!(
                "{} was built without its `jit` feature (no cranelift): it runs wasmtime-aot only",
                lumos_shim::WASMTIME_SHIM
            )))
        }
        other => {
            return Err(ShimError::Unsupported(format!(
                "{} runs wasmtime only, not {}",
                lumos_shim::WASMTIME_SHIM,
                other.name()
            )))
        }
    };
    match opts.http_port {
        None => module::run(opts, aot),
        #[cfg(feature = "wasi-http")]
        Some(port) => wasi_http::run(opts, aot, port),
        #[cfg(not(feature = "wasi-http"))]
        Some(_) => Err(ShimError::Unsupported(format!(
            "{} was built without its `wasi-http` feature: it serves no components",
            lumos_shim::WASMTIME_SHIM
        ))),
    }
}
