//! `lumos-shim-wasmedge --spec JSON`: one wasm module in WasmEdge, started by
//! a runner for `wasmedge-interp` and `wasmedge-aot` (lumos-shim's contract).

mod engine;

use lumos_model::Runtime;
use lumos_shim::ShimError;

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if matches!(
        args.first().and_then(|a| a.to_str()),
        Some("--version" | "-V")
    ) {
        println!(
            "lumos-shim-wasmedge {} (WasmEdge {})",
            env!("CARGO_PKG_VERSION"),
            engine::VERSION
        );
        return std::process::ExitCode::SUCCESS;
    }
    let code = lumos_shim::run_shim(lumos_shim::WASMEDGE_SHIM, &args, |opts| {
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
    });
    std::process::ExitCode::from(code.clamp(0, 255) as u8)
}
