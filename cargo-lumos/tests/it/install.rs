//! The README's install, as a user does it: the shims as scripts/setup
//! installs them (`cargo install --locked --path shim/<engine>`), then
//! `cargo install --path cargo-lumos`, no feature and no environment
//! variable, into a fresh root; that tool alone then benches fibonacci on
//! every runtime.

use crate::common::*;
use std::path::Path;
use std::process::Command;

/// Every runtime: the six of the paper's matrix and the in-host one.
const ALL: [&str; 7] = [
    "native",
    "wasmtime-aot",
    "wasmtime-pooled",
    "wasmtime-jit",
    "wasmi-interp",
    "wasmedge-interp",
    "wasmedge-aot",
];

/// The installed tool with nothing of the test build around it: its own
/// directory and the system's on PATH (cargo's too, to build functions), no
/// `LUMOS_*` variable naming a shim or a runner.
fn installed(root: &Path) -> Command {
    // cargo runs tests with $CARGO, the toolchain's own cargo.
    let cargo = std::path::PathBuf::from(std::env::var_os("CARGO").expect("run by cargo"));
    let mut path = root.join("bin").display().to_string();
    if let Some(d) = cargo.parent().filter(|d| d.is_absolute()) {
        path.push_str(&format!(":{}", d.display()));
    }
    path.push_str(":/usr/local/bin:/usr/bin:/bin");
    let mut cmd = Command::new(root.join("bin/cargo-lumos"));
    lumos_test_support::unlinted(&mut cmd)
        .arg("lumos")
        .env("PATH", path)
        .env_remove("LUMOS_SHIM_WASMTIME")
        .env_remove("LUMOS_SHIM_WASMI")
        .env_remove("LUMOS_SHIM_WASMEDGE")
        .env_remove("LUMOS_RUNNER");
    cmd
}

#[test]
#[ignore = "release installs compile wasmtime, cranelift and WasmEdge's bindings \
            again (minutes on two cores): scripts/bench runs it"]
fn a_plain_cargo_install_benches_fibonacci_on_every_runtime() {
    require("docker-registry");
    let root = tempfile::tempdir().unwrap();
    let repo = repo_root();
    // The target dir scripts/setup installs the shims from, so a machine
    // that ran the set-up builds nothing twice.
    let target = repo.join("target/shim-install");
    for path in [
        "shim/wasmtime",
        "shim/wasmi",
        "shim/wasmedge",
        "cargo-lumos",
    ] {
        let out = run(lumos_test_support::cargo()
            .current_dir(&repo)
            .args(["install", "--locked", "--quiet", "--path", path, "--root"])
            .arg(root.path())
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR"));
        assert!(out.status.success(), "install {path}: {}", stderr(&out));
    }

    // Each runtime available, each wasm one in its shim beside the tool.
    let out = run(installed(root.path()).args(["bench", "--list-runtimes"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let list = stdout(&out);
    let bin = root.path().join("bin").display().to_string();
    for rt in ALL {
        let line = list
            .lines()
            .find(|l| l.split_whitespace().next() == Some(rt))
            .unwrap_or_else(|| panic!("{rt} not listed: {list}"));
        assert_eq!(line.split_whitespace().nth(1), Some("available"), "{list}");
        if rt != "native" {
            assert!(line.contains(&bin), "{rt} not from {bin}: {list}");
        }
    }

    // fibonacci on all seven, cold from the local cache and warm.
    let json = root.path().join("bench.json");
    let out = run(installed(root.path())
        .arg("bench")
        .arg("--manifest-path")
        .arg(repo.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(lumos_test_support::fixtures::shared_dir(
            "lumos-install-bench",
        ))
        .args(["-p", "fibonacci", "--runtime", &ALL.join(",")])
        .args([
            "--group",
            "1",
            "--mode",
            "cold-cached,warm",
            "--repeat",
            "1",
        ])
        .args(["--warmup", "1", "--requests", "5", "--min-requests", "5"])
        .args(["--min-time", "0.001", "--json"])
        .arg(&json));
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(runs.len(), 14, "7 runtimes x 2 modes: {runs:#?}");
    for r in runs {
        let what = format!("{} {}", r["runtime"], r["mode"]);
        assert_eq!(r["status"], "ok", "{what}: {r}");
        assert_eq!(r["errors"], 0, "{what}: {r}");
        assert!(r["ok"].as_u64().unwrap() >= 1, "{what}: {r}");
    }
    for rt in ALL {
        assert_eq!(
            runs.iter().filter(|r| r["runtime"] == rt).count(),
            2,
            "{rt}: {runs:#?}"
        );
    }
}
