//! wasmi 2.0: a real interpreter (`wasmi-interp`).

use lumos_shim::{ShimError, ShimOpts};
use wasmi::{Engine, Linker, Module, Store, StoreLimits, StoreLimitsBuilder};

struct State {
    wasi: wasmi_wasi::WasiCtx,
    limits: StoreLimits,
}

/// Runs the module's `_start` with WASI p1 under the spec's policy.
pub fn run(opts: &ShimOpts) -> Result<i32, ShimError> {
    let load = |msg: String| ShimError::Load {
        module: opts.module_shown(),
        msg,
    };
    if opts.policy.network {
        return Err(ShimError::Unsupported(
            "wasmi-interp provides no sockets".into(),
        ));
    }
    let bytes = std::fs::read(&opts.module).map_err(|e| load(e.to_string()))?;
    if !bytes.starts_with(b"\0asm") {
        return Err(load(
            "wasmi-interp needs a wasm module; this is not one".into(),
        ));
    }
    let engine = Engine::default();
    let module = Module::new(&engine, &bytes[..]).map_err(|e| load(e.to_string()))?;
    let mut linker = <Linker<State>>::new(&engine);
    wasmi_wasi::add_to_linker(&mut linker, |s| &mut s.wasi).map_err(|e| load(e.to_string()))?;
    stub_wasmedge_sockets(&mut linker, &module).map_err(load)?;
    let mut b = wasmi_wasi::WasiCtxBuilder::new();
    b.inherit_stdio();
    for a in std::iter::once(&opts.name).chain(&opts.args) {
        b.arg(a).map_err(|e| load(e.to_string()))?;
    }
    for (k, v) in &opts.policy.env {
        b.env(k, v).map_err(|e| load(e.to_string()))?;
    }
    for (host, guest) in &opts.policy.preopens {
        let dir = wasmi_wasi::Dir::open_ambient_dir(host, wasmi_wasi::ambient_authority())
            .map_err(|e| load(format!("preopen {}: {e}", host.display())))?;
        b.preopened_dir(dir, guest)
            .map_err(|e| load(e.to_string()))?;
    }
    let mut lb = StoreLimitsBuilder::new().trap_on_grow_failure(true);
    if let Some(m) = opts.memory_limit {
        lb = lb.memory_size(m as usize);
    }
    let mut store = Store::new(
        &engine,
        State {
            wasi: b.build(),
            limits: lb.build(),
        },
    );
    store.limiter(|s| &mut s.limits);
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| ShimError::Trap(e.to_string()))?;
    let start = instance
        .get_typed_func::<(), ()>(&store, "_start")
        .map_err(|e| load(format!("no _start: {e}")))?;
    match start.call(&mut store, ()) {
        Ok(()) => Ok(0),
        Err(e) => match e.i32_exit_status() {
            Some(code) => Ok(code),
            None => Err(ShimError::Trap(e.to_string())),
        },
    }
}

/// Defines the WasmEdge socket calls `module` imports
/// ([`lumos_shim::WASMEDGE_SOCKET_IMPORTS`]) as functions that trap.
fn stub_wasmedge_sockets(linker: &mut Linker<State>, module: &Module) -> Result<(), String> {
    use lumos_shim::{wasmedge_socket_trap, WASI_P1_MODULE, WASMEDGE_SOCKET_IMPORTS};
    for import in module.imports() {
        if import.module() != WASI_P1_MODULE || !WASMEDGE_SOCKET_IMPORTS.contains(&import.name()) {
            continue;
        }
        if let wasmi::ExternType::Func(ty) = import.ty() {
            let message = wasmedge_socket_trap(import.name(), "wasmi");
            linker
                .func_new(WASI_P1_MODULE, import.name(), ty.clone(), move |_, _, _| {
                    Err(wasmi::Error::new(message.clone()))
                })
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
