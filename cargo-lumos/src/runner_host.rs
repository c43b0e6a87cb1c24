//! `cargo-lumos` hosts the runner's helper processes itself, so a bench needs
//! no separately built `lumos-runner`: the runner starts wasm shims and its
//! guard as `<runner_exe> shim …` / `<runner_exe> guard`; we point runner_exe
//! at a symlink named `lumos-runner` to this executable, and `main` hands
//! such invocations to [`dispatch`] (the busybox pattern). `$LUMOS_RUNNER`,
//! when set, is used instead.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

const NAME: &str = "lumos-runner";

/// When this process was started as `lumos-runner` (through the symlink),
/// does what the runner asked (`shim --spec JSON` or `guard`, read by
/// lumos-runtimes as lumos-runner reads them) and returns the exit status.
pub fn dispatch(args: &[std::ffi::OsString]) -> Option<ExitCode> {
    let argv0 = args.first()?;
    if Path::new(argv0).file_name()? != NAME {
        return None;
    }
    let code = match args.get(1).and_then(|a| a.to_str()) {
        Some("shim") => lumos_runtimes::engine::shim_entry(&args[2..]),
        Some("guard") if args.len() == 2 => lumos_runtimes::guard::guard_main(),
        _ => {
            eprintln!(
                "error: cargo-lumos hosts only `lumos-runner shim --spec JSON` and \
                 `lumos-runner guard`; got {:?}",
                &args[1..]
            );
            2
        }
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
