//! The machine and the versions every result records.

use std::process::{Command, Stdio};

pub use lumos_model::{Machine, Versions};

fn uname() -> String {
    // SAFETY: zeroed utsname is valid; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let f = |b: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field.
        unsafe { std::ffi::CStr::from_ptr(b.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    format!(
        "{} {} {} {}",
        f(&u.sysname),
        f(&u.release),
        f(&u.version),
        f(&u.machine)
    )
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "model name" | "Model" | "cpu model").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    Machine {
        cpu_model,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        kernel: uname(),
        arch: std::env::consts::ARCH.into(),
        memory_bytes,
    }
}

fn first_line(cmd: &str, arg: &str) -> Option<String> {
    let o = Command::new(cmd)
        .arg(arg)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    o.status.success().then(|| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

/// The versions of what runs instances; WasmEdge's when its shim is found
/// for `runner_exe` (see [`crate::runtime::find_shim`]).
pub fn versions(runner_exe: Option<&std::path::Path>) -> Versions {
    let probe = crate::container::probe();
    Versions {
        lumos_runner: env!("CARGO_PKG_VERSION").into(),
        wasmtime: lumos_wasm::wasmtime::VERSION.into(),
        wasmi: lumos_shim::WASMI_VERSION.into(),
        wasmedge: crate::runtime::find_shim(lumos_model::Runtime::WasmedgeAot, runner_exe)
            .is_ok()
            .then(|| "0.14.1".to_string()),
        runc: probe
            .runc
            .clone()
            .ok()
            .or_else(|| first_line("runc", "--version")),
        crun: probe
            .crun
            .clone()
            .ok()
            .or_else(|| first_line("crun", "--version")),
        rustc: option_env!("LUMOS_RUSTC_VERSION").map(String::from),
        containerd: first_line("containerd", "--version"),
        crun_wasmedge: crate::container::containerd::crun_wasmedge_path()
            .is_file()
            .then(|| {
                first_line(
                    &crate::container::containerd::crun_wasmedge_path().to_string_lossy(),
                    "--version",
                )
            })
            .flatten(),
    }
}
