//! cargo-lumos links no WasmEdge: a bench of the WasmEdge runtimes starts the
//! WasmEdge shim (`lumos-shim-wasmedge`, built beside cargo-lumos here; on
//! PATH after scripts/setup) for each instance, and runs both runtimes.

use crate::common::*;

#[test]
fn bench_runs_fibonacci_on_wasmedge_aot_and_interpreter() {
    require("docker-registry");
    lumos_test_support::wasmedge_shim();
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("b.json");
    let out = bench_builtins(&[
        "-p",
        "fibonacci",
        "--runtime",
        "wasmedge-aot,wasmedge-interp",
        "--group",
        "1",
        "--mode",
        "warm",
        "--repeat",
        "1",
        "--warmup",
        "1",
        "--requests",
        "3",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    assert_eq!(j["versions"]["wasmedge"], "0.14.1", "{}", j["versions"]);
    let runs = rows(&j);
    let runtimes: Vec<&str> = runs.iter().filter_map(|r| r["runtime"].as_str()).collect();
    assert_eq!(runtimes, ["wasmedge-aot", "wasmedge-interp"], "{runs:#?}");
    for r in runs {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert!(r["latency_ms"]["p50"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["phases_ms"]["compute"].as_f64().unwrap() > 0.0, "{r}");
    }
}

/// `--list-runtimes` says where each runtime runs (each engine family's own
/// shim); without the shims beside the tool or on PATH, every wasm runtime
/// is unavailable with the command that makes it available, and native
/// still is.
#[test]
fn list_runtimes_names_each_runtimes_executable_or_its_fix() {
    let bins = lumos_test_support::node_bins();
    let shim = &bins["lumos-shim-wasmedge"];
    let out = run(cargo_lumos().args(["bench", "--list-runtimes"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = stdout(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    for l in &lines {
        assert!(l.split_whitespace().nth(1) == Some("available"), "{out}");
    }
    let we: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("wasmedge-"))
        .collect();
    assert_eq!(we.len(), 2, "{out}");
    assert!(
        we.iter().all(|l| l.ends_with(&shim.display().to_string())),
        "{out}"
    );
    for (prefix, bin) in [
        ("wasmtime-", "lumos-shim-wasmtime"),
        ("wasmi-", "lumos-shim-wasmi"),
    ] {
        let exe = bins[bin].display().to_string();
        assert!(
            lines
                .iter()
                .filter(|l| l.starts_with(prefix))
                .all(|l| l.ends_with(&exe)),
            "{prefix}: {out}"
        );
    }

    // The same tool alone in a directory, with a PATH that has no shim.
    let alone = tempfile::tempdir().unwrap();
    let exe = alone.path().join("cargo-lumos");
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_cargo-lumos"));
    if std::fs::hard_link(built, &exe).is_err() {
        std::fs::copy(built, &exe).unwrap();
    }
    let out = std::process::Command::new(&exe)
        .args(["lumos", "bench", "--list-runtimes"])
        .env("PATH", "/usr/bin:/bin")
        .env_remove("LUMOS_SHIM_WASMEDGE")
        .env_remove("LUMOS_SHIM_WASMTIME")
        .env_remove("LUMOS_SHIM_WASMI")
        .env_remove("LUMOS_RUNNER")
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.lines().count(), 7, "{out}");
    for l in out.lines() {
        let wasm = !l.starts_with("native");
        let state = l.split_whitespace().nth(1).unwrap_or("");
        assert_eq!(state == "unavailable", wasm, "{out}");
        if wasm {
            let family = l.split('-').next().unwrap_or("");
            assert!(
                l.contains(&format!("lumos-shim-{family}"))
                    && l.contains("scripts/setup")
                    && l.contains(&format!("--path shim/{family}")),
                "{l}"
            );
        }
    }
}
