//! Outside programs: found by name (lumos-services' lookup), run with a clear panic.

use std::path::PathBuf;
use std::process::Command;

/// The path of `program`; fails the test saying how to install it when it is missing.
pub fn require(program: &str) -> PathBuf {
    lumos_services::find_program(program).unwrap_or_else(|| {
        panic!(
            "`{program}` is not installed: {}",
            lumos_services::program::install_hint(program)
        )
    })
}

/// Runs `cmd` and returns its stdout; panics with the command, its status and
/// both outputs when it cannot start or fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The environment variables through which scripts/test lints while it
/// builds: clippy-driver as cargo's workspace wrapper, with the lint levels
/// in `CLIPPY_ARGS` (one workspace build instead of `cargo clippy`'s check
/// plus `cargo test`'s build).
pub const LINT_ENV: [&str; 2] = ["RUSTC_WORKSPACE_WRAPPER", "CLIPPY_ARGS"];

/// `cargo` (the one running the tests, `$CARGO`) for a build a test starts:
/// fixtures, examples, the functions a bench builds. Those builds are not the
/// code under lint, so they get plain rustc ([`LINT_ENV`] removed), and no
/// `RUSTFLAGS` of the caller (a fixture's own config decides).
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    unlinted(&mut cmd).env_remove("RUSTFLAGS");
    cmd
}

/// `cmd` without the lint wrapper's environment ([`LINT_ENV`]): for a
/// program that runs cargo itself (cargo-lumos building fixtures).
pub fn unlinted(cmd: &mut Command) -> &mut Command {
    for var in LINT_ENV {
        cmd.env_remove(var);
    }
    cmd
}
