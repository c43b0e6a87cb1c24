//! Size optimisation of wasm modules with binaryen's `wasm-opt`, where it is installed.

use std::path::Path;
use std::process::Command;

use crate::error::{bail, Context, Result};

use super::toolchain::find_program;

/// The flags we run wasm-opt with. Part of the cache key.
///
/// The features are those rustc enables by default for `wasm32-wasip1` (Rust
/// 1.87 and later: `rustc --print cfg --target wasm32-wasip1`). Rust's
/// release modules carry no `target_features` section, so without them
/// binaryen (108, Debian 12) assumes MVP and rejects e.g. `memory.copy`.
pub const FLAGS: &[&str] = &[
    "-O2",
    "--strip-debug",
    "--strip-producers",
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// The installed wasm-opt's version line, or None when it is not installed.
pub fn version() -> Option<String> {
    let program = find_program("wasm-opt")?;
    let out = Command::new(program).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs wasm-opt on `input`, writing `output`.
pub fn optimise(input: &Path, output: &Path) -> Result<()> {
    let out = Command::new("wasm-opt")
        .args(FLAGS)
        .arg(input)
        .arg("-o")
        .arg(output)
        .output()
        .context("cannot run wasm-opt")?;
    if !out.status.success() {
        bail!(
            "wasm-opt failed on {}: {}",
            input.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
