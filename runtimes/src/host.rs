//! The host side of one request: frames to an instance and back, storage
//! calls answered from a `Store`; and the `stdio` and `http` protocols.

use crate::frame::{split_meta, FrameError, FrameReader, FrameWriter, Kind};
use crate::instance::{Exit, Process};
use crate::store::Store;
use std::process::{ChildStdin, ChildStdout};
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
            Failure::Timeout(_) => "timeout",
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
    if tail.is_empty() {
        how
    } else {
        format!("{how}: {}", tail.join(" | "))
    }
}

/// A long-lived instance speaking frames.
pub struct FrameConn {
    pub proc: Process,
    reader: FrameReader<ChildStdout>,
    writer: FrameWriter<ChildStdin>,
    pub hello: Hello,
}

impl FrameConn {
    /// Takes the pipes of a freshly spawned process and waits for `HELLO`.
    pub fn handshake(
        mut proc: Process,
        deadline: Instant,
    ) -> Result<FrameConn, Box<(Process, Failure)>> {
        let out = proc.stdout.take().expect("stdout piped");
        let inp = proc.stdin.take().expect("stdin piped");
        let (reader, writer) = match (FrameReader::new(out), FrameWriter::new(inp)) {
            (Ok(r), Ok(w)) => (r, w),
            (Err(e), _) | (_, Err(e)) => return Err(Box::new((proc, Failure::Io(e.to_string())))),
        };
        let mut c = FrameConn {
            proc,
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
                Err(Box::new((c.into_process(), e)))
            }
            Err(e) => {
                let f = c.failure(e, deadline);
                Err(Box::new((c.into_process(), f)))
            }
        }
    }

    fn into_process(self) -> Process {
        let mut p = self.proc;
        p.stdin = Some(self.writer.into_inner());
        p
    }

    fn failure(&mut self, e: FrameError, deadline: Instant) -> Failure {
        match e {
            FrameError::Timeout => {
                Failure::Timeout(deadline.saturating_duration_since(Instant::now()))
            }
            FrameError::Corrupt(m) => Failure::Protocol(m),
            FrameError::Eof => {
                // Give the process a moment to finish dying so its status and stderr are known.
                let until = Instant::now() + Duration::from_millis(500);
                while self.proc.exited().is_none() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let exit = self.proc.exited().cloned().unwrap_or_default();
                Failure::Exited(describe_exit(&exit, &self.proc.stderr_tail()))
            }
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
            FrameError::Timeout => Failure::Timeout(timeout),
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
        let mut p = self.into_process();
        p.stop(grace)
    }

    /// Stops it now (after a failure).
    pub fn kill(self) -> Exit {
        let mut p = self.into_process();
        p.stop(Duration::ZERO)
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
