//! wasmtime as Lumos uses it: one [`config`] for precompiling `.cwasm` files
//! and for loading them (a `.cwasm` loads only into an engine whose settings
//! match the ones it was compiled with), and the precompiler.

use lumos_model::Arch;
pub use wasmtime::{Config, Engine, OptLevel, Precompiled};

/// The wasmtime version linked in (the `.cwasm` format is tied to it).
pub const VERSION: &str = "48.0.8";

/// `wasmtime-<version>`, as recorded in build.json and image annotations.
pub fn engine_id() -> String {
    format!("wasmtime-{VERSION}")
}

/// The epoch deadline of a store that nothing interrupts: ticks beyond the
/// current epoch, which only the `wasmtime-pooled` host advances. An engine
/// with epoch interruption starts every store's deadline at "now" (it would
/// trap at once), so each store of such an engine sets one; for an engine
/// without it the deadline is unused.
pub const NO_DEADLINE: u64 = u64::MAX / 2;

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
    // Without a compiler there is nothing to set: the opt level is not
    // checked when a .cwasm loads (it does not change semantics).
    #[cfg(feature = "compile")]
    c.cranelift_opt_level(opt);
    #[cfg(not(feature = "compile"))]
    let _ = opt;
    Ok(c)
}

/// [`config`] with epoch interruption compiled in: every function entry
/// and loop back edge checks the engine's epoch against the store's
/// deadline, so a guest that never yields can be interrupted. Only the
/// `wasmtime-pooled` host uses it (on the wasm modules it compiles, and on
/// `.cwasm` files precompiled with it): measured on the `fibonacci`
/// built-in (big-integer arithmetic, call-heavy), the checks cost 16-27%
/// of its run time; on a tight loop about 0% (shim/wasmtime/tests/it/
/// epoch_cost.rs, README.md "wasmtime-pooled"). `wasmtime-aot`, whose
/// figures are compared with the paper's, stays without them; a process per
/// instance is stopped with its process.
pub fn config_interruptible(target: Option<Arch>, opt: OptLevel) -> crate::Result<Config> {
    let mut c = config(target, opt)?;
    c.epoch_interruption(true);
    Ok(c)
}

/// An engine with [`config`].
pub fn engine(target: Option<Arch>, opt: OptLevel) -> crate::Result<Engine> {
    Engine::new(&config(target, opt)?).map_err(|e| crate::Error::Wasmtime {
        what: "wasmtime engine".into(),
        source: e,
    })
}

/// The optimisation level of Lumos's own compiles (`wasmtime-jit`,
/// `lumos-runner precompile`): cranelift's default, what lumos-build's AoT
/// level `3` gives.
pub const OPT_LEVEL: OptLevel = OptLevel::Speed;

/// Precompiles a core module or a component (told apart by its header) to a
/// `.cwasm` for `target` (None: this CPU).
#[cfg(feature = "compile")]
pub fn precompile(wasm: &[u8], target: Option<Arch>, opt: OptLevel) -> crate::Result<Vec<u8>> {
    precompile_in(config(target, opt)?, wasm, target)
}

/// [`precompile`] with epoch interruption compiled in
/// ([`config_interruptible`]): a `.cwasm` whose `wasmtime-pooled` host can
/// interrupt one instance; `wasmtime-aot` does not load it.
#[cfg(feature = "compile")]
pub fn precompile_interruptible(
    wasm: &[u8],
    target: Option<Arch>,
    opt: OptLevel,
) -> crate::Result<Vec<u8>> {
    precompile_in(config_interruptible(target, opt)?, wasm, target)
}

#[cfg(feature = "compile")]
fn precompile_in(config: Config, wasm: &[u8], target: Option<Arch>) -> crate::Result<Vec<u8>> {
    let e = Engine::new(&config).map_err(|e| crate::Error::Wasmtime {
        what: "wasmtime engine".into(),
        source: e,
    })?;
    let component = crate::BinaryKind::of_bytes(wasm) == crate::BinaryKind::Component;
    if component {
        e.precompile_component(wasm)
    } else {
        e.precompile_module(wasm)
    }
    .map_err(|e| crate::Error::Wasmtime {
        what: format!(
            "wasmtime could not compile the {} for {}",
            if component { "component" } else { "module" },
            target.map_or("this CPU", |a| a.as_str())
        ),
        source: e,
    })
}

/// What a wasmtime `.cwasm` was precompiled from (a module or a component),
/// read from the ELF flags wasmtime writes; None: the file is no wasmtime
/// artifact (another ELF file, wasm, anything else).
pub fn precompiled_kind(path: &std::path::Path) -> crate::Result<Option<Precompiled>> {
    // wasmtime 48 reports a file shorter than an ELF header (a tiny
    // component, say) as an error rather than "not precompiled": only an
    // ELF file can be a .cwasm, so anything else is `None` here.
    let mut magic = [0u8; 4];
    // (A file that cannot be read is left to wasmtime, which names the error.)
    let not_elf = match std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
    {
        Ok(()) => &magic != b"\x7fELF",
        Err(e) => e.kind() == std::io::ErrorKind::UnexpectedEof,
    };
    if not_elf {
        return Ok(None);
    }
    Engine::detect_precompiled_file(path).map_err(|e| crate::Error::Wasmtime {
        what: format!("{}: reading it as a wasmtime .cwasm", path.display()),
        source: e,
    })
}

#[cfg(all(test, feature = "compile"))]
mod tests {
    use super::*;

    #[test]
    fn precompiled_component_and_module_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m.cwasm");
        let c = dir.path().join("c.cwasm");
        let w = dir.path().join("c.wasm");
        // The smallest module and component.
        let module = b"\0asm\x01\0\0\0";
        let component = b"\0asm\x0d\0\x01\0";
        std::fs::write(&m, precompile(module, None, OptLevel::Speed).unwrap()).unwrap();
        std::fs::write(&c, precompile(component, None, OptLevel::Speed).unwrap()).unwrap();
        std::fs::write(&w, component).unwrap();
        assert_eq!(precompiled_kind(&m).unwrap(), Some(Precompiled::Module));
        assert_eq!(precompiled_kind(&c).unwrap(), Some(Precompiled::Component));
        assert_eq!(precompiled_kind(&w).unwrap(), None);
    }
}
