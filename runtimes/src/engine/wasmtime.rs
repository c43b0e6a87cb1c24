//! wasmtime 48: `wasmtime-aot` loads a precompiled `.cwasm` (mmap, no
//! compilation); `wasmtime-jit` compiles the module with Cranelift at start.

use super::{ShimError, ShimOpts};
use wasmtime::{Config, Engine, Linker, Module, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

struct State {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// The wasmtime version linked into the runner.
pub const VERSION: &str = "48.0.8";

/// The engine configuration shared by precompilation and loading; a `.cwasm`
/// loads only into an engine with compatible settings.
pub fn config(target: Option<&str>) -> Result<Config, String> {
    let mut c = Config::new();
    if let Some(t) = target {
        c.target(t).map_err(|e| format!("target {t}: {e}"))?;
    }
    Ok(c)
}

/// Precompiles `wasm` (a core module or a component, told apart by its
/// header) to a `.cwasm` for `target` (None: this CPU).
pub fn precompile(wasm: &[u8], target: Option<&str>) -> Result<Vec<u8>, String> {
    let engine = Engine::new(&config(target)?).map_err(|e| e.to_string())?;
    if wasmparser::Parser::is_component(wasm) {
        engine.precompile_component(wasm)
    } else {
        engine.precompile_module(wasm)
    }
    .map_err(|e| format!("{e:#}"))
}

pub fn run(opts: &ShimOpts, aot: bool) -> Result<i32, ShimError> {
    let trace = super::Trace::new();
    let load = |msg: String| ShimError::Load {
        module: opts.module.display().to_string(),
        msg,
    };
    // A component is told by its header (wasm) or, only when loading fails,
    // by its ELF flags (.cwasm): nothing is added to a module's start.
    let component = || {
        load(
            "this is a component: the runner serves components over HTTP \
             (protocol wasi-http, shim --http-port)"
                .into(),
        )
    };
    if !aot
        && super::binary::read_header(&opts.module)
            .map(|b| b.is_component())
            .unwrap_or(false)
    {
        return Err(component());
    }
    let engine = Engine::new(&config(None).map_err(load)?).map_err(|e| load(e.to_string()))?;
    let head = read_head(&opts.module).map_err(load)?;
    let module = if aot {
        if head != *b"\x7fELF" {
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
        if head != *b"\0asm" {
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
    .arg(&opts.name);
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

pub(crate) fn read_head(p: &std::path::Path) -> Result<[u8; 4], String> {
    use std::io::Read;
    let mut f = std::fs::File::open(p).map_err(|e| e.to_string())?;
    let mut h = [0u8; 4];
    f.read_exact(&mut h)
        .map_err(|e| format!("too short: {e}"))?;
    Ok(h)
}
