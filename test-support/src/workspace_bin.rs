//! Executables of other packages of this workspace (lumos-runner and the
//! wasm shims), built for the running test: cargo defines `CARGO_BIN_EXE_*`
//! only for a package's own binaries, so they are built here, once per test
//! executable, into this build's target directory and profile: a no-op after
//! `cargo test --workspace`, and never a stale binary after `cargo test -p X`.
//! A build that fails fails the test, naming the command.
//!
//! They are built with the feature set of `cargo test --workspace` itself
//! (`cargo build --workspace --tests --bin ...`: every member selected,
//! dev-dependencies on), so the dependencies that build already compiled are
//! reused, where a build of these packages alone would resolve features
//! differently and compile wasmtime and cranelift a second
//! time (minutes in CI). Unification gives the WasmEdge shim's lumos-wasm
//! the `wasmtime` feature too; it still links no wasmtime code (it reaches
//! nothing of it: runtimes test `shims::` checks the binary).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The executables a runner starts, with their packages: itself and each
/// engine family's shim.
pub const NODE_BINS: [(&str, &str); 4] = [
    ("lumos-runner", "lumos-runner"),
    ("lumos-shim-wasmtime", "lumos-shim-wasmtime"),
    ("lumos-shim-wasmi", "lumos-shim-wasmi"),
    ("lumos-shim-wasmedge", "lumos-shim-wasmedge"),
];

/// Every executable of [`NODE_BINS`], freshly built side by side (where
/// lumos-runner and cargo-lumos of this build find the shims), by name.
pub fn node_bins() -> BTreeMap<String, PathBuf> {
    static BUILT: Mutex<Option<BTreeMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    built.get_or_insert_with(|| build(&NODE_BINS)).clone()
}

/// The executable `bin` of [`NODE_BINS`].
pub fn workspace_bin(bin: &str) -> PathBuf {
    node_bins()
        .remove(bin)
        .unwrap_or_else(|| panic!("{bin} is not one of the node's executables"))
}

/// The WasmEdge shim of this build.
pub fn wasmedge_shim() -> PathBuf {
    workspace_bin("lumos-shim-wasmedge")
}

fn build(bins: &[(&str, &str)]) -> BTreeMap<String, PathBuf> {
    let me = std::env::current_exe().expect("this test's executable");
    // <target dir>/<profile dir>/deps/<test>-<hash>
    let profile_dir = me
        .parent()
        .and_then(Path::parent)
        .expect("a test executable in <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("a target directory");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("{}: no profile directory", profile_dir.display()),
    };
    // Every test target is already built (fresh) after `cargo test
    // --workspace`; asking for them keeps dev-dependencies' features in.
    let mut args: Vec<String> = ["build", "--workspace", "--tests"]
        .map(String::from)
        .to_vec();
    for (_, bin) in bins {
        args.extend(["--bin".into(), bin.to_string()]);
    }
    args.extend([
        "--profile".into(),
        profile.into(),
        "--message-format=json-render-diagnostics".into(),
    ]);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let shown = format!(
        "cargo {} --target-dir {}",
        args.join(" "),
        target_dir.display()
    );
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .arg("--target-dir")
        .arg(target_dir)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("`{shown}`: {e}"));
    assert!(out.status.success(), "building failed: `{shown}`");
    let found: BTreeMap<String, PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        // Not the unit-test harness of the same bin target (`--tests`).
        .filter(|m| m["profile"]["test"] == false)
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_string();
            let exe = m["executable"].as_str()?;
            bins.iter()
                .any(|(_, b)| *b == name)
                .then(|| (name, PathBuf::from(exe)))
        })
        .collect();
    for (_, bin) in bins {
        assert!(
            found.contains_key(*bin),
            "`{shown}` named no {bin} executable"
        );
    }
    found
}
