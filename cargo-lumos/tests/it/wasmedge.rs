//! With the `wasmedge` feature, cargo-lumos itself is the bench's runner and
//! wasm shim with libwasmedge linked in: it must start (build.rs gives it the
//! private sysroot's loader and library path) and run both WasmEdge runtimes.
//! scripts/test runs this with `--features lumos-runtimes/wasmedge,cargo-lumos/wasmedge`.

use crate::common::*;

#[test]
fn bench_runs_fibonacci_on_wasmedge_aot_and_interpreter() {
    require("docker-registry");
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("b.json");
    let out = bench(
        &repo_root().join("Cargo.toml"),
        &shared_target(),
        &[
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
        ],
    );
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
