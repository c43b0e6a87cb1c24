//! Helpers shared by the end-to-end tests of `cargo lumos`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

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

// ---------------------------------------------------------------------------
// Frame-protocol client, qemu and WasmEdge helpers (tests/builtin_functions.rs).

/// What one `REQUEST` to a `lumos` instance gave back.
#[derive(Debug)]
pub struct Answer {
    /// The `HELLO` JSON the instance sent first.
    pub hello: serde_json::Value,
    /// Meta and body of the `RESPONSE`; `Err((meta, message))` for an `ERROR`.
    pub result: Result<(serde_json::Value, Vec<u8>), (serde_json::Value, String)>,
    /// Keys the instance asked for with `STORAGE_GET`, in order.
    pub gets: Vec<String>,
    /// What the instance wrote with `STORAGE_PUT`.
    pub puts: std::collections::BTreeMap<String, Vec<u8>>,
}

impl Answer {
    /// The response body; panics with the instance's error otherwise.
    pub fn body(&self) -> &[u8] {
        match &self.result {
            Ok((_, body)) => body,
            Err((meta, message)) => panic!("the function answered ERROR {meta}: {message}"),
        }
    }

    /// The response body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body()).unwrap_or_else(|e| {
            panic!(
                "response is not JSON ({e}): {}",
                String::from_utf8_lossy(self.body())
            )
        })
    }
}

/// Everything an instance said, from start to exit.
#[derive(Debug)]
pub struct Session {
    pub answers: Vec<Answer>,
    pub status: std::process::ExitStatus,
    pub stderr: String,
}

/// Kills a child process unless dropped first: a safety net so that a hung
/// instance fails the test instead of hanging it (no timing is asserted).
struct Watchdog {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    fn new(pid: u32, limit: std::time::Duration) -> Watchdog {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while start.elapsed() < limit {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            if !flag.load(std::sync::atomic::Ordering::SeqCst) {
                eprintln!("watchdog: pid {pid} still running after {limit:?}, killing it");
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Starts `cmd` as a `lumos` frame-protocol instance and sends it `requests`
/// one after the other, serving its storage calls from `store` (a put is
/// stored there and acknowledged). Reads `HELLO` first, sends `SHUTDOWN` at
/// the end and waits for the exit. Panics on any protocol violation.
pub fn frame_session(
    cmd: &mut Command,
    requests: &[&[u8]],
    store: &mut std::collections::BTreeMap<String, Vec<u8>>,
) -> Session {
    use lumos_sdk::frame::{read_frame, split_meta, write_frame, Kind};
    use std::io::Read;

    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let _watchdog = Watchdog::new(child.id(), std::time::Duration::from_secs(600));
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let mut input = child.stdin.take().unwrap();
    let mut output = std::io::BufReader::new(child.stdout.take().unwrap());
    let fail = |what: String, child: &mut std::process::Child| -> ! {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?}: {what}");
    };

    let hello: serde_json::Value = match read_frame(&mut output) {
        Ok(f) if f.kind == Kind::Hello => {
            serde_json::from_slice(&f.payload).unwrap_or_else(|e| panic!("HELLO is not JSON: {e}"))
        }
        Ok(f) => fail(
            format!("first frame is {:?}, not HELLO", f.kind),
            &mut child,
        ),
        Err(e) => {
            let _ = child.kill();
            let status = child.wait().unwrap();
            let err = stderr_thread.join().unwrap();
            panic!("{cmd:?}: no HELLO ({e}); exit {status}; stderr:\n{err}");
        }
    };
    let mut answers = Vec::new();
    for request in requests {
        write_frame(&mut input, Kind::Request, &[request]).expect("write REQUEST");
        let mut gets = Vec::new();
        let mut puts = std::collections::BTreeMap::new();
        let result = loop {
            let frame = match read_frame(&mut output) {
                Ok(f) => f,
                Err(e) => {
                    let _ = child.kill();
                    let status = child.wait().unwrap();
                    let err = stderr_thread.join().unwrap();
                    panic!("{cmd:?}: no answer ({e}); exit {status}; stderr:\n{err}");
                }
            };
            match frame.kind {
                Kind::StorageGet => {
                    let key = String::from_utf8(frame.payload).expect("UTF-8 key");
                    match store.get(&key) {
                        Some(v) => write_frame(&mut input, Kind::StorageValue, &[&[1], v]),
                        None => write_frame(&mut input, Kind::StorageValue, &[&[0]]),
                    }
                    .expect("write STORAGE_VALUE");
                    gets.push(key);
                }
                Kind::StoragePut => {
                    let (key, value) = split_meta(&frame.payload).expect("STORAGE_PUT payload");
                    let key = String::from_utf8(key.to_vec()).expect("UTF-8 key");
                    store.insert(key.clone(), value.to_vec());
                    puts.insert(key, value.to_vec());
                    write_frame(&mut input, Kind::StorageAck, &[]).expect("write STORAGE_ACK");
                }
                Kind::Response | Kind::Error => {
                    let (meta, rest) = split_meta(&frame.payload).expect("meta length");
                    let meta: serde_json::Value =
                        serde_json::from_slice(meta).expect("meta is JSON");
                    break if frame.kind == Kind::Response {
                        Ok((meta, rest.to_vec()))
                    } else {
                        Err((meta, String::from_utf8_lossy(rest).into_owned()))
                    };
                }
                other => fail(format!("unexpected frame {other:?}"), &mut child),
            }
        };
        answers.push(Answer {
            hello: serde_json::Value::Null,
            result,
            gets,
            puts,
        });
    }
    write_frame(&mut input, Kind::Shutdown, &[]).expect("write SHUTDOWN");
    drop(input);
    let mut rest = Vec::new();
    output.read_to_end(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let stderr = stderr_thread.join().unwrap();
    assert!(
        rest.is_empty(),
        "{cmd:?} wrote {} bytes after its last answer",
        rest.len()
    );
    for a in &mut answers {
        a.hello = hello.clone();
    }
    Session {
        answers,
        status,
        stderr,
    }
}

/// One request through [`frame_session`], with `objects` preloaded into the store.
pub fn frame_request(cmd: &mut Command, request: &[u8], objects: &[(String, Vec<u8>)]) -> Answer {
    let mut store = objects.iter().cloned().collect();
    let mut session = frame_session(cmd, &[request], &mut store);
    assert!(
        session.status.success(),
        "{cmd:?} exited with {} after SHUTDOWN; stderr:\n{}",
        session.status,
        session.stderr
    );
    session.answers.remove(0)
}

/// `qemu-aarch64-static <binary>`: runs an aarch64 static executable here.
pub fn qemu_aarch64(binary: &Path) -> Command {
    let qemu = require_tool("qemu-aarch64-static");
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

/// A run of an instance fed all of its input at once, whose stdout may hold
/// text besides frames: the WasmEdge CLI writes its log (AoT fallback notes,
/// `--enable-instruction-count` statistics) to **stdout**, before the first
/// frame and after the last.
#[derive(Debug)]
pub struct BatchRun {
    /// The non-frame text of stdout (before `HELLO` and after the last frame).
    pub log: String,
    /// The `HELLO` JSON.
    pub hello: serde_json::Value,
    /// One answer per request, in order.
    pub answers: Vec<Answer>,
    pub stderr: String,
    pub status: std::process::ExitStatus,
}

/// Sends `requests` (which must make no storage calls) and `SHUTDOWN` in one
/// go, then splits stdout into log text and frames.
pub fn frames_batch(cmd: &mut Command, requests: &[&[u8]]) -> BatchRun {
    use lumos_sdk::frame::{read_frame, split_meta, write_frame, Kind};

    let mut input = Vec::new();
    for r in requests {
        write_frame(&mut input, Kind::Request, &[r]).unwrap();
    }
    write_frame(&mut input, Kind::Shutdown, &[]).unwrap();
    let out = run_with_stdin(cmd, &input);
    let stdout = &out.stdout[..];
    let start = stdout
        .windows(3)
        .position(|w| w == b"LM\x01")
        .unwrap_or_else(|| {
            panic!(
                "{cmd:?}: no HELLO frame on stdout ({}); stdout:\n{}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(stdout),
                stderr(&out)
            )
        });
    let mut log = String::from_utf8_lossy(&stdout[..start]).into_owned();
    let mut rest = &stdout[start..];
    let mut frames = Vec::new();
    loop {
        let before = rest;
        match read_frame(&mut rest) {
            Ok(frame) => frames.push(frame),
            Err(_) => {
                log.push_str(&String::from_utf8_lossy(before));
                break;
            }
        }
    }
    let hello: serde_json::Value = serde_json::from_slice(&frames[0].payload).unwrap();
    let mut answers = Vec::new();
    for frame in &frames[1..] {
        let (meta, rest) = split_meta(&frame.payload).expect("meta length");
        let meta: serde_json::Value = serde_json::from_slice(meta).expect("meta is JSON");
        let result = match frame.kind {
            Kind::Response => Ok((meta, rest.to_vec())),
            Kind::Error => Err((meta, String::from_utf8_lossy(rest).into_owned())),
            other => panic!("{cmd:?}: unexpected frame {other:?}"),
        };
        answers.push(Answer {
            hello: hello.clone(),
            result,
            gets: Vec::new(),
            puts: Default::default(),
        });
    }
    assert_eq!(
        answers.len(),
        requests.len(),
        "{cmd:?}: {} answers to {} requests; log:\n{log}\nstderr:\n{}",
        answers.len(),
        requests.len(),
        stderr(&out)
    );
    BatchRun {
        log,
        hello,
        answers,
        stderr: stderr(&out),
        status: out.status,
    }
}

/// Benches of the real workspace share one target dir (so its functions are
/// built once); they take turns, since they rewrite the same build.json.
pub static SHARED_TARGET: Mutex<()> = Mutex::new(());

pub fn shared_target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("lumos-bench-tests")
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
