//! `lumos-shim-wasmedge --spec JSON`: one wasm module in WasmEdge, started by
//! a runner for `wasmedge-interp` and `wasmedge-aot` (lumos-shim's contract).

mod engine;
mod ffi;

use lumos_model::Runtime;
use lumos_shim::ShimError;

fn main() -> std::process::ExitCode {
    let version = format!("WasmEdge {}", engine::VERSION);
    lumos_shim::shim_main(lumos_shim::WASMEDGE_SHIM, &version, |opts| {
        match (opts.engine, opts.http_port) {
            (other, Some(_)) => Err(ShimError::Unsupported(format!(
                "http_port: {} cannot host a wasi:http component (no component model); \
                 use wasmtime-jit or wasmtime-aot",
                other.name()
            ))),
            (Runtime::WasmedgeInterp, None) => engine::run(opts, false),
            (Runtime::WasmedgeAot, None) => engine::run(opts, true),
            (other, None) => Err(ShimError::Unsupported(format!(
                "{} runs WasmEdge only, not {}",
                lumos_shim::WASMEDGE_SHIM,
                other.name()
            ))),
        }
    })
}
