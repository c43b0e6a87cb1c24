//! The host side of one request: frames to an instance and back, storage
//! calls answered from a `Store`; and the `stdio` and `http` protocols.

use crate::frame::{split_meta, FrameError, FrameReader, FrameWriter, Kind};
use crate::instance::{Exit, Process, Usage};
use crate::pool::PooledInstance;
use crate::store::Store;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// The SDK's per-request measurement (docs/frame-protocol.md, "Meta").
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub phases_ns: PhasesNs,
    #[serde(default)]
    pub total_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhasesNs {
    #[serde(default)]
    pub io: u64,
    #[serde(default)]
    pub deserialize: u64,
    #[serde(default)]
    pub compute: u64,
    #[serde(default)]
    pub serialize: u64,
}

/// What a function answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ok {
        body: Vec<u8>,
        meta: Option<Meta>,
    },
    /// An `ERROR` frame (or a non-zero `stdio` exit, or an HTTP 500).
    FunctionError {
        kind: String,
        message: String,
        meta: Option<Meta>,
    },
}

impl Reply {
    pub fn meta(&self) -> Option<&Meta> {
        match self {
            Reply::Ok { meta, .. } | Reply::FunctionError { meta, .. } => meta.as_ref(),
        }
    }
}

/// A request that got no answer from the function: the instance is replaced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error("timeout: no answer within {0:?}; instance killed")]
    Timeout(Duration),
    /// A request to a `wasmtime-pooled` instance timed out: the host
    /// interrupted that instance and serves on (what it said is quoted), or
    /// did not in time and was stopped (said so).
    #[error("timeout: no answer within {0:?}; {1}")]
    PooledTimeout(Duration, String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("instance exited: {0}")]
    Exited(String),
    #[error("instance failed to start: {0}")]
    Start(String),
    #[error("i/o with the instance: {0}")]
    Io(String),
}

impl Failure {
    /// A short class name for counting.
    pub fn class(&self) -> &'static str {
        match self {
            Failure::Timeout(_) | Failure::PooledTimeout(..) => "timeout",
            Failure::Protocol(_) => "protocol",
            Failure::Exited(_) => "exited",
            Failure::Start(_) => "start",
            Failure::Io(_) => "io",
        }
    }
}

/// The first frame of a `lumos` instance.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hello {
    #[serde(default)]
    pub sdk: String,
    #[serde(default)]
    pub function: String,
    #[serde(default)]
    pub protocol: u32,
}

fn describe_exit(e: &Exit, stderr: &str) -> String {
    let how = match (e.code, e.signal) {
        (Some(c), _) => format!("status {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".into(),
    };
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    // On wasm a panic aborts into a trap whose backtrace fills the tail:
    // the panic's own message goes first.
    let panic = panic_message(stderr);
    match (panic, tail.is_empty()) {
        (Some(p), _) if !tail.iter().any(|l| p.contains(l.trim())) => {
            format!("{how}: {p} | {}", tail.join(" | "))
        }
        (Some(p), _) => format!("{how}: {p}"),
        (None, true) => how,
        (None, false) => format!("{how}: {}", tail.join(" | ")),
    }
}

/// Rust's panic report on stderr (`thread 'main' panicked at FILE:L:C:` and
/// the message lines after it), on one line.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines();
    let head = lines.find(|l| l.contains(" panicked at "))?;
    let message: Vec<&str> = lines
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("note: "))
        .take(3)
        .map(str::trim)
        .collect();
    Some(if message.is_empty() {
        head.trim().to_string()
    } else {
        format!("{} {}", head.trim(), message.join(" "))
    })
}

/// Where a frames instance runs: a process of its own (its stdin and
/// stdout carry the frames), or a store in a `wasmtime-pooled` host (a
/// connection carries them).
pub enum Instance {
    Process(Process),
    Pooled(PooledInstance),
}

impl Instance {
    /// The pid of the process that runs it (the pool host's for a pooled one).
    pub fn pid(&self) -> u32 {
        match self {
            Instance::Process(p) => p.pid(),
            Instance::Pooled(i) => i.pid(),
        }
    }

    /// The pid of the function's own process, once it exists.
    pub fn workload_pid(&mut self) -> Option<u32> {
        match self {
            Instance::Process(p) => p.workload_pid(),
            Instance::Pooled(i) => Some(i.pid()),
        }
    }

    /// CPU time and peak RSS so far ([`PooledInstance::usage`] for a pooled one).
    pub fn usage(&mut self) -> Option<Usage> {
        match self {
            Instance::Process(p) => p.usage(),
            Instance::Pooled(i) => i.usage(),
        }
    }

    /// Whether it has ended (its process exited, or the host ended its store).
    pub fn has_ended(&mut self) -> bool {
        match self {
            Instance::Process(p) => p.exited().is_some(),
            Instance::Pooled(i) => i.ended().is_some(),
        }
    }

    /// Its last words (stderr; for a pooled one, what the host said about it).
    pub fn stderr_tail(&self) -> String {
        match self {
            Instance::Process(p) => p.stderr_tail(),
            Instance::Pooled(i) => i.stderr_tail(),
        }
    }

    /// Stops it: the process after `grace`; a pooled one's connection is
    /// already closed by then (its host lives on).
    pub fn stop(&mut self, grace: Duration) -> Exit {
        match self {
            Instance::Process(p) => p.stop(grace),
            Instance::Pooled(_) => Exit::default(),
        }
    }

    /// Why it stopped answering (its stdout or connection at EOF).
    fn ended_failure(&mut self) -> Failure {
        // Give it a moment to finish dying so its status and stderr are known.
        let until = Instant::now() + Duration::from_millis(500);
        while !self.has_ended() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        match self {
            Instance::Process(p) => {
                let exit = p.exited().cloned().unwrap_or_default();
                Failure::Exited(describe_exit(&exit, &p.stderr_tail()))
            }
            Instance::Pooled(i) => Failure::Exited(format!(
                "its store in the pool host ended: {}",
                i.ended()
                    .unwrap_or_else(|| "the host closed the connection".into())
            )),
        }
    }
}

/// A long-lived instance speaking frames.
pub struct FrameConn {
    pub inst: Instance,
    reader: FrameReader<OwnedFd>,
    writer: FrameWriter<OwnedFd>,
    pub hello: Hello,
}

impl FrameConn {
    /// Takes the pipes of a freshly spawned process and waits for `HELLO`.
    pub fn handshake(
        mut proc: Process,
        deadline: Instant,
    ) -> Result<FrameConn, Box<(Instance, Failure)>> {
        let out = OwnedFd::from(proc.stdout.take().expect("stdout piped"));
        let inp = OwnedFd::from(proc.stdin.take().expect("stdin piped"));
        Self::handshake_over(Instance::Process(proc), out, inp, deadline)
    }

    /// Waits for `HELLO` of a pooled instance on its connection.
    pub fn handshake_pooled(
        stream: UnixStream,
        inst: PooledInstance,
        deadline: Instant,
    ) -> Result<FrameConn, Box<(Instance, Failure)>> {
        let inst = Instance::Pooled(inst);
        let out = match stream.try_clone() {
            Ok(s) => OwnedFd::from(s),
            Err(e) => return Err(Box::new((inst, Failure::Io(e.to_string())))),
        };
        Self::handshake_over(inst, out, OwnedFd::from(stream), deadline)
    }

    fn handshake_over(
        inst: Instance,
        out: OwnedFd,
        inp: OwnedFd,
        deadline: Instant,
    ) -> Result<FrameConn, Box<(Instance, Failure)>> {
        let (reader, writer) = match (FrameReader::new(out), FrameWriter::new(inp)) {
            (Ok(r), Ok(w)) => (r, w),
            (Err(e), _) | (_, Err(e)) => return Err(Box::new((inst, Failure::Io(e.to_string())))),
        };
        let mut c = FrameConn {
            inst,
            reader,
            writer,
            hello: Hello::default(),
        };
        match c.reader.read_frame(Some(deadline)) {
            Ok(f) if f.kind == Kind::Hello => {
                c.hello = serde_json::from_slice(&f.payload).unwrap_or_default();
                Ok(c)
            }
            Ok(f) => {
                let e = Failure::Protocol(format!("expected HELLO first, got {:?}", f.kind));
                Err(Box::new((c.into_instance(), e)))
            }
            Err(e) => {
                let f = c.failure(e, deadline);
                Err(Box::new((c.into_instance(), f)))
            }
        }
    }

    /// The instance, its input and output closed (a pooled instance's
    /// connection with them: its store then ends).
    fn into_instance(self) -> Instance {
        self.inst
    }

    fn failure(&mut self, e: FrameError, deadline: Instant) -> Failure {
        match e {
            FrameError::Timeout => {
                Failure::Timeout(deadline.saturating_duration_since(Instant::now()))
            }
            FrameError::Corrupt(m) => Failure::Protocol(m),
            FrameError::Eof => self.inst.ended_failure(),
            FrameError::Io(e) => Failure::Io(e.to_string()),
        }
    }

    /// One request: `REQUEST`, storage calls answered, then `RESPONSE`/`ERROR`.
    pub fn call(
        &mut self,
        body: &[u8],
        store: &dyn Store,
        timeout: Duration,
    ) -> Result<Reply, Failure> {
        let deadline = Instant::now() + timeout;
        let fail = |s: &mut Self, e: FrameError| match e {
            FrameError::Timeout => match &s.inst {
                Instance::Pooled(i) => {
                    Failure::PooledTimeout(timeout, i.timed_out().unwrap_or_else(|e| e))
                }
                Instance::Process(_) => Failure::Timeout(timeout),
            },
            e => s.failure(e, deadline),
        };
        if let Err(e) = self.writer.write_frame(Kind::Request, body, Some(deadline)) {
            return Err(fail(self, e));
        }
        loop {
            let f = match self.reader.read_frame(Some(deadline)) {
                Ok(f) => f,
                Err(e) => return Err(fail(self, e)),
            };
            let answer = match f.kind {
                Kind::Response | Kind::Error => {
                    let (meta, rest) = split_meta(&f.payload).map_err(|e| fail(self, e))?;
                    let meta: Option<Meta> = serde_json::from_slice(meta).ok();
                    if f.kind == Kind::Response {
                        return Ok(Reply::Ok {
                            body: rest.to_vec(),
                            meta,
                        });
                    }
                    return Ok(Reply::FunctionError {
                        kind: meta
                            .as_ref()
                            .and_then(|m| m.kind.clone())
                            .unwrap_or_else(|| "handler".into()),
                        message: String::from_utf8_lossy(rest).into_owned(),
                        meta,
                    });
                }
                Kind::StorageGet => match std::str::from_utf8(&f.payload) {
                    Err(_) => (Kind::StorageFail, b"storage key is not UTF-8".to_vec()),
                    Ok(key) => match store.get(key) {
                        Ok(Some(v)) => {
                            let mut p = Vec::with_capacity(v.len() + 1);
                            p.push(1);
                            p.extend_from_slice(&v);
                            (Kind::StorageValue, p)
                        }
                        Ok(None) => (Kind::StorageValue, vec![0]),
                        Err(e) => (Kind::StorageFail, lumos_model::error_chain(&e).into_bytes()),
                    },
                },
                Kind::StoragePut => {
                    let p = &f.payload;
                    let k = if p.len() >= 4 {
                        u32::from_le_bytes(p[..4].try_into().unwrap()) as usize
                    } else {
                        usize::MAX
                    };
                    if k == usize::MAX || p.len() - 4 < k {
                        (
                            Kind::StorageFail,
                            b"STORAGE_PUT key length past the payload".to_vec(),
                        )
                    } else {
                        match std::str::from_utf8(&p[4..4 + k]) {
                            Err(_) => (Kind::StorageFail, b"storage key is not UTF-8".to_vec()),
                            Ok(key) => match store.put(key, &p[4 + k..]) {
                                Ok(()) => (Kind::StorageAck, vec![]),
                                Err(e) => {
                                    (Kind::StorageFail, lumos_model::error_chain(&e).into_bytes())
                                }
                            },
                        }
                    }
                }
                other => {
                    return Err(Failure::Protocol(format!(
                        "unexpected {other:?} frame during a request"
                    )));
                }
            };
            if let Err(e) = self.writer.write_frame(answer.0, &answer.1, Some(deadline)) {
                return Err(fail(self, e));
            }
        }
    }

    /// Sends `SHUTDOWN` and stops the process.
    pub fn shutdown(mut self, grace: Duration) -> Exit {
        let _ = self.writer.write_frame(
            Kind::Shutdown,
            &[],
            Some(Instant::now() + Duration::from_millis(100)),
        );
        self.into_instance().stop(grace)
    }

    /// Stops it now (after a failure).
    pub fn kill(self) -> Exit {
        self.into_instance().stop(Duration::ZERO)
    }
}

/// The `stdio` protocol: the request on stdin, the response on stdout, one
/// process per request; a non-zero exit is a function error.
pub fn stdio_call(
    mut proc: Process,
    body: &[u8],
    timeout: Duration,
    limit: usize,
) -> (Result<Reply, Failure>, Exit) {
    let deadline = Instant::now() + timeout;
    let out = proc.stdout.take().expect("stdout piped");
    let inp = proc.stdin.take().expect("stdin piped");
    let run = || -> Result<Vec<u8>, FrameError> {
        let mut w = FrameWriter::new(inp)?;
        let mut r = FrameReader::new(out)?;
        // Write and read together: the function may answer before it has read all of its input.
        std::thread::scope(|s| {
            let writer = s.spawn(move || {
                let r = w.write_all(body, Some(deadline));
                drop(w);
                r
            });
            let out = r.read_to_end(Some(deadline), limit);
            let w = writer.join().expect("writer thread");
            match (out, w) {
                (Ok(o), Ok(()) | Err(FrameError::Eof)) => Ok(o),
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        })
    };
    let out = run();
    let exit = match &out {
        Ok(_) => proc
            .stop(Duration::from_secs(5).min(deadline.saturating_duration_since(Instant::now()))),
        Err(_) => proc.stop(Duration::ZERO),
    };
    let r = match out {
        Ok(body) if exit.code == Some(0) => Ok(Reply::Ok { body, meta: None }),
        Ok(_) => Ok(Reply::FunctionError {
            kind: "exit".into(),
            message: describe_exit(&exit, &proc.stderr_tail()),
            meta: None,
        }),
        Err(FrameError::Timeout) => Err(Failure::Timeout(timeout)),
        Err(FrameError::Corrupt(m)) => Err(Failure::Protocol(m)),
        Err(FrameError::Eof) => Err(Failure::Exited(describe_exit(&exit, &proc.stderr_tail()))),
        Err(FrameError::Io(e)) => Err(Failure::Io(e.to_string())),
    };
    (r, exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wasm panic: the message, then the trap and its backtrace, which fill
    /// the last lines; the message must still be what the error says.
    #[test]
    fn a_wasm_panic_shows_its_message_not_only_the_trap() {
        let stderr = "thread 'main' panicked at src/main.rs:12:9:\n\
                      usage: cli-args N (the Fibonacci number to compute)\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\
                      trap: error while executing at wasm backtrace:\n\
                      \x20   0: 0x1234 - cli_args.wasm!abort\n\
                      \x20   1: 0x2345 - cli_args.wasm!main\n\
                      wasm trap: unreachable";
        let e = Exit {
            code: Some(134),
            signal: None,
            rusage: None,
        };
        let m = describe_exit(&e, stderr);
        assert!(
            m.contains("usage: cli-args N") && m.contains("panicked at src/main.rs:12:9"),
            "{m}"
        );
        assert!(m.ends_with("wasm trap: unreachable"), "{m}");
        assert!(!m.contains('\n'), "{m}");
        // Without a panic, the last lines as before.
        let m = describe_exit(&e, "a\nb\nc\nd");
        assert_eq!(m, "status 134: b | c | d");
    }
}
