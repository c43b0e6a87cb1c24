//! wasmtime 48: `wasmtime-aot` loads a precompiled `.cwasm` (mmap, no
//! compilation); `wasmtime-jit` compiles the module with Cranelift at start.

use super::{ShimError, ShimOpts};
use lumos_wasm::BinaryKind;
use wasmtime::{Linker, Module, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

struct State {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// The wasmtime version linked into the runner (lumos-wasm's: the `.cwasm`
/// format is tied to it).
pub use lumos_wasm::wasmtime::VERSION;

/// The optimisation level of the runner's own compiles (`wasmtime-jit`,
/// `lumos-runner precompile`): cranelift's default, what lumos-build's AoT
/// level `3` gives.
pub const OPT_LEVEL: lumos_wasm::wasmtime::OptLevel = lumos_wasm::wasmtime::OptLevel::Speed;

/// Precompiles `wasm` (a core module or a component) to a `.cwasm` for `target` (None: this CPU), with the
/// same configuration the shim loads it with (lumos-wasm's one `config`).
pub fn precompile(wasm: &[u8], target: Option<lumos_model::Arch>) -> lumos_wasm::Result<Vec<u8>> {
    lumos_wasm::wasmtime::precompile(wasm, target, OPT_LEVEL)
}

pub fn run(opts: &ShimOpts, aot: bool) -> Result<i32, ShimError> {
    let trace = lumos_shim::Trace::new();
    let load = |msg: String| ShimError::Load {
        module: opts.module_shown(),
        msg,
    };
    // A component is told by its header (wasm) or, only when loading fails,
    // by its ELF flags (.cwasm): nothing is added to a module's start.
    let component = || {
        load(
            "this is a component: the runner serves components over HTTP \
             (protocol wasi-http)"
                .into(),
        )
    };
    let kind = BinaryKind::of_file(&opts.module).map_err(|e| load(e.to_string()))?;
    if !aot && kind == BinaryKind::Component {
        return Err(component());
    }
    let engine = lumos_wasm::wasmtime::engine(None, OPT_LEVEL)
        .map_err(|e| load(lumos_model::error_chain(&e)))?;
    let module = if aot {
        if kind != BinaryKind::Elf {
            return Err(load(
                "wasmtime-aot needs a precompiled .cwasm (an ELF file); this is not one".into(),
            ));
        }
        // SAFETY: the file is a wasmtime artifact from the image we verified by digest;
        // wasmtime checks its header and engine compatibility before use.
        unsafe { Module::deserialize_file(&engine, &opts.module) }.map_err(|e| {
            if super::binary::detect_file(&opts.module).is_ok_and(|b| b.is_component()) {
                component()
            } else {
                load(format!("{e:#}"))
            }
        })?
    } else {
        if !kind.is_wasm() {
            return Err(load(
                "wasmtime-jit needs a wasm module; this is not one".into(),
            ));
        }
        Module::from_file(&engine, &opts.module).map_err(|e| load(format!("{e:#}")))?
    };
    trace.mark("module loaded");
    let mut linker: Linker<State> = Linker::new(&engine);
    p1::add_to_linker_sync(&mut linker, |s| &mut s.wasi).map_err(|e| load(e.to_string()))?;
    let mut b = WasiCtxBuilder::new();
    // stdin read directly and blocking (wasmtime-wasi's inherited stdin goes
    // through a worker thread: a thread hand-off on every frame).
    let stdin = std::os::fd::AsFd::as_fd(&std::io::stdin())
        .try_clone_to_owned()
        .map_err(|e| load(format!("stdin: {e}")))?;
    b.stdin(wasmtime_wasi::cli::InputFile::new(std::fs::File::from(
        stdin,
    )))
    .inherit_stdout()
    .inherit_stderr()
    .arg(&opts.name)
    .args(&opts.args);
    for (k, v) in &opts.policy.env {
        b.env(k, v);
    }
    for (host, guest) in &opts.policy.preopens {
        b.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| load(format!("preopen {}: {e}", host.display())))?;
    }
    if opts.policy.network {
        b.inherit_network();
    }
    let mut lb = StoreLimitsBuilder::new().trap_on_grow_failure(true);
    if let Some(m) = opts.memory_limit {
        lb = lb.memory_size(m as usize);
    }
    let mut store = Store::new(
        &engine,
        State {
            wasi: b.build_p1(),
            limits: lb.build(),
        },
    );
    store.limiter(|s| &mut s.limits);
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| ShimError::Trap(format!("{e:#}")))?;
    trace.mark("instantiated");
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(|e| load(format!("no _start: {e}")))?;
    match start.call(&mut store, ()) {
        Ok(()) => Ok(0),
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(x) => Ok(x.0),
            None => Err(ShimError::Trap(format!("{e:#}"))),
        },
    }
}
