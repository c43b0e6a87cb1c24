//! A long-running child process started by Lumos: it writes its log to a
//! file, is ready when that log says so, dies with us, and is stopped by PID.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running child process and its log file.
pub struct Service {
    program: String,
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Spawns `cmd` with stdout and stderr into `log` (created), stdin
    /// closed, and `PR_SET_PDEATHSIG` so it never outlives us.
    pub fn spawn(mut cmd: Command, log: &Path) -> crate::Result<Service> {
        let program = Path::new(cmd.get_program())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let f = std::fs::File::create(log).map_err(|e| crate::Error::io("create log", log, e))?;
        let f2 = f
            .try_clone()
            .map_err(|e| crate::Error::io("create log", log, e))?;
        cmd.stdin(Stdio::null()).stdout(f).stderr(f2);
        // SAFETY: prctl is async-signal-safe; the child dies when we do.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| crate::Error::io("start", PathBuf::from(cmd.get_program()), e))?;
        Ok(Service {
            program,
            child,
            log: log.to_path_buf(),
        })
    }

    /// Waits until the log holds `marker`, then returns what follows it up to
    /// the end of that line; fails when the process exits or `limit` passes.
    pub fn wait_for_log(&mut self, marker: &str, limit: Duration) -> crate::Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.log();
            if let Some(i) = text.find(marker) {
                let rest = &text[i + marker.len()..];
                return Ok(rest.lines().next().unwrap_or("").to_string());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(crate::Error::Exited {
                    program: self.program.clone(),
                    status,
                    log: tail(&text),
                });
            }
            if Instant::now() >= deadline {
                return Err(crate::Error::NotReady {
                    program: self.program.clone(),
                    secs: limit.as_secs(),
                    wanted: marker.to_string(),
                    log: tail(&text),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process by PID: SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's PID, which we have not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let end = Instant::now() + grace;
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(1));
    }
}

/// The last lines of a log, on one line, for an error message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    if lines.is_empty() {
        return "(empty)".to_string();
    }
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
