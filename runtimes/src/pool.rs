//! `wasmtime-pooled`, the runner's side: one long-lived host process per
//! launcher (`lumos-shim-wasmtime` with `pool_socket` in its spec: the
//! module loaded once, wasmtime's pooling allocator, an `InstancePre`), and
//! instances that are connections to it. An instance starts with a connect
//! (and its id written on the connection), is ready with the guest's
//! `HELLO`, speaks frames over the socket, and ends when the connection is
//! closed. The host is started before the first instance, untimed, as a
//! node's runtime daemon is already running when a request arrives; it is
//! stopped by PID when the launcher goes.
//!
//! A request that times out ends its instance only: the runner shuts its
//! side of the connection down, the host's epoch deadline callback sees
//! that and interrupts the guest (even one that never yields), drops its
//! store and closes the connection, saying `lumos-pool[ID]: interrupted …`
//! ([`PooledInstance::timed_out`]). A host whose module has no epoch
//! interruption compiled in (a `.cwasm` precompiled without it; its `HELLO`
//! says `"interruptible": false`) is stopped at once, with its other
//! instances, and so is one that has not ended the instance within
//! [`INTERRUPT_GRACE`] (its guest blocked in a host call, say).
//!
//! An instance's usage is read from the host process: its CPU time is the
//! host's since the connect, its RSS the host's growth since the connect
//! (with instances side by side, each sees the others' growth too).

use crate::frame::{FrameReader, Kind};
use crate::host::Failure;
use crate::instance::{proc_rss_bytes, proc_usage, Process, Spec, Usage};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ChildStdout;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the runner waits, after a request timed out, for the host to
/// end that instance (it interrupts a running guest within a tick, 10 ms)
/// before it stops the whole host.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// A pool host's CPU time (ms) and RSS (bytes) before an instance is added.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostBaseline((f64, u64));

/// The running pool host of one launcher.
pub struct PoolHost {
    proc: Mutex<Process>,
    /// Its stdout, which carried its `HELLO` (kept open while it runs).
    _stdout: FrameReader<ChildStdout>,
    pub socket: PathBuf,
    pub pid: u32,
    /// From spawn until it announced it listens (module loaded, pool reserved).
    pub start: Duration,
    /// Its instances can be interrupted (epoch interruption compiled in).
    pub interruptible: bool,
}

impl PoolHost {
    /// Spawns the host from `spec` (its socket at `socket`) and waits for
    /// its `HELLO` until `deadline`.
    pub(crate) fn start(
        id: String,
        spec: &Spec,
        socket: PathBuf,
        guard: Option<&Arc<crate::guard::Guard>>,
        timeout: Duration,
    ) -> Result<PoolHost, Failure> {
        let t0 = Instant::now();
        let mut p = Process::spawn(id, spec, guard)
            .map_err(|e| Failure::Start(format!("spawn {}: {e}", spec.program.display())))?;
        let out = p.stdout.take().expect("stdout piped");
        let mut reader = FrameReader::new(out).map_err(|e| Failure::Start(e.to_string()))?;
        let fail = |p: &mut Process, why: String| {
            p.stop(Duration::ZERO);
            let tail = p.stderr_tail();
            let tail: Vec<&str> = tail.lines().rev().take(3).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Failure::Start(format!(
                "the wasmtime-pooled host {why}{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", tail.join(" | "))
                }
            ))
        };
        let interruptible = match reader.read_frame(Some(t0 + timeout)) {
            Ok(f) if f.kind == Kind::Hello => {
                serde_json::from_slice::<serde_json::Value>(&f.payload)
                    .ok()
                    .and_then(|h| h.get("interruptible")?.as_bool())
                    .unwrap_or(false)
            }
            Ok(f) => return Err(fail(&mut p, format!("said {:?} before HELLO", f.kind))),
            Err(crate::frame::FrameError::Timeout) => {
                return Err(fail(&mut p, format!("did not listen within {timeout:?}")))
            }
            Err(e) => return Err(fail(&mut p, format!("ended before it listened ({e})"))),
        };
        let pid = p.pid();
        Ok(PoolHost {
            proc: Mutex::new(p),
            _stdout: reader,
            socket,
            pid,
            start: t0.elapsed(),
            interruptible,
        })
    }

    /// The host's CPU time and RSS now: the baseline a new instance's
    /// usage is counted from. Read before the clock of a cold start starts
    /// (the /proc reads are the harness's bookkeeping, not the start).
    pub fn baseline(&self) -> HostBaseline {
        HostBaseline(
            proc_usage(self.pid)
                .map(|u| (u.cpu_ms, proc_rss_bytes(self.pid).unwrap_or(0)))
                .unwrap_or_default(),
        )
    }

    /// A new instance: connects and names it (one length byte, the id); its
    /// usage is counted from `base` ([`PoolHost::baseline`]).
    pub fn connect(
        self: &Arc<Self>,
        id: &str,
        base: HostBaseline,
    ) -> Result<(UnixStream, PooledInstance), Failure> {
        let base = base.0;
        let mut s = UnixStream::connect(&self.socket).map_err(|e| {
            let ended = self.host_ended();
            Failure::Start(match ended {
                Some(how) => format!("the wasmtime-pooled host has ended ({how})"),
                None => format!("connect to {}: {e}", self.socket.display()),
            })
        })?;
        let name = &id.as_bytes()[..id.len().min(255)];
        let mut hello = Vec::with_capacity(name.len() + 1);
        hello.push(name.len() as u8);
        hello.extend_from_slice(name);
        s.write_all(&hello)
            .map_err(|e| Failure::Start(format!("write the instance id: {e}")))?;
        let conn = s
            .try_clone()
            .map_err(|e| Failure::Start(format!("the connection: {e}")))?;
        Ok((
            s,
            PooledInstance {
                host: self.clone(),
                id: id.to_string(),
                conn,
                base,
                peak_rss: 0,
            },
        ))
    }

    /// Whether the host process has ended.
    pub fn has_ended(&self) -> bool {
        self.host_ended().is_some()
    }

    /// Stops the host now (its instances end with it): after a request
    /// timed out, when the host did not end that instance itself.
    pub fn kill(&self) {
        if let Ok(mut p) = self.proc.lock() {
            p.stop(Duration::ZERO);
        }
    }

    /// How the host process ended, if it has.
    fn host_ended(&self) -> Option<String> {
        let mut p = self.proc.lock().unwrap();
        let e = p.exited()?.clone();
        Some(match (e.code, e.signal) {
            (Some(c), _) => format!("status {c}"),
            (_, Some(s)) => format!("signal {s}"),
            _ => "unknown status".into(),
        })
    }

    /// The host's last lines about instance `id` (`lumos-pool[ID]: …`), and
    /// the guest output just before them.
    fn lines_about(&self, id: &str) -> Option<String> {
        let tail = self.proc.lock().unwrap().stderr_tail();
        let tag = format!("lumos-pool[{id}]: ");
        let lines: Vec<&str> = tail.lines().collect();
        let at = lines.iter().rposition(|l| l.starts_with(&tag))?;
        let said = lines[at].trim_start_matches(&tag).to_string();
        // A guest's panic message precedes its trap (stderr is shared).
        let panic = lines[..at]
            .iter()
            .rev()
            .take(8)
            .position(|l| l.contains(" panicked at "))
            .map(|back| {
                let i = at - 1 - back;
                lines[i..(i + 2).min(at)].join(" ")
            });
        Some(match panic {
            Some(p) if !said.starts_with("ended") => format!("{said}; {p}"),
            _ => said,
        })
    }

    /// The host's stderr (for messages about the host itself).
    pub fn stderr_tail(&self) -> String {
        self.proc.lock().unwrap().stderr_tail()
    }
}

impl Drop for PoolHost {
    fn drop(&mut self) {
        if let Ok(mut p) = self.proc.lock() {
            p.stop(Duration::ZERO);
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// One instance in a pool host: a store behind a connection.
pub struct PooledInstance {
    host: Arc<PoolHost>,
    pub id: String,
    /// The connection (a handle of its own, to shut it down).
    conn: UnixStream,
    /// The host's CPU ms and RSS bytes at the connect.
    base: (f64, u64),
    peak_rss: u64,
}

impl PooledInstance {
    /// The host's pid (instances have no process of their own).
    pub fn pid(&self) -> u32 {
        self.host.pid
    }

    /// CPU time of the host since the connect; the largest growth of its
    /// RSS seen since the connect.
    pub fn usage(&mut self) -> Option<Usage> {
        let u = proc_usage(self.host.pid)?;
        let rss = proc_rss_bytes(self.host.pid)?;
        self.peak_rss = self.peak_rss.max(rss.saturating_sub(self.base.1));
        Some(Usage {
            cpu_ms: (u.cpu_ms - self.base.0).max(0.0),
            peak_rss_bytes: self.peak_rss,
        })
    }

    /// A request to this instance timed out: shuts the connection down
    /// for writing (the host interrupts the guest, drops its store and
    /// closes the connection) and waits up to [`INTERRUPT_GRACE`] for the
    /// connection's end. Ok: what the host said about the instance (the
    /// host serves on); Err: it did not end the instance in time and was
    /// stopped (the launcher starts a new one), said.
    pub fn timed_out(&self) -> Result<String, String> {
        use std::io::Read;
        if !self.host.interruptible {
            self.host.kill();
            return Err(format!(
                "the wasmtime-pooled host (pid {}) cannot interrupt its instances (the \
                 .cwasm was precompiled without epoch interruption; a wasm module is \
                 compiled with it): the host was stopped, with its other instances",
                self.host.pid
            ));
        }
        let _ = self.conn.shutdown(std::net::Shutdown::Write);
        let until = Instant::now() + INTERRUPT_GRACE;
        // Whatever the guest still wrote is read and dropped, up to the
        // end the host makes (a handle of our own, so the frame reader's
        // buffer does not matter).
        let mut conn = &self.conn;
        // The frame reader made the (shared) file description non-blocking;
        // it reads no more, and here reads block until the deadline.
        let _ = conn.set_nonblocking(false);
        let mut buf = [0u8; 4096];
        let ended = loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || conn.set_read_timeout(Some(left)).is_err() {
                break false;
            }
            match conn.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // The host reset the connection: it ended the instance too.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        if ended && self.host.host_ended().is_none() {
            // The host wrote its line before it closed the connection; the
            // runner's reader of its stderr may lag a moment.
            let until = Instant::now() + Duration::from_millis(500);
            loop {
                if let Some(said) = self.host.lines_about(&self.id) {
                    return Ok(format!("lumos-pool[{}]: {said}", self.id));
                }
                if Instant::now() >= until {
                    return Ok(format!(
                        "the wasmtime-pooled host (pid {}) ended the instance",
                        self.host.pid
                    ));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        if let Some(how) = self.host.host_ended() {
            return Err(format!(
                "the wasmtime-pooled host (pid {}) has ended ({how})",
                self.host.pid
            ));
        }
        self.host.kill();
        Err(format!(
            "the wasmtime-pooled host (pid {}) did not end the instance within {:?} \
             of its connection's shutdown (a guest blocked in a host call?): the host \
             was stopped, with its other instances",
            self.host.pid, INTERRUPT_GRACE
        ))
    }

    /// How the instance ended, once the host said so (or itself ended).
    pub fn ended(&self) -> Option<String> {
        if let Some(how) = self.host.host_ended() {
            return Some(format!(
                "the wasmtime-pooled host (pid {}) exited with {how}",
                self.host.pid
            ));
        }
        self.host.lines_about(&self.id)
    }

    /// What the host said about this instance, or its last lines.
    pub fn stderr_tail(&self) -> String {
        self.ended().unwrap_or_else(|| self.host.stderr_tail())
    }
}
