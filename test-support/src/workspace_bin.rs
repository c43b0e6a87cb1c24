//! Executables of other packages of this workspace (lumos-runner, the
//! WasmEdge shim), built for the running test: cargo defines
//! `CARGO_BIN_EXE_*` only for a package's own binaries, so they are built
//! here, once per test executable, with `cargo build -p PACKAGE --bin BIN`
//! into this build's target directory and profile: a no-op after
//! `cargo test --workspace`, and never a stale binary after
//! `cargo test -p X`. A build that fails fails the test, naming the command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The executable `bin` of workspace package `package`, freshly built.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(bin) {
        return p.clone();
    }
    let p = build(package, bin);
    built.insert(bin.to_string(), p.clone());
    p
}

/// The WasmEdge shim, built beside this build's other executables (where a
/// runner and cargo-lumos of this build find it).
pub fn wasmedge_shim() -> PathBuf {
    workspace_bin("lumos-shim-wasmedge", "lumos-shim-wasmedge")
}

fn build(package: &str, bin: &str) -> PathBuf {
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
    let args = [
        "build",
        "-p",
        package,
        "--bin",
        bin,
        "--profile",
        profile,
        "--message-format=json-render-diagnostics",
    ];
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let shown = format!(
        "cargo {} --target-dir {}",
        args.join(" "),
        target_dir.display()
    );
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .arg("--target-dir")
        .arg(target_dir)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("`{shown}`: {e}"));
    assert!(out.status.success(), "building {bin} failed: `{shown}`");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("`{shown}` named no {bin} executable"))
}
