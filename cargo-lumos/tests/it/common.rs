//! Helpers of the end-to-end tests of `cargo lumos`: the binary, fixture
//! workspaces, build.json, ELF checks. Tool lookup, the registry and the
//! frame-protocol client come from lumos-test-support.

pub use lumos_test_support::frames::*;
pub use lumos_test_support::require;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `cargo-lumos lumos …`, as cargo runs it for `cargo lumos …`, with this
/// build's wasm shims beside it (where an installed cargo-lumos finds them
/// on PATH).
pub fn cargo_lumos() -> Command {
    lumos_test_support::node_bins();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-lumos"));
    // Its cargo builds fixtures and functions, not the code under lint.
    lumos_test_support::unlinted(&mut cmd).arg("lumos");
    cmd
}

/// `cargo lumos build` of the workspace in `ws` into `target`, with more flags.
pub fn build_in(ws: &Path, target: &Path, extra: &[&str]) -> Output {
    run(cargo_lumos()
        .arg("build")
        .arg("--manifest-path")
        .arg(ws.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .args(extra))
}

/// Copies a fixture workspace from tests/fixtures into a fresh temp dir.
pub fn fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("tests/fixtures").join(name), dir.path());
    dir
}

pub fn copy_dir(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dest.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == "target" {
                continue;
            }
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// Writes a file, creating its directory.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Runs a command, returning its output; panics if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `readelf -h -l -d` of a file, as text.
pub fn readelf(path: &Path) -> String {
    require("readelf");
    let out = run(Command::new("readelf")
        .arg("-h")
        .arg("-l")
        .arg("-d")
        .arg(path));
    assert!(
        out.status.success(),
        "readelf {}: {}",
        path.display(),
        stderr(&out)
    );
    stdout(&out)
}

/// Asserts that `path` is a static ELF executable for `machine` (readelf's name, e.g. "AArch64").
pub fn assert_static_elf(path: &Path, machine: &str) {
    let text = readelf(path);
    assert!(
        text.contains("Class:                             ELF64"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("Machine:") && l.contains(machine)),
        "{} is not for {machine}:\n{text}",
        path.display()
    );
    assert!(
        !text.contains("INTERP"),
        "{} asks for a dynamic loader:\n{text}",
        path.display()
    );
    // Rust's musl binaries are static-pie: a dynamic section for relocations
    // is fine, a needed shared library is not.
    assert!(
        !text.contains("(NEEDED)"),
        "{} needs shared libraries:\n{text}",
        path.display()
    );
}

/// The WasmEdge sysroot for the host (made by scripts/install-wasmedge).
pub fn wasmedge_root() -> PathBuf {
    std::env::var_os("LUMOS_WASMEDGE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/lumos/wasmedge"))
}

/// The real `wasmedge` CLI of the amd64 sysroot, started through its own loader.
pub fn wasmedge() -> Command {
    let root = wasmedge_root().join("amd64");
    let lib = root.join("usr/lib/x86_64-linux-gnu");
    assert!(
        root.join("usr/bin/wasmedge").is_file(),
        "WasmEdge is not installed in {}: run scripts/setup",
        root.display()
    );
    let mut cmd = Command::new(lib.join("ld-linux-x86-64.so.2"));
    cmd.arg("--library-path")
        .arg(&lib)
        .arg(root.join("usr/bin/wasmedge"));
    cmd
}

/// Reads `<target-dir>/lumos/build.json`.
pub fn build_json(target_dir: &Path) -> serde_json::Value {
    let path = target_dir.join("lumos/build.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The artifacts of one function in build.json: variant -> (path, bytes, sha256).
pub fn artifacts(json: &serde_json::Value, function: &str) -> Vec<(String, PathBuf, u64, String)> {
    let f = json["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == function)
        .unwrap_or_else(|| panic!("{function} not in build.json: {json}"));
    f["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["variant"].as_str().unwrap().to_string(),
                PathBuf::from(a["path"].as_str().unwrap()),
                a["bytes"].as_u64().unwrap(),
                a["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// sha256 of a file, hex.
pub fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

// ---------------------------------------------------------------------------
// qemu and WasmEdge helpers (builtin_functions).

/// `qemu-aarch64-static <binary>`: runs an aarch64 static executable here.
pub fn qemu_aarch64(binary: &Path) -> Command {
    let qemu = require("qemu-aarch64-static");
    let mut cmd = Command::new(qemu);
    cmd.arg(binary);
    cmd
}

/// The header of a WasmEdge AoT (`wasmedge`) custom section: (format version, OS, CPU).
/// OS 1 = Linux; CPU 1 = x86_64, 2 = aarch64. Parsed by hand from the module
/// bytes (LEB128 section ids and sizes), independently of cargo-lumos' own reader.
pub fn wasmedge_aot_header(module: &[u8]) -> Option<(u32, u8, u8)> {
    fn leb(bytes: &[u8], at: &mut usize) -> u32 {
        let (mut value, mut shift) = (0u32, 0);
        loop {
            let b = bytes[*at];
            *at += 1;
            value |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }
    assert_eq!(&module[..8], b"\0asm\x01\0\0\0", "not a wasm module");
    let mut at = 8;
    while at < module.len() {
        let id = module[at];
        at += 1;
        let size = leb(module, &mut at) as usize;
        let end = at + size;
        if id == 0 {
            let mut p = at;
            let name_len = leb(module, &mut p) as usize;
            if &module[p..p + name_len] == b"wasmedge" {
                p += name_len;
                let version = leb(module, &mut p);
                return Some((version, module[p], module[p + 1]));
            }
        }
        at = end;
    }
    None
}

/// Benches of the real workspace take turns (one bench at a time keeps their
/// figures apart); the builds they start serialize on the target dir's lock.
pub static SHARED_TARGET: Mutex<()> = Mutex::new(());

/// The one target dir (`<target>/lumos-e2e`, persistent) where this
/// workspace's built-in functions are built with `--release`: by the
/// builtin_functions tests and by every bench of the real workspace alike, so
/// each function and AoT artifact is compiled once per run (build.json merges
/// what each build adds).
/// Its first use also starts the background build of the one artifact
/// compiled under qemu (builtin_functions, build 3), so that minutes-long
/// compile overlaps the tests before the ones that need it.
pub fn shared_target() -> PathBuf {
    crate::builtin_functions::start_qemu_build();
    lumos_test_support::fixtures::shared_dir("lumos-e2e")
}

/// `cargo lumos bench --release` of this workspace's built-in functions in
/// [`shared_target`], with `extra` flags.
pub fn bench_builtins(extra: &[&str]) -> Output {
    let mut args = vec!["--release"];
    args.extend_from_slice(extra);
    bench(&repo_root().join("Cargo.toml"), &shared_target(), &args)
}

/// `cargo lumos bench` of the workspace at `manifest` into `target`, with `extra` flags.
pub fn bench(manifest: &Path, target: &Path, extra: &[&str]) -> Output {
    run(cargo_lumos()
        .arg("bench")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target)
        .args(extra))
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn rows(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["runs"].as_array().expect("runs is an array")
}
