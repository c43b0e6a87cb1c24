//! WasmEdge 0.14.1 in its own shim (lumos-shim-wasmedge): the interpreter
//! and AoT, and AoT that would silently fall back refused.

use crate::common::*;
use lumos_runtimes::{Protocol, Runner, Runtime};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `wasm` compiled to a universal wasm by the sysroot's `wasmedge compile`
/// into `out`, written to a temp file first and renamed, so no test ever
/// reads a half-written module.
pub fn wasmedge_compile(wasm: &Path, out: &Path) {
    if out.exists() {
        return;
    }
    let root =
        std::env::var("LUMOS_WASMEDGE_ROOT").unwrap_or_else(|_| "/opt/lumos/wasmedge".into());
    let lib = format!("{root}/amd64/usr/lib/x86_64-linux-gnu");
    let tmp = out.with_extension(format!("partial-{}.wasm", std::process::id()));
    let st = Command::new(format!("{lib}/ld-linux-x86-64.so.2"))
        .args([
            "--library-path",
            &lib,
            &format!("{root}/amd64/usr/bin/wasmedge"),
            "compile",
        ])
        .arg(wasm)
        .arg(&tmp)
        .status()
        .expect("run wasmedge compile from the WasmEdge sysroot (scripts/install-wasmedge)");
    assert!(st.success(), "wasmedge compile {} failed", wasm.display());
    std::fs::rename(&tmp, out).unwrap();
}

/// `fixture.wasm` as a universal wasm, compiled once per process (tests ask at once).
pub fn aot_fixture() -> PathBuf {
    static DONE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let out = fixtures().wasm.with_file_name("fixture-wasmedge-aot.wasm");
        wasmedge_compile(&fixtures().wasm, &out);
        out
    })
    .clone()
}

#[test]
fn wasmedge_interp_and_aot_serve_with_a_right_clock() {
    let runner = Runner::new(opts()).unwrap();
    let aot = aot_fixture();
    for (img, rt) in [
        (fixtures().wasm.clone(), Runtime::WasmedgeInterp),
        (aot, Runtime::WasmedgeAot),
    ] {
        let r = runner
            .run_warm(&file_ref(&img), rt, br#"{"op":"sleep","ms":20}"#)
            .unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        let l = r.latency_ms.unwrap();
        assert!(l.min >= 20.0 && l.p50 < 28.0, "{rt}: {l:?}");
        assert!(r.versions.wasmedge.is_some());
        let r = runner
            .run_cold(&file_ref(&img), rt, br#"{"op":"get","key":"nothing"}"#)
            .unwrap();
        assert_eq!(
            r.errors_by_kind.get("handler"),
            Some(&1),
            "{rt}: storage calls reach the host"
        );
    }
}

#[test]
fn wasmedge_aot_refuses_what_would_fall_back_to_the_interpreter() {
    let runner = Runner::new(opts()).unwrap();
    // No AoT section at all.
    let e = runner
        .run_cold(&file_ref(&fixtures().wasm), Runtime::WasmedgeAot, b"{}")
        .unwrap_err();
    assert!(
        format!("{e}").contains("AoT section") || format!("{e}").contains("never became ready"),
        "{e}"
    );
    // AoT code for another CPU (the arch byte of the section changed to aarch64).
    let mut bytes = std::fs::read(aot_fixture()).unwrap();
    let s = lumos_wasm::wasmedge_section::read(&bytes).unwrap().unwrap();
    assert_eq!(
        (s.version, s.os, s.arch),
        (1, 1, 1),
        "x86_64 linux AoT section"
    );
    let pos = bytes
        .windows(11)
        .position(|w| w == b"\x08wasmedge\x01\x01")
        .unwrap()
        + 11;
    bytes[pos] = 2;
    let other = tempfile::tempdir().unwrap();
    let p = other.path().join("foreign.wasm");
    std::fs::write(&p, &bytes).unwrap();
    let r = runner.run_cold(&file_ref(&p), Runtime::WasmedgeAot, b"{}");
    let msg = match r {
        Err(e) => e.to_string(),
        Ok(r) => format!("{:?}", r.error_samples),
    };
    assert!(msg.contains("fall back"), "{msg}");
    // A section this WasmEdge does not accept (binary version 2): the static
    // check passes it, WasmEdge's own log says it falls back, and the run refuses.
    let mut bytes = std::fs::read(aot_fixture()).unwrap();
    let pos = bytes
        .windows(10)
        .position(|w| w == b"\x08wasmedge\x01")
        .unwrap()
        + 9;
    bytes[pos] = 2;
    let p = other.path().join("version2.wasm");
    std::fs::write(&p, &bytes).unwrap();
    let e = runner
        .run_cold(&file_ref(&p), Runtime::WasmedgeAot, b"{}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("would fall back to its interpreter"), "{e}");
}

/// The paper's style of wasm HTTP function (tests/fixtures/styles/http-wasmedge:
/// tokio_wasi + hyper_wasi on WasmEdge's socket extension, listening on $PORT)
/// served on both WasmEdge runtimes: right answers, a known 20 ms delay
/// measured as 20 ms, and a 0-work handler far below the 40 ms a delayed ACK
/// would add (hyper_wasi writes a response in small segments).
#[test]
fn wasmedge_serves_a_socket_http_function() {
    let wasm = lumos_test_support::fixtures::styles_package("http-wasmedge", "wasm32-wasip1");
    let aot = wasm.with_file_name("http-wasmedge-aot.wasm");
    wasmedge_compile(&wasm, &aot);
    let mut o = opts();
    o.protocol = Some(Protocol::Http);
    let runner = Runner::new(o).unwrap();
    for (img, rt) in [
        (&wasm, Runtime::WasmedgeInterp),
        (&aot, Runtime::WasmedgeAot),
    ] {
        let r = runner
            .run_warm(&file_ref(img), rt, br#"{"sleep_ms": 20}"#)
            .unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        assert_eq!(
            r.response_sha256.as_deref(),
            Some(sha256_hex(br#"{"slept_ms":20}"#).as_str()),
            "{rt}"
        );
        let l = r.latency_ms.unwrap();
        // tokio_wasi's timer fires on the next 1 ms tick after the deadline, and the
        // interpreter adds ~0.6 ms a request: 20-30 ms; a delayed ACK would add 40.
        assert!(
            l.min >= 20.0 && l.p50 < 30.0,
            "{rt}: a 20 ms handler measured {l:?}"
        );
        let r = runner.run_warm(&file_ref(img), rt, b"{}").unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        assert_eq!(
            r.response_sha256.as_deref(),
            Some(sha256_hex(br#"{"bytes":2}"#).as_str()),
            "{rt}"
        );
        let l = r.latency_ms.unwrap();
        // A correctness bound far below the 40 ms delayed-ACK timer, not a speed target.
        assert!(l.p50 < 10.0, "{rt}: a 0-work handler measured {l:?}");
    }
    // Engines without sockets refuse it in one line naming those that can serve it.
    let e = runner
        .run_cold(&file_ref(&wasm), Runtime::WasmtimeJit, b"{}")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("wasmedge-interp or wasmedge-aot") && !e.contains('\n'),
        "{e}"
    );
}

/// The SDK's own HTTP mode on wasm32-wasip1 (`PORT` set, WasmEdge's socket
/// extension): a built-in-style SDK function (lumos-sdk's `echo` example)
/// served over HTTP on both WasmEdge runtimes, cold and warm, with a
/// handler's panic message and the missing storage each said in the error
/// sample; the same module still speaks frames on wasmtime and wasmi (its
/// WasmEdge socket imports stubbed there), which refuse to serve it over HTTP
/// in one line naming the runtimes that can.
#[test]
fn the_sdk_serves_http_on_wasmedge_sockets() {
    let wasm = lumos_test_support::fixtures::sdk_example("echo", "wasm32-wasip1");
    let aot = wasm.with_file_name("echo-wasmedge-aot.wasm");
    wasmedge_compile(&wasm, &aot);
    let mut o = opts();
    o.protocol = Some(Protocol::Http);
    let http = Runner::new(o).unwrap();
    let echo = br#"{"op":"echo","n":42}"#;
    for (img, rt) in [
        (&wasm, Runtime::WasmedgeInterp),
        (&aot, Runtime::WasmedgeAot),
    ] {
        for r in [
            http.run_cold(&file_ref(img), rt, echo).unwrap(),
            http.run_warm(&file_ref(img), rt, echo).unwrap(),
        ] {
            assert_eq!(r.errors, 0, "{rt} {}: {:?}", r.mode, r.error_samples);
            assert_eq!(
                r.response_sha256.as_deref(),
                Some(sha256_hex(echo).as_str()),
                "{rt} {}",
                r.mode
            );
            assert!(r.phases_ms.is_some(), "{rt}: x-lumos-meta read");
        }
        let r = http
            .run_cold(&file_ref(img), rt, br#"{"op":"panic"}"#)
            .unwrap();
        assert_eq!(r.errors, 1, "{rt}");
        assert!(
            r.error_samples
                .iter()
                .any(|s| s.contains("handler panicked: asked to panic")),
            "{rt}: {:?}",
            r.error_samples
        );
        let r = http
            .run_cold(&file_ref(img), rt, br#"{"op":"get","key":"k"}"#)
            .unwrap();
        assert!(
            r.error_samples
                .iter()
                .any(|s| s.contains("no storage in the SDK's HTTP mode on wasm32-wasip1")),
            "{rt}: {:?}",
            r.error_samples
        );
    }
    // wasmtime and wasmi: frames work (the socket imports are stubbed) …
    let frames = Runner::new(opts()).unwrap();
    for rt in [Runtime::WasmtimeJit, Runtime::WasmiInterp] {
        let r = frames.run_warm(&file_ref(&wasm), rt, echo).unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        assert_eq!(
            r.response_sha256.as_deref(),
            Some(sha256_hex(echo).as_str()),
            "{rt}"
        );
        // … and HTTP is refused in one line naming the runtimes that serve it.
        let e = http
            .run_cold(&file_ref(&wasm), rt, echo)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("wasmedge-interp or wasmedge-aot") && !e.contains('\n'),
            "{rt}: {e}"
        );
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}
