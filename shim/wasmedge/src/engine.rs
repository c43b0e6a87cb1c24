//! WasmEdge 0.14.1 through `wasmedge-sdk` 0.14.0 (the paper's runtime).
//! `wasmedge-interp` forces the interpreter; `wasmedge-aot` runs the native
//! code of a universal wasm module's `wasmedge` custom section, and refuses
//! to run when that code is missing or not for this host (WasmEdge itself
//! would quietly fall back to the interpreter): the section header is
//! checked before loading, and WasmEdge's own log is read while loading.

use lumos_shim::{ShimError, ShimOpts};
use lumos_wasmedge_section::{self as wasmedge_section, AotSection, OS_LINUX};
use std::collections::HashMap;
use wasmedge_sdk::config::{CommonConfigOptions, ConfigBuilder, RuntimeConfigOptions};
use wasmedge_sdk::wasi::WasiModule;
use wasmedge_sdk::{Instance, LogManager, Module, Store, Vm};

pub const VERSION: &str = "0.14.1";

/// Runs `f` with fd 1 redirected to a temporary file; returns what was
/// written. (WasmEdge's log goes to stdout, which is the frame pipe.)
fn capture_stdout<T>(f: impl FnOnce() -> T) -> (T, String) {
    use std::io::{Read, Seek};
    let Ok(mut tmp) = tempfile::tempfile() else {
        return (f(), String::new());
    };
    // SAFETY: plain dup/dup2 on our own descriptors; restored before returning.
    let saved = unsafe { libc::dup(1) };
    if saved < 0 {
        return (f(), String::new());
    }
    unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&tmp), 1) };
    let r = f();
    unsafe {
        libc::dup2(saved, 1);
        libc::close(saved);
    }
    let mut s = String::new();
    let _ = tmp.rewind();
    let _ = tmp.read_to_string(&mut s);
    (r, s)
}

pub fn run(opts: &ShimOpts, aot: bool) -> Result<i32, ShimError> {
    let load = |msg: String| ShimError::Load {
        module: opts.module_shown(),
        msg,
    };
    let bytes = std::fs::read(&opts.module).map_err(|e| load(e.to_string()))?;
    if !bytes.starts_with(b"\0asm") {
        return Err(load("WasmEdge needs a wasm module; this is not one".into()));
    }
    if aot {
        let host = lumos_model::Arch::host().map_or(0, AotSection::arch_byte);
        match wasmedge_section::read(&bytes).map_err(|e| load(lumos_model::error_chain(&e)))? {
            None => {
                return Err(load(
                    "wasmedge-aot needs a universal wasm with a `wasmedge` AoT section (an aot-wasmedge image); \
                     this module has none"
                        .into(),
                ))
            }
            Some(AotSection { os, arch, .. }) if os != OS_LINUX || arch != host => {
                return Err(load(format!(
                    "the module's AoT code is for os {os} arch {arch}, this host is os {OS_LINUX} arch {host}: \
                     WasmEdge would fall back to its interpreter"
                )))
            }
            Some(_) => {}
        }
    }
    let mut rc = RuntimeConfigOptions::default();
    if let Some(m) = opts.memory_limit {
        rc = rc.max_memory_pages((m / 65536).clamp(1, 65536) as u32);
    }
    let config = ConfigBuilder::new(CommonConfigOptions::default().interpreter_mode(!aot))
        .with_runtime_config(rc)
        .build()
        .map_err(|e| load(e.to_string()))?;
    let envs: Vec<String> = opts
        .policy
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let preopens: Vec<String> = opts
        .policy
        .preopens
        .iter()
        .map(|(h, g)| format!("{g}:{}", h.display()))
        .collect();
    let argv: Vec<&str> = std::iter::once(opts.name.as_str())
        .chain(opts.args.iter().map(String::as_str))
        .collect();
    let mut wasi = WasiModule::create(
        Some(argv),
        Some(envs.iter().map(String::as_str).collect()),
        Some(preopens.iter().map(String::as_str).collect()),
    )
    .map_err(|e| load(e.to_string()))?;
    let mut instances: HashMap<String, &mut Instance> = HashMap::new();
    instances.insert(wasi.name().to_string(), wasi.as_mut());
    let store = Store::new(Some(&config), instances).map_err(|e| load(e.to_string()))?;
    let mut vm = Vm::new(store);
    // Read WasmEdge's own log while it loads: a fallback to the interpreter is
    // logged there ("Load AOT section failed. Use interpreter mode instead.").
    LogManager::log_debug_info();
    let (module, log) = capture_stdout(|| Module::from_bytes(Some(&config), &bytes));
    // WasmEdge logs to stdout, the frame pipe: silence it while the guest runs
    // (a trap's reason comes back as the error value).
    LogManager::log_off();
    let module = module.map_err(|e| load(e.to_string()))?;
    let low = log.to_ascii_lowercase();
    if aot
        && (low.contains("interpreter mode")
            || low.contains("aot section failed")
            || low.contains("unmatched"))
    {
        let lines: Vec<&str> = log.lines().map(str::trim).collect();
        return Err(load(format!(
            "WasmEdge would fall back to its interpreter: {}",
            lines.join(" | ")
        )));
    }
    vm.register_module(None, module)
        .map_err(|e| ShimError::Trap(e.to_string()))?;
    let r = vm.run_func(None, "_start", []);
    drop(vm);
    let code = wasi.exit_code();
    match r {
        Ok(_) => Ok(code as i32),
        // proc_exit ends execution with a "terminated" error; the code is in the WASI module.
        Err(e) if e.to_string().to_ascii_lowercase().contains("terminated") => Ok(code as i32),
        Err(e) => Err(ShimError::Trap(e.to_string())),
    }
}
