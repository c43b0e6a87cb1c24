//! lumos-runtimes' own test helpers: the runner of this build, the fixture
//! functions (built once per run by lumos-test-support) and their images.
//! The registry, tool lookup, hostile images and faulty servers come from
//! lumos-test-support.

pub use lumos_test_support::{require, Registry};

use lumos_runtimes::{Limits, RunOpts};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `lumos-runner` executable these tests start (it hosts the wasm shims
/// and the guard, and some tests run its command line): `$LUMOS_TEST_RUNNER`,
/// else the one of this build. It is another package's binary (cargo defines
/// `CARGO_BIN_EXE_*` only for a package's own), so it is built here, once per
/// test executable, with `cargo build -p lumos-runner` into this build's
/// target directory and profile, with `--features wasmedge` when these tests
/// have it: a no-op after `cargo test --workspace`, and never a stale runner
/// after `cargo test -p lumos-runtimes`. A build that fails fails the test,
/// saying which command.
pub fn runner_exe() -> PathBuf {
    static R: OnceLock<PathBuf> = OnceLock::new();
    R.get_or_init(build_runner).clone()
}

fn build_runner() -> PathBuf {
    if let Some(p) = std::env::var_os("LUMOS_TEST_RUNNER") {
        return p.into();
    }
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
    let mut args = vec![
        "build",
        "-p",
        "lumos-runner",
        "--bin",
        "lumos-runner",
        "--profile",
        profile,
        "--message-format=json-render-diagnostics",
    ];
    if cfg!(feature = "wasmedge") {
        args.extend(["--features", "wasmedge"]);
    }
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
    assert!(
        out.status.success(),
        "building the runner failed: `{shown}`"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "lumos-runner")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("`{shown}` named no lumos-runner executable"))
}

pub struct Fixtures {
    pub native: PathBuf,
    pub native_stdio: PathBuf,
    pub native_http: PathBuf,
    pub wasm: PathBuf,
    pub wasm_stdio: PathBuf,
    /// `fixture.wasm` precompiled for this CPU by `lumos-runner precompile`.
    pub cwasm: PathBuf,
}

/// Builds the fixture crate for x86_64-unknown-linux-musl and wasm32-wasip1
/// (cargo makes it a no-op when nothing changed) and precompiles the module.
pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let target =
            lumos_test_support::fixtures::build_musl_and_wasm(&dir, "lumos-runtimes-fixtures");
        let musl = target.join("x86_64-unknown-linux-musl/release");
        let wasm = target.join("wasm32-wasip1/release");
        let cwasm = target.join("fixture.cwasm");
        let st = Command::new(runner_exe())
            .args(["precompile"])
            .arg(wasm.join("fixture.wasm"))
            .arg("-o")
            .arg(&cwasm)
            .status()
            .unwrap();
        assert!(st.success(), "precompiling the fixture failed");
        Fixtures {
            native: musl.join("fixture"),
            native_stdio: musl.join("fixture-stdio"),
            native_http: musl.join("fixture-http"),
            wasm: wasm.join("fixture.wasm"),
            wasm_stdio: wasm.join("fixture-stdio.wasm"),
            cwasm,
        }
    })
}

pub fn opts() -> RunOpts {
    RunOpts {
        runner_exe: Some(runner_exe()),
        limits: Limits {
            memory_bytes: Some(256 << 20),
            request_timeout: Duration::from_secs(10),
            start_timeout: Duration::from_secs(20),
        },
        warmup: 2,
        requests: 20,
        ..Default::default()
    }
}

pub fn file_ref(p: &Path) -> String {
    format!("file:{}", p.display())
}

/// Packs the fixtures into an OCI layout with lumos-oci: `t/fixture:native-x86_64`,
/// `t/fixture:wasm`, `t/fixture:aot-wasmtime-x86_64`.
pub fn layout(dir: &Path) -> PathBuf {
    use lumos_model::{AotEngine, Arch};
    use lumos_oci::image::{pack_native, pack_wasm, AotInfo, ImageMeta, WasmFormat};
    let f = fixtures();
    let root = dir.join("oci");
    let layout = lumos_oci::Layout::create(&root).unwrap();
    let meta = ImageMeta {
        namespace: "t".into(),
        function: "fixture".into(),
        created: 0,
        source: None,
        revision: None,
        protocol: None,
    };
    let n = pack_native(
        &layout,
        &meta,
        &std::fs::read(&f.native).unwrap(),
        Arch::X86_64,
        None,
    )
    .unwrap();
    let w = pack_wasm(
        &layout,
        &meta,
        &std::fs::read(&f.wasm).unwrap(),
        WasmFormat::Compat,
        None,
    )
    .unwrap();
    let aot = AotInfo {
        engine: AotEngine::Wasmtime,
        arch: Arch::X86_64,
        engine_id: Some("wasmtime-48.0.8".into()),
    };
    let a = pack_wasm(
        &layout,
        &meta,
        &std::fs::read(&f.cwasm).unwrap(),
        WasmFormat::Compat,
        Some(&aot),
    )
    .unwrap();
    let refs: Vec<(String, lumos_oci::Descriptor)> = [n, w, a]
        .into_iter()
        .map(|p| (p.name.clone(), p.descriptor.clone()))
        .collect();
    layout.set_refs(&refs).unwrap();
    root
}

/// Waits until `f` holds or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// The wasm fixture module, as bytes.
pub fn wasm_fixture() -> Vec<u8> {
    std::fs::read(&fixtures().wasm).unwrap()
}

/// The native fixture, as bytes.
pub fn native_fixture() -> Vec<u8> {
    std::fs::read(&fixtures().native).unwrap()
}
