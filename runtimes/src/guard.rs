//! The guard: a small process (`lumos-runner guard`) that outlives the runner
//! and cleans up what the runner started if the runner dies, even by SIGKILL.
//!
//! The runner writes one JSON line per event to the guard's stdin:
//! `{"add":TOKEN,"argv":[[...],[...]]}` registers the commands that stop an
//! instance (e.g. `kill -9 -PGID`, `runc kill ID KILL`, `runc delete -f ID`),
//! `{"done":TOKEN}` forgets them. When stdin reaches EOF (the runner exited,
//! however it exited) the guard runs every command still registered, in order,
//! and then removes the directories registered (throwaway caches, bundles).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A cleanup step: either a signal to a process group or a command to run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub enum Step {
    /// SIGKILL to the process group `pgid`.
    KillGroup(i32),
    /// Run this command (argv) and wait for it.
    Run(Vec<String>),
    /// Remove this directory tree (after every other step of the guard).
    RemoveDir(std::path::PathBuf),
    /// Remove this (empty) cgroup with rmdir(2), once its processes exit.
    RemoveCgroup(std::path::PathBuf),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Msg {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    add: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    done: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    steps: Vec<Step>,
}

/// The runner's handle on its guard.
pub struct Guard {
    child: Mutex<(Child, Option<ChildStdin>)>,
    next: AtomicU64,
}

impl Guard {
    /// Starts `[prefix…] exe guard` in its own session.
    pub fn start(exe: &Path, prefix: &[String]) -> std::io::Result<Guard> {
        use std::os::unix::process::CommandExt;
        let mut cmd = match prefix.split_first() {
            None => Command::new(exe),
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
        };
        cmd.arg("guard")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        Ok(Guard {
            child: Mutex::new((child, Some(stdin))),
            next: AtomicU64::new(1),
        })
    }

    fn send(&self, m: &Msg) {
        let mut line = serde_json::to_vec(m).expect("guard message serialises");
        line.push(b'\n');
        let mut g = self.child.lock().unwrap();
        if let Some(w) = g.1.as_mut() {
            if let Err(e) = w.write_all(&line) {
                tracing::warn!("guard: {e}");
            }
        }
    }

    /// Registers the steps that stop one instance; returns a token for `done`.
    pub fn add(&self, steps: Vec<Step>) -> u64 {
        let t = self.next.fetch_add(1, Ordering::Relaxed);
        self.send(&Msg {
            add: Some(t),
            done: None,
            steps,
        });
        t
    }

    pub fn done(&self, token: u64) {
        self.send(&Msg {
            add: None,
            done: Some(token),
            steps: vec![],
        });
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // EOF tells the guard to run what is left (nothing, after orderly stops) and exit.
        let mut g = self.child.lock().unwrap();
        drop(g.1.take());
        let _ = g.0.wait();
    }
}

/// Runs a list of steps now (also used by the runner for orderly stops).
pub fn run_steps(steps: &[Step]) {
    for s in steps {
        match s {
            Step::KillGroup(pgid) => {
                // SAFETY: plain kill(2).
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
            Step::Run(argv) if !argv.is_empty() => {
                let _ = Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            Step::Run(_) => {}
            Step::RemoveDir(d) => {
                let _ = std::fs::remove_dir_all(d);
            }
            Step::RemoveCgroup(d) => crate::cgroup::remove(d),
        }
    }
}

/// The guard process's main loop (`lumos-runner guard`).
pub fn guard_main() -> i32 {
    // Ignore the signals a terminal sends to the runner's group.
    // SAFETY: setting dispositions to SIG_IGN.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let mut live: BTreeMap<u64, Vec<Step>> = BTreeMap::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Ok(m) = serde_json::from_str::<Msg>(&line) else {
            continue;
        };
        if let Some(t) = m.add {
            live.insert(t, m.steps);
        } else if let Some(t) = m.done {
            live.remove(&t);
        }
    }
    // Instances first (a container may still use a rootfs), directories last.
    let (dirs, other): (Vec<Step>, Vec<Step>) = live
        .into_values()
        .flatten()
        .partition(|s| matches!(s, Step::RemoveDir(_)));
    run_steps(&other);
    run_steps(&dirs);
    0
}

/// A temporary directory that the guard removes if the runner dies before
/// it is dropped (a SIGTERM or SIGKILL skips destructors).
pub struct GuardedDir {
    dir: Option<tempfile::TempDir>,
    guard: std::sync::Arc<Guard>,
    token: u64,
}

impl GuardedDir {
    /// A new directory `<tmp>/<prefix>XXXXXX`, registered with `guard`.
    pub fn new(prefix: &str, guard: &std::sync::Arc<Guard>) -> std::io::Result<GuardedDir> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
        let token = guard.add(vec![Step::RemoveDir(dir.path().to_path_buf())]);
        Ok(GuardedDir {
            dir: Some(dir),
            guard: guard.clone(),
            token,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until dropped").path()
    }
}

impl Drop for GuardedDir {
    fn drop(&mut self) {
        drop(self.dir.take());
        self.guard.done(self.token);
    }
}
