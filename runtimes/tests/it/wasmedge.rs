//! WasmEdge 0.14.1 through wasmedge-sdk (feature `wasmedge`): the
//! interpreter and AoT, and AoT that would silently fall back refused.

use crate::common::*;
use lumos_runtimes::{Runner, Runtime};
use std::path::PathBuf;
use std::process::Command;

/// `fixture.wasm` compiled to a universal wasm by the sysroot's `wasmedge compile`,
/// once per process (both tests ask at once) and written to a temp file first,
/// so no test ever reads a half-written module.
fn aot_fixture() -> PathBuf {
    static DONE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let out = fixtures().wasm.with_file_name("fixture-wasmedge-aot.wasm");
        if out.exists() {
            return out;
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
            .arg(&fixtures().wasm)
            .arg(&tmp)
            .status()
            .expect("run wasmedge compile from the WasmEdge sysroot (scripts/install-wasmedge)");
        assert!(st.success(), "wasmedge compile failed");
        std::fs::rename(&tmp, &out).unwrap();
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

#[test]
fn cold_runs_of_other_wasm_runtimes_say_the_shim_loads_wasmedge() {
    let runner = Runner::new(opts()).unwrap();
    let r = runner
        .run_cold(
            &file_ref(&fixtures().wasm),
            Runtime::WasmiInterp,
            br#"{"op":"noop"}"#,
        )
        .unwrap();
    assert!(
        r.warnings.iter().any(|w| w.contains("libwasmedge")),
        "{:?}",
        r.warnings
    );
    let r = runner
        .run_cold(
            &file_ref(&aot_fixture()),
            Runtime::WasmedgeAot,
            br#"{"op":"noop"}"#,
        )
        .unwrap();
    assert!(
        !r.warnings.iter().any(|w| w.contains("libwasmedge")),
        "{:?}",
        r.warnings
    );
}
