//! lumos-runtimes' own test helpers: the runner of this build, the fixture
//! functions (built once per run by lumos-test-support) and their images.
//! The registry, tool lookup, hostile images and faulty servers come from
//! lumos-test-support.

pub use lumos_test_support::{require, Registry};

use lumos_runtimes::{Limits, RunOpts};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `lumos-runner` executable these tests start (it hosts the guard, and
/// some tests run its command line): `$LUMOS_TEST_RUNNER`, else the one of
/// this build, with the wasm shims of this build beside it
/// (lumos-test-support's `node_bins`).
pub fn runner_exe() -> PathBuf {
    static R: OnceLock<PathBuf> = OnceLock::new();
    R.get_or_init(|| {
        if let Some(p) = std::env::var_os("LUMOS_TEST_RUNNER") {
            return p.into();
        }
        lumos_test_support::workspace_bin("lumos-runner")
    })
    .clone()
}

pub struct Fixtures {
    pub native: PathBuf,
    pub native_stdio: PathBuf,
    pub native_http: PathBuf,
    /// Listens somewhere other than `$PORT` and says so on stdout.
    pub native_http_elsewhere: PathBuf,
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
            native_http_elsewhere: musl.join("fixture-http-elsewhere"),
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
            cpus: None,
            request_timeout: Duration::from_secs(10),
            start_timeout: Duration::from_secs(20),
        },
        warmup: 2,
        requests: 20,
        ..Default::default()
    }
}

/// The median of figures (lumos-stats' order statistics); NaN for none.
pub fn median(v: &[f64]) -> f64 {
    lumos_stats::median(&lumos_stats::sorted(v)).unwrap_or(f64::NAN)
}

pub fn file_ref(p: &Path) -> String {
    format!("file:{}", p.display())
}

/// The image metadata these tests pack with: namespace `t`, `function`,
/// created at 0, nothing else.
pub fn image_meta(function: &str) -> lumos_oci::image::ImageMeta {
    lumos_oci::image::ImageMeta {
        namespace: "t".into(),
        function: function.into(),
        created: 0,
        source: None,
        revision: None,
        protocol: None,
        port: None,
        args: vec![],
    }
}

/// Packs the fixtures into an OCI layout with lumos-oci: `t/fixture:native-x86_64`,
/// `t/fixture:wasm`, `t/fixture:aot-wasmtime-x86_64`.
pub fn layout(dir: &Path) -> PathBuf {
    use lumos_model::{AotEngine, Arch};
    use lumos_oci::image::{pack_native, pack_wasm, AotInfo, WasmFormat};
    let f = fixtures();
    let root = dir.join("oci");
    let layout = lumos_oci::Layout::create(&root).unwrap();
    let meta = crate::common::image_meta("fixture");
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
