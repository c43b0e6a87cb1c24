//! Helpers shared by the end-to-end tests of `cargo lumos`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `cargo-lumos lumos …`, as cargo runs it for `cargo lumos …`.
pub fn cargo_lumos() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-lumos"));
    cmd.arg("lumos");
    cmd
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

/// Runs a program with `input` on stdin and returns its output.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Fails the test with a clear message when an outside tool is missing.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed: run scripts/setup"))
}

/// `readelf -h -l -d` of a file, as text.
pub fn readelf(path: &Path) -> String {
    require_tool("readelf");
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
