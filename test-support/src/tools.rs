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
