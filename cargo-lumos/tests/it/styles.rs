//! The function styles of issue 9 (tests/fixtures/styles), built and benched
//! with `cargo lumos` as a user would. Every test builds into one shared
//! target dir (`<target>/lumos-styles-fixtures`, as runtimes' tests do), so
//! tokio and hyper compile once per run; tests take turns on its build.json.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::common::*;
use lumos_test_support::fixtures::{styles_target, styles_workspace};

/// The styles fixtures share one target dir and its build.json: tests take turns.
pub(crate) static STYLES_TARGET: Mutex<()> = Mutex::new(());

fn styles_manifest() -> PathBuf {
    styles_workspace().join("Cargo.toml")
}

/// `port = 3030` in the metadata: the server ignores `$PORT` and listens on
/// 3030; the bench waits on and talks to that port, cold and warm, and the
/// image says so (`dev.lumos.port`, `ExposedPorts`).
#[test]
fn a_server_on_a_fixed_port_is_benched_on_that_port() {
    require("docker-registry");
    let _turn = STYLES_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let target = styles_target();
    let json = tempfile::tempdir().unwrap();
    let json = json.path().join("b.json");
    let out = bench(
        &styles_manifest(),
        &target,
        &[
            "--locked",
            "-p",
            "http-fixed-port",
            "--runtime",
            "native",
            "--mode",
            "cold,warm",
            "--group",
            "1,2",
            "--repeat",
            "1",
            "--warmup",
            "1",
            "--requests",
            "5",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(runs.len(), 4, "{runs:#?}");
    for r in runs {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        let p50 = r["latency_ms"]["p50"].as_f64().unwrap();
        if r["group"] == 2 {
            // The handler sleeps 20 ms: it is measured, not the transport.
            assert!(p50 >= 20.0, "{r}");
        }
    }
    let layout = lumos_oci::Layout::open(target.join("lumos/oci")).unwrap();
    let desc = layout
        .resolve("lumos/http-fixed-port:native-x86_64")
        .unwrap();
    let m: lumos_oci::Manifest =
        serde_json::from_slice(&layout.read_blob(&desc.digest).unwrap()).unwrap();
    assert_eq!(m.annotations.unwrap()["dev.lumos.port"], "3030");
    let config: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&m.config.digest).unwrap()).unwrap();
    assert_eq!(
        config["config"]["ExposedPorts"],
        serde_json::json!({"3030/tcp": {}})
    );
}

/// A package named like its dependency (`itoa` depending on crates.io
/// `itoa`): `cargo build -p itoa` is ambiguous, so Lumos passes the package id.
#[test]
fn a_package_named_like_its_dependency_builds() {
    let _turn = STYLES_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let target = styles_target();
    let ws = styles_manifest();
    let out = build_in(
        ws.parent().unwrap(),
        &target,
        &["--locked", "-p", "itoa", "--runtime", "native,wasm"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json = build_json(&target);
    let variants: Vec<String> = artifacts(&json, "itoa").into_iter().map(|a| a.0).collect();
    assert!(
        variants.iter().any(|v| v == "wasm") && variants.iter().any(|v| v.starts_with("native-")),
        "{variants:?}"
    );
}

/// `tokio-net` leaves `runtimes` at the default (all) but tokio's `net` does
/// not build for wasm: its native variant is still built, listed in
/// build.json and packed; the wasm and AoT variants fail in one line that
/// says to set `runtimes = ["native"]`; the exit status is non-zero.
#[test]
fn a_failed_wasm_build_keeps_the_native_variant_and_says_how_to_stay_native() {
    let _turn = STYLES_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let target = styles_target();
    let ws = styles_manifest();
    let out = build_in(
        ws.parent().unwrap(),
        &target,
        &[
            "--locked",
            "-p",
            "tokio-net",
            "--runtime",
            "native,wasm,aot",
            "--arch",
            "x86_64",
            "--aot-engine",
            "wasmtime",
            "--image",
        ],
    );
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error: function package `tokio-net` failed for wasm"))
        .unwrap_or_else(|| panic!("no failure line for tokio-net's wasm build:\n{err}"));
    assert!(
        line.contains("aot-wasmtime-x86_64")
            && line.contains(r#"set `runtimes = ["native"]` in [package.metadata.lumos] of "#)
            && line.contains("tokio-net/Cargo.toml"),
        "{line}"
    );
    let json = build_json(&target);
    let variants: Vec<String> = artifacts(&json, "tokio-net")
        .into_iter()
        .map(|a| a.0)
        .collect();
    assert_eq!(variants, ["native-x86_64"], "{json}");
    let layout = lumos_oci::Layout::open(target.join("lumos/oci")).unwrap();
    layout
        .resolve("lumos/tokio-net:native-x86_64")
        .expect("the native image is packed");
    assert!(layout.resolve("lumos/tokio-net:wasm").is_err());
}

/// `name = "twin"` in twin-native (`runtimes = ["native"]`) and twin-wasm
/// (`["wasm", "aot"]`): one function `twin`, one image name with both
/// variants, one set of rows, and the wasm row's "x native" filled.
#[test]
fn twin_crates_are_one_function_with_a_ratio_to_native() {
    require("docker-registry");
    let _turn = STYLES_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let target = styles_target();
    let json = tempfile::tempdir().unwrap();
    let json = json.path().join("b.json");
    let out = bench(
        &styles_manifest(),
        &target,
        &[
            "--locked",
            "-p",
            "twin-native",
            "-p",
            "twin-wasm",
            "--runtime",
            "native,wasmtime-jit",
            "--mode",
            "warm",
            "--group",
            "1",
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
    let built = build_json(&target);
    let mut variants: Vec<String> = artifacts(&built, "twin").into_iter().map(|a| a.0).collect();
    variants.sort();
    assert_eq!(variants, ["native-x86_64", "wasm"], "{built}");
    let layout = lumos_oci::Layout::open(target.join("lumos/oci")).unwrap();
    for tag in ["native-x86_64", "wasm"] {
        layout
            .resolve(&format!("lumos/twin:{tag}"))
            .unwrap_or_else(|e| panic!("lumos/twin:{tag}: {e}"));
    }
    let output: lumos_model::BenchOutput = serde_json::from_value(read_json(&json)).unwrap();
    assert_eq!(output.runs.len(), 2, "{:#?}", output.runs);
    for r in &output.runs {
        assert_eq!(r.function, "twin");
        assert_eq!(r.status, lumos_model::Status::Ok, "{r:?}");
    }
    let wasm = output
        .runs
        .iter()
        .find(|r| r.runtime != lumos_model::Runtime::Native)
        .unwrap();
    let ratio = lumos_report::compare::x_native(&output.runs, wasm);
    assert!(
        ratio.is_some_and(|x| x > 0.0),
        "x native of {wasm:?}: {ratio:?}"
    );
}

/// A benchmark-suite program taking its input as command-line arguments
/// (`cli-args`, payload groups with `args`), built by `cargo lumos build`
/// and run on a wasm runtime (wasmtime-aot) end to end: benched cold and
/// warm with every request OK, the answers right for the arguments given,
/// and a panic's message (not only `wasm trap: unreachable`) in the error
/// sample.
#[test]
fn a_cli_argument_program_runs_on_wasm_with_its_arguments() {
    require("docker-registry");
    let _turn = STYLES_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let target = styles_target();
    let ws = styles_manifest();
    let out = build_in(
        ws.parent().unwrap(),
        &target,
        &[
            "--locked",
            "-p",
            "cli-args",
            "--runtime",
            "wasm,aot",
            "--aot-engine",
            "wasmtime",
            "--arch",
            "x86_64",
            "--image",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut variants: Vec<String> = artifacts(&build_json(&target), "cli-args")
        .into_iter()
        .map(|a| a.0)
        .collect();
    variants.sort();
    assert_eq!(variants, ["aot-wasmtime-x86_64", "wasm"]);

    let json = tempfile::tempdir().unwrap();
    let json = json.path().join("b.json");
    let out = bench(
        &ws,
        &target,
        &[
            "--locked",
            "--no-build",
            "-p",
            "cli-args",
            "--runtime",
            "wasmtime-aot",
            "--mode",
            "cold,warm",
            "--group",
            "1,3",
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
    let runs = rows(&j);
    assert_eq!(runs.len(), 4, "{runs:#?}");
    for r in runs {
        assert_eq!(r["runtime"], "wasmtime-aot", "{r}");
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert_eq!(r["protocol"], "stdio", "{r}");
    }

    // The answers, through the runner, from the image the build packed.
    let runner = lumos_runtimes::Runner::new(lumos_runtimes::RunOpts {
        runner_exe: Some(lumos_test_support::workspace_bin("lumos-runner")),
        warmup: 1,
        requests: 2,
        ..Default::default()
    })
    .unwrap();
    let image = format!(
        "oci:{}:lumos/cli-args:aot-wasmtime-x86_64",
        target.join("lumos/oci").display()
    );
    let owned = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
    let sha = |b: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b))
    };
    for (args, answer) in [
        (owned(&["30"]), "832040\n"),
        (owned(&["186"]), "332825110087067562321196029789634457848\n"),
    ] {
        let j = lumos_runtimes::Job {
            image: &image,
            runtime: lumos_runtimes::Runtime::WasmtimeAot,
            payload: b"",
            args: &args,
            protocol: None,
            cache: None,
            group: None,
            node: None,
        };
        let cold = runner.cold(&j).unwrap();
        let warm = runner.warm(&j).unwrap().result;
        for r in [cold, warm] {
            assert_eq!(r.errors, 0, "{args:?}: {:?}", r.error_samples);
            assert_eq!(
                r.response_sha256.as_deref(),
                Some(sha(answer.as_bytes()).as_str()),
                "{args:?} {}",
                r.mode
            );
        }
    }
    let args = owned(&["x"]);
    let r = runner
        .cold(&lumos_runtimes::Job {
            image: &image,
            runtime: lumos_runtimes::Runtime::WasmtimeAot,
            payload: b"",
            args: &args,
            protocol: None,
            cache: None,
            group: None,
            node: None,
        })
        .unwrap();
    assert_eq!(r.errors, 1, "{r:?}");
    assert!(
        r.error_samples.iter().any(|s| s
            .contains(r#"cli-args: N must be a whole number, got \"x\""#)
            || s.contains(r#"cli-args: N must be a whole number, got "x""#)),
        "{:?}",
        r.error_samples
    );
}
