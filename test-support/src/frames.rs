//! A frame-protocol client (docs/frame-protocol.md) for tests: it starts a
//! `lumos` instance, speaks frames to it over stdio, serves its storage calls
//! and collects what it said. Written apart from lumos-runtimes' host, so the
//! host and the functions are each checked against an independent client.

use std::io::Write;
use std::process::{Command, Output, Stdio};

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

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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
