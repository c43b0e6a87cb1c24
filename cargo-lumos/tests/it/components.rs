//! wasi:http components through the whole tool: `cargo lumos build` of a
//! `cdylib` with `protocol = "wasi-http"` (tests/fixtures/wasi-http-hello,
//! its own workspace) into a component and its wasmtime AoT compiles, the
//! variants it cannot have skipped in one line each, then `cargo lumos
//! bench` of it: rows on wasmtime-jit and wasmtime-aot (cold by phase, warm,
//! load), skipped lines and `unavailable` rows for the runtimes without the
//! component model.

use std::path::PathBuf;

use crate::common::*;

/// The fixture's own target dir, kept between runs (its dependency tree is
/// small and not this workspace's).
fn target() -> PathBuf {
    lumos_test_support::fixtures::shared_dir("lumos-component-tests")
}

fn manifest() -> PathBuf {
    repo_root().join("tests/fixtures/wasi-http-hello/Cargo.toml")
}

#[test]
fn a_wasi_http_cdylib_is_built_as_a_component_and_benched_on_wasmtime() {
    require("docker-registry");
    let target = target();

    // Build: the component and both wasmtime AoT compiles; native and
    // WasmEdge variants are skipped, each kind in one line saying why.
    let out = build_in(manifest().parent().unwrap(), &target, &["--all-runtimes"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let skipped: Vec<&str> = err.lines().filter(|l| l.contains("Skipping")).collect();
    assert_eq!(skipped.len(), 2, "{err}");
    assert!(
        skipped.iter().any(|l| l.contains("native-x86_64")
            && l.contains("native-aarch64")
            && l.contains("no native build")),
        "{err}"
    );
    assert!(
        skipped.iter().any(|l| l.contains("aot-wasmedge-x86_64")
            && l.contains("aot-wasmedge-aarch64")
            && l.contains("WasmEdge 0.14 lacks")),
        "{err}"
    );
    let json = build_json(&target);
    let f = &json["functions"][0];
    assert_eq!(f["name"], "wasi-http-hello");
    assert_eq!(f["protocol"], "wasi-http");
    let arts = artifacts(&json, "wasi-http-hello");
    let variants: Vec<&str> = arts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        variants,
        ["aot-wasmtime-aarch64", "aot-wasmtime-x86_64", "wasm"],
        "{json}"
    );
    let head = |p: &PathBuf| std::fs::read(p).unwrap()[..8].to_vec();
    for (variant, path, _, _) in &arts {
        if variant == "wasm" {
            // A component: `\0asm`, version 0x0d, layer 1.
            assert_eq!(head(path), b"\0asm\x0d\0\x01\0", "{}", path.display());
        } else {
            assert_eq!(&head(path)[..4], b"\x7fELF", "{}", path.display());
        }
    }

    // Bench: wasmtime rows measured, the others skipped and said so.
    let out_dir = tempfile::tempdir().unwrap();
    let json_path = out_dir.path().join("b.json");
    let out = bench(
        &manifest(),
        &target,
        &[
            "--runtime",
            "wasmtime-jit,wasmtime-aot,wasmi-interp,wasmedge-interp,native",
            "--mode",
            "cold,warm,load",
            "--repeat",
            "1",
            "--warmup",
            "1",
            "--requests",
            "5",
            // Exactly the requests asked for (no filling of --min-time).
            "--min-requests",
            "5",
            "--min-time",
            "0.001",
            "--concurrency",
            "1,2",
            "--load-requests",
            "20",
            "--json",
            json_path.to_str().unwrap(),
        ],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for rt in ["wasmi-interp", "wasmedge-interp", "native"] {
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with(&format!("bench: skipping wasi-http-hello on {rt}:")))
            .collect();
        assert_eq!(lines.len(), 1, "{rt}: {err}");
    }
    let j = read_json(&json_path);
    let runs = rows(&j);
    assert_eq!(runs.len(), 15, "5 runtimes x 3 modes: {runs:#?}");
    for r in runs {
        let what = format!("{} {}", r["runtime"], r["mode"]);
        let rt = r["runtime"].as_str().unwrap();
        if !rt.starts_with("wasmtime") {
            assert_eq!(r["status"], "unavailable", "{what}: {r}");
            let e = r["error"].as_str().unwrap();
            assert!(
                e.contains("component model") || e.contains("no native build"),
                "{what}: {e}"
            );
            continue;
        }
        assert_eq!(r["status"], "ok", "{what}: {r}");
        assert_eq!(r["errors"], 0, "{what}: {r}");
        match r["mode"].as_str().unwrap() {
            "cold" => {
                for k in ["pull", "start", "ready", "first_response", "total"] {
                    let v = r["cold_start_ms"][k].as_f64().unwrap_or(-1.0);
                    assert!(v > 0.0, "{what} cold_start_ms.{k}: {r}");
                }
            }
            "warm" => {
                assert_eq!(r["latency_ms"]["n"], 5, "{what}");
                for k in ["p50", "p90", "p99"] {
                    assert!(r["latency_ms"][k].as_f64().unwrap() > 0.0, "{what}");
                }
                assert!(r["peak_rss_bytes"].as_u64().unwrap() > 0, "{what}");
            }
            _ => {
                let levels = r["load"].as_array().unwrap();
                assert_eq!(levels.len(), 2, "{what}: {r}");
                for l in levels {
                    assert_eq!(l["errors"], 0, "{what}: {l}");
                    assert!(l["ok"].as_u64().unwrap() > 0, "{what}: {l}");
                }
            }
        }
    }
}
