//! `cargo-lumos` hosts the runner's helper processes itself, so a bench needs
//! no separately built `lumos-runner`: the runner starts wasm shims and its
//! guard as `<runner_exe> shim …` / `<runner_exe> guard`; a bench points
//! runner_exe at this executable, and `main` hands such invocations (no verb
//! of cargo lumos is called `shim` or `guard`) to [`dispatch`].
//! `$LUMOS_RUNNER`, when set, is used instead.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

/// When this process was started by a runner as its shim or guard
/// (`cargo-lumos shim --spec JSON` or `cargo-lumos guard`, read by
/// lumos-runtimes as lumos-runner reads them), does what the runner asked and
/// returns the exit status.
pub fn dispatch(args: &[std::ffi::OsString]) -> Option<ExitCode> {
    if !matches!(args.get(1)?.to_str()?, "shim" | "guard") {
        return None;
    }
    let code = match args.get(1).and_then(|a| a.to_str()) {
        Some("shim") => lumos_runtimes::engine::shim_entry(&args[2..]),
        Some("guard") if args.len() == 2 => lumos_runtimes::guard::guard_main(),
        _ => {
            eprintln!(
                "error: cargo-lumos hosts only `shim --spec JSON` and `guard`; got {:?}",
                &args[1..]
            );
            2
        }
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
