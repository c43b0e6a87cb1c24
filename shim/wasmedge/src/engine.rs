//! WasmEdge 0.14.1 through its C API (the paper's runtime; `ffi`).
//! `wasmedge-interp` forces the interpreter; `wasmedge-aot` runs the native
//! code of a universal wasm module's `wasmedge` custom section, and refuses
//! to run when that code is missing or not for this host (WasmEdge itself
//! would quietly fall back to the interpreter): the section header is
//! checked before loading, and WasmEdge's own log is read while loading.

use lumos_shim::{ShimError, ShimOpts};
use lumos_wasmedge_section::{self as wasmedge_section, AotSection, OS_LINUX};

use crate::ffi;

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
    let max_pages = opts
        .memory_limit
        .map(|m| (m / 65536).clamp(1, 65536) as u32);
    let config = ffi::Config::new(!aot, max_pages).map_err(|e| load(e.to_string()))?;
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
    let argv: Vec<String> = std::iter::once(opts.name.clone())
        .chain(opts.args.iter().cloned())
        .collect();
    let wasi = ffi::Wasi::new(&argv, &envs, &preopens).map_err(|e| load(e.to_string()))?;
    let mut vm = ffi::Vm::new(&config, &wasi).map_err(|e| load(e.to_string()))?;
    // Read WasmEdge's own log while it loads: a fallback to the interpreter is
    // logged there ("Load AOT section failed. Use interpreter mode instead.").
    ffi::log_debug();
    let (loaded, log) = capture_stdout(|| vm.load(&bytes));
    // WasmEdge logs to stdout, the frame pipe: silence it while the guest runs
    // (a trap's reason comes back as the error value).
    ffi::log_off();
    loaded.map_err(|e| load(e.to_string()))?;
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
    let r = vm.run("_start");
    drop(vm);
    let code = wasi.exit_code();
    match r {
        Ok(()) => Ok(code as i32),
        // proc_exit ends execution with WasmEdge's "terminated"; the code is in the WASI module.
        Err(e) if e.is_terminated() => Ok(code as i32),
        Err(e) => Err(ShimError::Trap(e.to_string())),
    }
}
