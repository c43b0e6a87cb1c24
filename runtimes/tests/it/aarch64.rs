//! An aarch64 build of the runner, run under qemu-aarch64-static, runs an
//! `aot-wasmtime-aarch64` and an `aot-wasmedge-aarch64` image pulled from a
//! real registry. (Timings under qemu mean nothing; only behaviour is checked.)
//!
//! The aarch64 runner is cross-built (cargo makes it a no-op when nothing
//! changed) into the same target dir under `aarch64-unknown-linux-gnu/`, or
//! taken from `$LUMOS_AARCH64_RUNNER`, with the wasmtime shim (AoT only) and
//! the WasmEdge shim beside it, the latter linked against the arm64 WasmEdge
//! sysroot of scripts/install-wasmedge; qemu runs them with that sysroot as
//! its `-L` prefix (trixie's glibc, libLLVM, libffi…).

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const TRIPLE: &str = "aarch64-unknown-linux-gnu";

fn wasmedge_root() -> PathBuf {
    std::env::var_os("LUMOS_WASMEDGE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/opt/lumos/wasmedge".into())
}

fn target_base() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn aarch64_runner() -> PathBuf {
    if let Some(p) = std::env::var_os("LUMOS_AARCH64_RUNNER") {
        return p.into();
    }
    require("aarch64-linux-gnu-gcc");
    let we = wasmedge_root();
    let lib = we.join("arm64/usr/lib/aarch64-linux-gnu");
    assert!(
        lib.join("libwasmedge.so.0").exists(),
        "no arm64 WasmEdge in {}: run scripts/install-wasmedge",
        lib.display()
    );
    let target = target_base();
    let st = lumos_test_support::cargo()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "-p",
            "lumos-runner",
            "-p",
            "lumos-shim-wasmtime",
            "-p",
            "lumos-shim-wasmedge",
            // AoT only, as on an edge node pulling from a plain-HTTP
            // registry: no cranelift, no wasi:http, no TLS (no OpenSSL to
            // build for aarch64).
            "--no-default-features",
            "--bin",
            "lumos-runner",
            "--bin",
            "lumos-shim-wasmtime",
            "--bin",
            "lumos-shim-wasmedge",
            "--target",
            TRIPLE,
            // Unoptimised dependencies (profile `qemu`): the build is what
            // costs CI minutes; qemu runs a few requests.
            "--profile",
            "qemu",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )
        .env("CC_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-gcc")
        .status()
        .expect("run cargo for the aarch64 runner");
    assert!(st.success(), "cross-building the aarch64 runner failed");
    target.join(TRIPLE).join("qemu/lumos-runner")
}

/// `fixture.wasm` AoT-compiled for aarch64 by the arm64 WasmEdge under qemu, cached by the module's digest.
fn wasmedge_aarch64_module() -> PathBuf {
    use sha2::Digest;
    let wasm = std::fs::read(&fixtures().wasm).unwrap();
    let key = hex::encode(sha2::Sha256::digest(&wasm));
    let out = fixtures()
        .wasm
        .with_file_name(format!("fixture-wasmedge-aarch64-{}.wasm", &key[..16]));
    if !out.exists() {
        let qemu = require("qemu-aarch64-static");
        let root = wasmedge_root().join("arm64");
        let tmp = out.with_extension(format!("partial-{}.wasm", std::process::id()));
        let st = Command::new(qemu)
            .arg("-L")
            .arg(&root)
            .arg(root.join("usr/bin/wasmedge"))
            .arg("compile")
            .arg(&fixtures().wasm)
            .arg(&tmp)
            .status()
            .unwrap();
        assert!(
            st.success(),
            "wasmedge compile for aarch64 under qemu failed"
        );
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

#[test]
fn aarch64_runner_runs_aot_images_under_qemu() {
    use lumos_model::{AotEngine, Arch};
    use lumos_oci::image::{pack_wasm, AotInfo, WasmFormat};
    let qemu = require("qemu-aarch64-static");
    let f = fixtures();
    let tmp = tempfile::tempdir().unwrap();

    // Images: wasmtime's .cwasm cross-compiled for aarch64, WasmEdge's universal wasm for aarch64.
    let cwasm = tmp.path().join("fixture-aarch64.cwasm");
    let st = Command::new(runner_exe())
        .arg("precompile")
        .arg(&f.wasm)
        .arg("-o")
        .arg(&cwasm)
        .args(["--target", TRIPLE])
        .status()
        .unwrap();
    assert!(st.success());
    let we_module = wasmedge_aarch64_module();
    let s = lumos_wasm::wasmedge_section::read(&std::fs::read(&we_module).unwrap())
        .unwrap()
        .expect("an AoT section");
    assert_eq!((s.version, s.os), (1, 1));
    assert_ne!(s.arch, 1, "the aarch64 AoT section must not say x86_64");

    let root = tmp.path().join("oci");
    let layout = lumos_oci::Layout::create(&root).unwrap();
    let meta = crate::common::image_meta("fixture");
    let wt = AotInfo {
        engine: AotEngine::Wasmtime,
        arch: Arch::Aarch64,
        engine_id: Some("wasmtime-48.0.8".into()),
    };
    let a = pack_wasm(
        &layout,
        &meta,
        &std::fs::read(&cwasm).unwrap(),
        WasmFormat::Compat,
        Some(&wt),
    )
    .unwrap();
    let we = AotInfo {
        engine: AotEngine::Wasmedge,
        arch: Arch::Aarch64,
        engine_id: Some("wasmedge-0.14.1".into()),
    };
    let b = pack_wasm(
        &layout,
        &meta,
        &std::fs::read(&we_module).unwrap(),
        WasmFormat::Compat,
        Some(&we),
    )
    .unwrap();
    layout
        .set_refs(&[
            (a.name.clone(), a.descriptor.clone()),
            (b.name.clone(), b.descriptor.clone()),
        ])
        .unwrap();
    let reg = Registry::plain();
    let wt_ref = reg.push(&root, &a.name, "lumos/fixture", "aot-wasmtime-aarch64");
    let we_ref = reg.push(&root, &b.name, "lumos/fixture", "aot-wasmedge-aarch64");

    let runner = aarch64_runner();
    let sysroot = wasmedge_root().join("arm64");
    let prefix = format!("{} -L {}", qemu.display(), sysroot.display());
    for (image, rt) in [(&wt_ref, "wasmtime-aot"), (&we_ref, "wasmedge-aot")] {
        let out = tmp.path().join(format!("{rt}.json"));
        let st = Command::new(&qemu)
            .arg("-L")
            .arg(&sysroot)
            .arg(&runner)
            .args([
                "cold",
                image,
                "-r",
                rt,
                "--body",
                r#"{"op":"sleep","ms":5}"#,
                "--timeout-ms",
                "120000",
            ])
            .arg("--json")
            .arg(&out)
            .env("LUMOS_RUNNER_PREFIX", &prefix)
            .status()
            .unwrap();
        assert!(st.success(), "{rt}: the aarch64 runner failed");
        let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(r["machine"]["arch"], "aarch64", "{rt}: {r}");
        assert_eq!(r["runtime"], rt);
        assert_eq!(r["errors"], 0, "{rt}: {}", r["error_samples"]);
        assert!(r["cache"]["was_empty"].as_bool().unwrap());
        assert!(
            r["phases_ms"]["total"].as_f64().unwrap() >= 5.0,
            "{rt}: the function ran: {r}"
        );
    }
    // The x86_64 runner refuses the aarch64 images rather than run them some other way.
    let host = lumos_runtimes::Runner::new(opts()).unwrap();
    let e = host
        .run_cold(&wt_ref, lumos_runtimes::Runtime::WasmtimeAot, b"{}")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("aarch64") || e.contains("compatible") || e.contains("target"),
        "{e}"
    );
    let e = host
        .run_cold(&we_ref, lumos_runtimes::Runtime::WasmtimeJit, b"{}")
        .err();
    // A universal wasm is still a valid module: JIT runs its portable code, which is allowed and honest.
    assert!(e.is_none(), "{e:?}");
}
