//! Ahead-of-time compilation with wasmtime (cranelift): a `.cwasm` for any
//! architecture cranelift supports, cross-compiled in process.

use anyhow::{anyhow, Result};

use crate::variant::Arch;

/// The wasmtime version whose `.cwasm` format we write (the runner must match it).
pub const VERSION: &str = "48.0.8";

/// `wasmtime-<version>`, as recorded in build.json and image annotations.
pub fn engine_id() -> String {
    format!("wasmtime-{VERSION}")
}

/// Compiles `wasm` to a `.cwasm` for `arch` at the given optimisation level.
pub fn precompile(wasm: &[u8], arch: Arch, opt_level: &str) -> Result<Vec<u8>> {
    let mut config = wasmtime::Config::new();
    config
        .target(arch.wasmtime_triple())
        .map_err(|e| anyhow!("wasmtime cannot target {}: {e}", arch.wasmtime_triple()))?;
    config.cranelift_opt_level(match opt_level {
        "0" => wasmtime::OptLevel::None,
        "s" | "z" => wasmtime::OptLevel::SpeedAndSize,
        _ => wasmtime::OptLevel::Speed,
    });
    let engine = wasmtime::Engine::new(&config).map_err(|e| anyhow!("wasmtime engine: {e}"))?;
    engine.precompile_module(wasm).map_err(|e| {
        anyhow!(
            "wasmtime could not compile the module for {}: {e:#}",
            arch.as_str()
        )
    })
}
