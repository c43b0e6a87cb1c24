//! wasmtime as Lumos uses it: one [`config`] for precompiling `.cwasm` files
//! and for loading them (a `.cwasm` loads only into an engine whose settings
//! match the ones it was compiled with), and the precompiler.

use lumos_model::Arch;
pub use wasmtime::{Config, Engine, OptLevel};

/// The wasmtime version linked in (the `.cwasm` format is tied to it).
pub const VERSION: &str = "48.0.8";

/// `wasmtime-<version>`, as recorded in build.json and image annotations.
pub fn engine_id() -> String {
    format!("wasmtime-{VERSION}")
}

/// The target triple wasmtime compiles for on `arch`.
pub fn triple(arch: Arch) -> &'static str {
    arch.wasmtime_triple()
}

/// Cranelift's optimisation level for an AoT level (`0`, `1`, `2`, `3`, `s`, `z`).
pub fn opt_level(level: &str) -> OptLevel {
    match level {
        "0" => OptLevel::None,
        "s" | "z" => OptLevel::SpeedAndSize,
        _ => OptLevel::Speed,
    }
}

/// The engine configuration: for `target` (None: this CPU) at `opt`.
/// Loading uses the same function with `target: None`, so settings that
/// must match between compile and load are set in one place.
pub fn config(target: Option<Arch>, opt: OptLevel) -> crate::Result<Config> {
    let mut c = Config::new();
    if let Some(arch) = target {
        c.target(triple(arch)).map_err(|e| crate::Error::Wasmtime {
            what: format!("wasmtime cannot target {}", triple(arch)),
            source: e,
        })?;
    }
    c.cranelift_opt_level(opt);
    Ok(c)
}

/// An engine with [`config`].
pub fn engine(target: Option<Arch>, opt: OptLevel) -> crate::Result<Engine> {
    Engine::new(&config(target, opt)?).map_err(|e| crate::Error::Wasmtime {
        what: "wasmtime engine".into(),
        source: e,
    })
}

/// Precompiles a core module to a `.cwasm` for `target` (None: this CPU).
pub fn precompile(wasm: &[u8], target: Option<Arch>, opt: OptLevel) -> crate::Result<Vec<u8>> {
    let e = engine(target, opt)?;
    e.precompile_module(wasm)
        .map_err(|e| crate::Error::Wasmtime {
            what: format!(
                "wasmtime could not compile the module for {}",
                target.map_or("this CPU", |a| a.as_str())
            ),
            source: e,
        })
}
