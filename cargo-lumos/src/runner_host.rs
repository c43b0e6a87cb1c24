//! `cargo-lumos` hosts the runner's helper processes itself, so a bench needs
//! no separately built `lumos-runner`: the runner starts wasm shims and its
//! guard as `<runner_exe> shim …` / `<runner_exe> guard`; we point runner_exe
//! at a symlink named `lumos-runner` to this executable, and `main` hands
//! such invocations to [`dispatch`] (the busybox pattern). `$LUMOS_RUNNER`,
//! when set, is used instead.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use lumos_runtimes::engine::shim_args::ShimArgs;

const NAME: &str = "lumos-runner";

#[derive(Debug, Parser)]
#[command(name = "lumos-runner")]
enum HostCmd {
    /// Host one wasm module in one engine on this process's stdio.
    Shim(ShimArgs),
    /// Clean up after the runner when it exits.
    Guard,
}

/// When this process was started as `lumos-runner` (through the symlink),
/// does what the runner asked and returns the exit status.
pub fn dispatch(args: &[std::ffi::OsString]) -> Option<ExitCode> {
    let argv0 = args.first()?;
    if Path::new(argv0).file_name()? != NAME {
        return None;
    }
    let code = match HostCmd::parse_from(args) {
        HostCmd::Guard => lumos_runtimes::guard::guard_main(),
        HostCmd::Shim(args) => args.run(),
    };
    Some(ExitCode::from(code.clamp(0, 255) as u8))
}

/// The runner executable for a bench: `$LUMOS_RUNNER`, else a `lumos-runner`
/// symlink to this executable under `dir`.
pub fn runner_exe(dir: &Path) -> Result<Option<PathBuf>> {
    if std::env::var_os("LUMOS_RUNNER").is_some() {
        return Ok(None);
    }
    let me = std::env::current_exe().context("locating this executable")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let link = dir.join(NAME);
    let tmp = dir.join(format!(".{NAME}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&me, &tmp)
        .with_context(|| format!("symlink {} -> {}", tmp.display(), me.display()))?;
    std::fs::rename(&tmp, &link).with_context(|| format!("placing {}", link.display()))?;
    Ok(Some(link))
}
