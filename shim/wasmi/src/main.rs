//! `lumos-shim-wasmi --spec JSON`: one wasm module in the wasmi interpreter
//! (`wasmi-interp`; lumos-shim's contract). It links wasmi and nothing of
//! the other engines.

mod engine;

use lumos_model::Runtime;
use lumos_shim::ShimError;

fn main() -> std::process::ExitCode {
    let version = format!("wasmi {}", lumos_shim::WASMI_VERSION);
    lumos_shim::shim_main(lumos_shim::WASMI_SHIM, &version, |opts| {
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
    })
}
