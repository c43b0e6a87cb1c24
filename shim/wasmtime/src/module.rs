//! A core module (wasm32-wasip1, WASI preview 1) in wasmtime 48:
//! `wasmtime-aot` loads a precompiled `.cwasm` (mmap, no compilation);
//! `wasmtime-jit` compiles the module with Cranelift at start.

use lumos_shim::{ShimError, ShimOpts};
use lumos_wasm::BinaryKind;
use wasmtime::{Engine, Instance, Linker, Module, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// The store data of one instance of a core module.
pub(crate) struct State {
    pub(crate) wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// The store of one instance: WASI p1 under the spec's policy (argv, env,
/// preopened directories, network) and its memory limit, the guest reading
/// `stdin` directly and blocking (wasmtime-wasi's inherited stdin goes
/// through a worker thread: a thread hand-off on every frame) and writing
/// `stdout` (None: this process's stdout).
pub(crate) fn store(
    engine: &Engine,
    opts: &ShimOpts,
    stdin: std::fs::File,
    stdout: Option<std::fs::File>,
) -> Result<Store<State>, ShimError> {
    let load = |msg: String| ShimError::Load {
        module: opts.module_shown(),
        msg,
    };
    let mut b = WasiCtxBuilder::new();
    b.stdin(wasmtime_wasi::cli::InputFile::new(stdin))
        .inherit_stderr()
        .arg(&opts.name)
        .args(&opts.args);
    match stdout {
        Some(f) => b.stdout(wasmtime_wasi::cli::OutputFile::new(f)),
        None => b.inherit_stdout(),
    };
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
        engine,
        State {
            wasi: b.build_p1(),
            limits: lb.build(),
        },
    );
    store.limiter(|s| &mut s.limits);
    // The pool host's engine has epoch interruption (its stores' deadline
    // would be "now"): a deadline far away, which the host shortens for its
    // instances; unused by the other engines.
    store.set_epoch_deadline(lumos_wasm::wasmtime::NO_DEADLINE);
    Ok(store)
}

/// Runs the instance's `_start` to its end: the guest's exit status, or the trap.
pub(crate) fn run_start(
    instance: &Instance,
    store: &mut Store<State>,
    opts: &ShimOpts,
) -> Result<i32, ShimError> {
    let start = instance
        .get_typed_func::<(), ()>(&mut *store, "_start")
        .map_err(|e| ShimError::Load {
            module: opts.module_shown(),
            msg: format!("no _start: {e}"),
        })?;
    match start.call(&mut *store, ()) {
        Ok(()) => Ok(0),
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(x) => Ok(x.0),
            None => Err(ShimError::Trap(format!("{e:#}"))),
        },
    }
}

/// Runs the module's `_start` with WASI p1 under the spec's policy.
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
    let engine = lumos_wasm::wasmtime::engine(None, lumos_wasm::wasmtime::OPT_LEVEL)
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
            if lumos_wasm::binary::detect_file(&opts.module).is_ok_and(|b| b.is_component()) {
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
        jit(&engine, opts).map_err(load)?
    };
    trace.mark("module loaded");
    let mut linker: Linker<State> = Linker::new(&engine);
    p1::add_to_linker_sync(&mut linker, |s| &mut s.wasi).map_err(|e| load(e.to_string()))?;
    stub_wasmedge_sockets(&mut linker, &module).map_err(load)?;
    let stdin = std::os::fd::AsFd::as_fd(&std::io::stdin())
        .try_clone_to_owned()
        .map_err(|e| load(format!("stdin: {e}")))?;
    let mut store = store(&engine, opts, std::fs::File::from(stdin), None)?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| ShimError::Trap(format!("{e:#}")))?;
    trace.mark("instantiated");
    run_start(&instance, &mut store, opts)
}

/// Defines the WasmEdge socket calls `module` imports
/// ([`lumos_shim::WASMEDGE_SOCKET_IMPORTS`]) as functions that trap.
pub(crate) fn stub_wasmedge_sockets(
    linker: &mut Linker<State>,
    module: &Module,
) -> Result<(), String> {
    use lumos_shim::{wasmedge_socket_trap, WASI_P1_MODULE, WASMEDGE_SOCKET_IMPORTS};
    for import in module.imports() {
        if import.module() != WASI_P1_MODULE || !WASMEDGE_SOCKET_IMPORTS.contains(&import.name()) {
            continue;
        }
        if let wasmtime::ExternType::Func(ty) = import.ty() {
            let message = wasmedge_socket_trap(import.name(), "wasmtime");
            linker
                .func_new(WASI_P1_MODULE, import.name(), ty, move |_, _, _| {
                    Err(wasmtime::format_err!("{message}"))
                })
                .map_err(|e| format!("{e:#}"))?;
        }
    }
    Ok(())
}

/// Compiles the module with cranelift (`wasmtime-jit`).
#[cfg(feature = "jit")]
fn jit(engine: &wasmtime::Engine, opts: &ShimOpts) -> Result<Module, String> {
    Module::from_file(engine, &opts.module).map_err(|e| format!("{e:#}"))
}

/// Never called: main refuses `wasmtime-jit` without the `jit` feature.
#[cfg(not(feature = "jit"))]
fn jit(_: &wasmtime::Engine, _: &ShimOpts) -> Result<Module, String> {
    Err("built without the `jit` feature".into())
}
