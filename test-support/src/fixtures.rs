//! Fixture programs compiled once per run into a directory of the target dir
//! that every test binary of the build shares (a second test binary, or a
//! second run, finds them there).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::tools::run;

/// The target dir of the running test binary (`<target>/<profile>/deps/<test>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's executable");
    exe.ancestors()
        .nth(3)
        .unwrap_or_else(|| panic!("{}: not in <target>/<profile>/deps", exe.display()))
        .to_path_buf()
}

/// `<target>/<name>`, created: a folder shared by the tests of one target dir.
pub fn shared_dir(name: &str) -> PathBuf {
    let dir = target_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Builds the crate at `crate_dir` (its own workspace) in release mode for
/// x86_64-unknown-linux-musl and wasm32-wasip1 into `<target>/<target_name>`
/// (a no-op when nothing changed); returns that target dir: binaries are in
/// `x86_64-unknown-linux-musl/release` and `wasm32-wasip1/release`.
pub fn build_musl_and_wasm(crate_dir: &Path, target_name: &str) -> PathBuf {
    let target = shared_dir(target_name);
    let st = crate::cargo()
        .current_dir(crate_dir)
        .args([
            "build",
            "--release",
            "--target",
            "x86_64-unknown-linux-musl",
            "--target",
            "wasm32-wasip1",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo for the fixtures");
    assert!(
        st.success(),
        "building the test fixtures in {} failed",
        crate_dir.display()
    );
    target
}

/// The program of the `hello` fixtures: answers one request read from stdin
/// (or its arguments) with a known line.
const HELLO_RS: &str = r#"
use std::io::Read;
fn main() {
    let mut input = String::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        let _ = std::io::stdin().read_to_string(&mut input);
    } else {
        input = args.join(" ");
    }
    println!("lumos-hello: {}", input.trim());
}
"#;

/// The cache of the `hello` fixtures (`<target>/lumos-oci-test-cache`).
pub fn hello_cache() -> PathBuf {
    shared_dir("lumos-oci-test-cache")
}

fn compile_hello(target: &str, out_name: &str, extra: &[&str]) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = hello_cache().join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(out_name);
    if out.is_file() {
        return out;
    }
    let src = dir.join("hello.rs");
    std::fs::write(&src, HELLO_RS).unwrap();
    let tmp = dir.join(format!("{out_name}.tmp-{}", std::process::id()));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    run(Command::new(rustc)
        .args([
            "--crate-name",
            "hello",
            "--edition",
            "2021",
            "-C",
            "opt-level=s",
            "-C",
            "strip=symbols",
            "-C",
            "panic=abort",
            "--target",
            target,
        ])
        .args(extra)
        .arg("-o")
        .arg(&tmp)
        .arg(&src));
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// `hello` as a static x86_64 musl executable.
pub fn hello_x86_64() -> PathBuf {
    compile_hello("x86_64-unknown-linux-musl", "hello-x86_64", &[])
}

/// `hello` as a static aarch64 musl executable (linked with rust-lld).
pub fn hello_aarch64() -> PathBuf {
    compile_hello(
        "aarch64-unknown-linux-musl",
        "hello-aarch64",
        &["-C", "linker=rust-lld"],
    )
}

/// `hello` as a wasm32-wasip1 module.
pub fn hello_wasm() -> PathBuf {
    compile_hello("wasm32-wasip1", "hello.wasm", &[])
}

/// The function-style fixtures' workspace (`tests/fixtures/styles` at the
/// repository root).
pub fn styles_workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/styles")
}

/// The one target dir every test of this build uses for the styles fixtures
/// (`<target>/lumos-styles-fixtures`), so tokio and hyper compile once per run.
pub fn styles_target() -> PathBuf {
    shared_dir("lumos-styles-fixtures")
}

/// A package of the styles fixtures built `--locked --release` for `triple`
/// into [`styles_target`]; returns the executable or module.
pub fn styles_package(package: &str, triple: &str) -> PathBuf {
    let target = styles_target();
    let st = crate::cargo()
        .current_dir(styles_workspace())
        .args([
            "build",
            "--locked",
            "--release",
            "-p",
            package,
            "--target",
            triple,
        ])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo for the styles fixtures");
    assert!(
        st.success(),
        "building tests/fixtures/styles {package} for {triple} failed"
    );
    let file = if triple.starts_with("wasm32") {
        format!("{package}.wasm")
    } else {
        package.to_string()
    };
    target.join(triple).join("release").join(file)
}

/// tests/fixtures/wasi-http-hello (a `cdylib` exporting
/// `wasi:http/incoming-handler`) built for wasm32-wasip2 into
/// `<target>/lumos-component-fixture` once per run (a no-op for cargo when
/// nothing changed); returns the component.
pub fn wasi_http_hello() -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wasi-http-hello");
    let target = shared_dir("lumos-component-fixture");
    run(crate::cargo()
        .current_dir(&dir)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target));
    target.join("wasm32-wasip2/release/wasi_http_hello.wasm")
}

/// An example of lumos-sdk (functions/sdk/examples) built `--release` for
/// `triple` into `<target>/lumos-sdk-examples` (its own target dir: cargo
/// test holds the workspace's); returns the executable or module.
pub fn sdk_example(example: &str, triple: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = shared_dir("lumos-sdk-examples");
    run(crate::cargo()
        .current_dir(&root)
        .args([
            "build",
            "--locked",
            "--release",
            "-p",
            "lumos-sdk",
            "--example",
            example,
            "--target",
            triple,
        ])
        .env("CARGO_TARGET_DIR", &target));
    let file = if triple.starts_with("wasm32") {
        format!("{example}.wasm")
    } else {
        example.to_string()
    };
    target.join(triple).join("release/examples").join(file)
}
