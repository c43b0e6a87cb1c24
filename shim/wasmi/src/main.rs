//! `lumos-shim-wasmi --spec JSON`: one wasm module in the wasmi interpreter
//! (`wasmi-interp`; lumos-shim's contract). It links wasmi and nothing of
//! the other engines.

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
            "{} {} (wasmi {})",
            lumos_shim::WASMI_SHIM,
            env!("CARGO_PKG_VERSION"),
            lumos_shim::WASMI_VERSION
        );
        return std::process::ExitCode::SUCCESS;
    }
    let code = lumos_shim::run_shim(lumos_shim::WASMI_SHIM, &args, |opts| {
        match (opts.engine, opts.http_port) {
            (_, Some(_)) => Err(ShimError::Unsupported(
                "http_port: wasmi-interp cannot host a wasi:http component (no component \
                 model); use wasmtime-jit or wasmtime-aot"
                    .into(),
            )),
            (Runtime::WasmiInterp, None) => engine::run(opts),
            (other, None) => Err(ShimError::Unsupported(format!(
                "{} runs wasmi only, not {}",
                lumos_shim::WASMI_SHIM,
                other.name()
            ))),
        }
    });
    std::process::ExitCode::from(code.clamp(0, 255) as u8)
}
