//! `cargo-lumos` hosts the runner's guard itself, so a bench needs no
//! separately built `lumos-runner`: the runner starts its guard as
//! `<runner_exe> guard`; a bench points runner_exe at this executable, and
//! `main` hands such an invocation (no verb of cargo lumos is called
//! `guard`) to [`dispatch`]. The wasm shims are executables of their own
//! (shim/*), found beside this one or on PATH. `$LUMOS_RUNNER`, when set,
//! is used instead.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

/// When this process was started by a runner as its guard (`cargo-lumos
/// guard`, as lumos-runner's), does the guard's work and returns the exit status.
pub fn dispatch(args: &[std::ffi::OsString]) -> Option<ExitCode> {
    if args.get(1)?.to_str()? != "guard" {
        return None;
    }
    let code = if args.len() == 2 {
        lumos_runtimes::guard::guard_main()
    } else {
        eprintln!(
            "error: cargo-lumos hosts only the runner's `guard`; got {:?}",
            &args[1..]
        );
        2
    };
    Some(ExitCode::from(code.clamp(0, 255) as u8))
}

/// The runner executable for a bench: `$LUMOS_RUNNER` (None: the runner
/// reads it), else this executable.
pub fn runner_exe() -> Result<Option<PathBuf>> {
    if std::env::var_os("LUMOS_RUNNER").is_some() {
        return Ok(None);
    }
    Ok(Some(
        std::env::current_exe().context("locating this executable")?,
    ))
}
