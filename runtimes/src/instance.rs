//! One instance process: spawned with piped stdin/stdout/stderr in its own
//! process group, registered with the guard, measured from /proc and wait4,
//! and stopped without leaving anything behind.

use crate::guard::{Guard, Step};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to find the process that runs the function itself (as opposed to a
/// wrapper such as `runc run` or `unshare`).
#[derive(Debug, Clone)]
pub enum Workload {
    /// The spawned process is the function.
    Child,
    /// The deepest single descendant of the spawned process (unshare + chroot).
    Descendant,
    /// Ask the container runtime: `argv... state ID` prints `{"pid":N}`.
    ContainerState { argv: Vec<String>, id: String },
    /// The pid a container manager wrote to this file (`ctr run --pid-file`).
    PidFile(PathBuf),
}

/// What to spawn.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: PathBuf,
    /// argv[0] when it is not `program`.
    pub arg0: Option<OsString>,
    pub args: Vec<OsString>,
    /// The environment is cleared and only these are set.
    pub env: Vec<(OsString, OsString)>,
    pub cwd: Option<PathBuf>,
    /// RLIMIT_AS for the process (sandboxes without a cgroup limit).
    pub rlimit_as: Option<u64>,
    /// A cgroup's `cgroup.procs` the child joins before it execs
    /// (crate::cgroup: the CPU limit of sandboxes without a runtime's).
    pub cgroup_procs: Option<PathBuf>,
    /// Steps that stop it beyond killing its process group (e.g. `runc delete -f`).
    pub stop: Vec<Step>,
    pub workload: Workload,
    /// Copy the instance's stderr to ours as well as keeping its tail.
    pub stderr_passthrough: bool,
    /// A network namespace (`/run/netns/NAME`, crate::netns) the child
    /// joins before it execs; None: the runner's.
    pub netns: Option<PathBuf>,
}

/// CPU time and peak resident set size of the function's process.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    pub cpu_ms: f64,
    pub peak_rss_bytes: u64,
}

/// How an instance ended.
#[derive(Debug, Clone, Default)]
pub struct Exit {
    /// Exit status (None: killed by us or by a signal).
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// From wait4 (the spawned process and its reaped descendants).
    pub rusage: Option<Usage>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh instance id: never reused within a machine's uptime.
pub fn new_instance_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "lumos-{}-{}-{:x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        now.as_nanos() & 0xffff_ffff_ffff
    )
}

const STDERR_TAIL: usize = 16 * 1024;

/// A running instance process.
pub struct Process {
    pub id: String,
    child: Child,
    pgid: i32,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    stderr_done: Arc<std::sync::atomic::AtomicBool>,
    stderr_thread: Option<std::thread::JoinHandle<()>>,
    stop: Vec<Step>,
    workload: Workload,
    workload_pid: Option<u32>,
    guard: Option<(Arc<Guard>, u64)>,
    exit: Option<Exit>,
}

/// `cmd.spawn()`, retried for a while when exec says ETXTBSY ("text file
/// busy"): a program unpacked a moment ago can still be open for writing in
/// a child another thread of this process forked during the write and has
/// not exec'd yet (its CLOEXEC descriptors close only at its exec; children
/// with `pre_exec` work such as setns or cgroup joins take longer to get
/// there). The same race cargo retries when it runs a fresh build script.
fn spawn_retrying_busy(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut pause = Duration::from_millis(1);
    loop {
        match cmd.spawn() {
            Err(e)
                if e.raw_os_error() == Some(libc::ETXTBSY) && Instant::now() + pause < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            r => return r,
        }
    }
}

impl Process {
    /// Spawns; returns once the program has been exec'd (std reports exec
    /// failures through a CLOEXEC pipe, so `spawn` returning means it runs).
    pub fn spawn(id: String, spec: &Spec, guard: Option<&Arc<Guard>>) -> std::io::Result<Process> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(a) = &spec.arg0 {
            cmd.arg0(a);
        }
        if let Some(d) = &spec.cwd {
            cmd.current_dir(d);
        }
        if let Some(limit) = spec.rlimit_as {
            // SAFETY: setrlimit is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    let r = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_AS, &r) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        if let Some(procs) = &spec.cgroup_procs {
            let path = std::ffi::CString::new(procs.as_os_str().as_encoded_bytes())
                .map_err(std::io::Error::other)?;
            // SAFETY: open, write and close are async-signal-safe; the path was
            // made before the fork. Writing "0" moves the writing process.
            unsafe {
                cmd.pre_exec(move || {
                    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                    let e = std::io::Error::last_os_error();
                    libc::close(fd);
                    if n != 1 {
                        return Err(e);
                    }
                    Ok(())
                });
            }
        }
        // Open until the child has exec'd (the descriptor is close-on-exec).
        let netns = match &spec.netns {
            Some(path) => Some(std::fs::File::open(path).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("network namespace {}: {e}", path.display()),
                )
            })?),
            None => None,
        };
        if let Some(f) = &netns {
            use std::os::fd::AsRawFd;
            let fd = f.as_raw_fd();
            // SAFETY: setns(2) is async-signal-safe; the descriptor was
            // opened before the fork and stays open until spawn returns.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = spawn_retrying_busy(&mut cmd)?;
        drop(netns);
        let pgid = child.id() as i32;
        let mut steps = vec![Step::KillGroup(pgid)];
        steps.extend(spec.stop.iter().cloned());
        let guard = guard.map(|g| (g.clone(), g.add(steps)));
        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(1024)));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let tail = stderr.clone();
        let stderr_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = stderr_done.clone();
        let pass = spec.stderr_passthrough;
        let stderr_thread = std::thread::Builder::new()
            .name(format!("stderr-{id}"))
            .spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match err_pipe.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if pass {
                                use std::io::Write;
                                let _ = std::io::stderr().write_all(&buf[..n]);
                            }
                            let mut t = tail.lock().unwrap();
                            t.extend(&buf[..n]);
                            let over = t.len().saturating_sub(STDERR_TAIL);
                            t.drain(..over);
                        }
                    }
                }
                done.store(true, Ordering::Release);
            })?;
        let workload_pid = matches!(spec.workload, Workload::Child).then_some(child.id());
        Ok(Process {
            id,
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            child,
            pgid,
            stderr,
            stderr_done,
            stderr_thread: Some(stderr_thread),
            stop: spec.stop.clone(),
            workload: spec.workload.clone(),
            workload_pid,
            guard,
            exit: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last bytes the instance wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        // Once the process has exited, let the reader drain what it wrote just before
        // dying (its stderr reaches EOF when the last writer is gone).
        if self.exit.is_some() {
            let until = Instant::now() + Duration::from_millis(200);
            while !self.stderr_done.load(Ordering::Acquire) && Instant::now() < until {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let t = self.stderr.lock().unwrap();
        let (a, b) = t.as_slices();
        let mut v = a.to_vec();
        v.extend_from_slice(b);
        String::from_utf8_lossy(&v).trim().to_string()
    }

    /// Has the spawned process exited? (Reaps it if so.)
    pub fn exited(&mut self) -> Option<&Exit> {
        if self.exit.is_none() {
            if let Some(e) = wait4(self.child.id() as i32, false) {
                self.exit = Some(e);
            }
        }
        self.exit.as_ref()
    }

    /// The pid of the function's own process, once it exists.
    pub fn workload_pid(&mut self) -> Option<u32> {
        if self.workload_pid.is_none() {
            self.workload_pid = match &self.workload {
                Workload::Child => Some(self.child.id()),
                Workload::Descendant => deepest_descendant(self.child.id()),
                Workload::ContainerState { argv, id } => container_pid(argv, id),
                Workload::PidFile(p) => std::fs::read_to_string(p)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .filter(|p: &u32| *p > 0),
            };
        }
        self.workload_pid
    }

    /// CPU time and peak RSS of the function's process so far, from /proc.
    pub fn usage(&mut self) -> Option<Usage> {
        let pid = self.workload_pid()?;
        proc_usage(pid)
    }

    /// Waits for the process to exit on its own for up to `grace`, then kills
    /// it and runs the stop steps. Idempotent.
    pub fn stop(&mut self, grace: Duration) -> Exit {
        drop(self.stdin.take());
        let pid = self.child.id() as i32;
        let deadline = Instant::now() + grace;
        while self.exit.is_none() && Instant::now() < deadline {
            if let Some(e) = wait4(pid, false) {
                self.exit = Some(e);
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        crate::guard::run_steps(&[Step::KillGroup(self.pgid)]);
        if self.exit.is_none() {
            self.exit = wait4(pid, true);
        }
        // Container runtimes: the container may outlive the runtime process.
        crate::guard::run_steps(&self.stop);
        if let Some((g, t)) = self.guard.take() {
            g.done(t);
        }
        drop(self.stdout.take());
        if let Some(h) = self.stderr_thread.take() {
            let _ = h.join();
        }
        self.exit.clone().unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.guard.is_some() || self.exit.is_none() {
            self.stop(Duration::ZERO);
        }
    }
}

fn wait4(pid: i32, block: bool) -> Option<Exit> {
    let mut status: libc::c_int = 0;
    // SAFETY: zeroed rusage is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: plain wait4 on our own child.
        let r = unsafe {
            libc::wait4(
                pid,
                &mut status,
                if block { 0 } else { libc::WNOHANG },
                &mut ru,
            )
        };
        if r == pid {
            let cpu = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
            let rusage = Some(Usage {
                cpu_ms: cpu,
                peak_rss_bytes: ru.ru_maxrss as u64 * 1024,
            });
            let (code, signal) = if libc::WIFEXITED(status) {
                (Some(libc::WEXITSTATUS(status)), None)
            } else if libc::WIFSIGNALED(status) {
                (None, Some(libc::WTERMSIG(status)))
            } else {
                (None, None)
            };
            return Some(Exit {
                code,
                signal,
                rusage,
            });
        }
        if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if r < 0 {
            // Already reaped (ECHILD): report an unknown exit.
            return Some(Exit::default());
        }
        return None;
    }
}

fn tv_ms(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 * 1e3 + tv.tv_usec as f64 / 1e3
}

/// Proportional set size of a live process (`Pss` of /proc/PID/smaps_rollup):
/// its private pages plus its share of pages mapped by others too (the
/// runner's code, shared libraries). Summed over instances it is the memory
/// they really take, where summed RSS counts shared pages once per instance.
pub fn proc_pss_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Resident set size of a live process now (`VmRSS`).
pub fn proc_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// CPU time (schedstat ns, else stat ticks) and VmHWM of a live process.
pub fn proc_usage(pid: u32) -> Option<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that closes the command name: state is field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf is always safe.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let mut cpu_ms = ticks * 1e3 / hz;
    // All threads: /proc/PID/schedstat is the main thread only, so sum the tasks.
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        let mut ns = 0u64;
        let mut ok = false;
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                if let Some(v) = s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    ns += v;
                    ok = true;
                }
            }
        }
        // schedstat counts only live threads; keep the larger of the two views.
        if ok && ns as f64 / 1e6 > cpu_ms {
            cpu_ms = ns as f64 / 1e6;
        }
    }
    Some(Usage {
        cpu_ms,
        peak_rss_bytes: hwm_kb * 1024,
    })
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = vec![];
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}

fn deepest_descendant(pid: u32) -> Option<u32> {
    let mut cur = pid;
    let mut depth = 0;
    loop {
        let c = children_of(cur);
        match c.as_slice() {
            [one] => {
                cur = *one;
                depth += 1;
            }
            _ => break,
        }
    }
    (depth > 0).then_some(cur)
}

fn container_pid(argv: &[String], id: &str) -> Option<u32> {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .arg("state")
        .arg(id)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get("pid")?.as_u64().map(|p| p as u32).filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pss_of_a_live_process_is_positive_and_at_most_its_rss() {
        let me = std::process::id();
        // Touch 8 MiB of private memory so there is something to count.
        let block = vec![1u8; 8 << 20];
        let pss = proc_pss_bytes(me).expect("smaps_rollup readable");
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let rss_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap();
        assert!(pss >= 8 << 20, "pss {pss} below the 8 MiB just touched");
        assert!(
            pss <= rss_kb * 1024 + (1 << 20),
            "pss {pss} > rss {rss_kb} kB"
        );
        assert_eq!(block.iter().map(|&b| b as usize).sum::<usize>(), 8 << 20);
        assert_eq!(proc_pss_bytes(u32::MAX), None);
    }
}
