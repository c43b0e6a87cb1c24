//! `--cpus`: the instance's cgroup really holds the quota while it runs
//! (read back through /proc/PID/cgroup), and the quota bites: a CPU-bound
//! request under `--cpus 0.5` takes at least about twice its CPU time in
//! wall time (the instance gets at most half a CPU-second per second), which
//! holds however busy the machine is. Beside it, the same requests without a
//! limit, printed for the record: on a shared 2-core machine a busy
//! neighbour slows both, so the limited/unlimited ratio is a benchmark
//! figure (scripts/bench), not an assertion. The cgroup Lumos made is gone
//! after the instance.

use crate::common::*;
use lumos_runtimes::launch::Slot;
use lumos_runtimes::run::Prepared;
use lumos_runtimes::{Job, Runner, Runtime, Sandbox};
use std::path::PathBuf;
use std::time::Duration;

/// The CPU cgroup directory of `pid` and its quota (us per 100 ms period).
fn cpu_quota(pid: u32) -> (PathBuf, Option<u64>) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        if ctrls.split(',').any(|c| c == "cpu") {
            let dir = PathBuf::from(format!("/sys/fs/cgroup/cpu{path}"));
            let q = std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).unwrap();
            let q: i64 = q.trim().parse().unwrap();
            return (dir, (q > 0).then_some(q as u64));
        }
    }
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("0::") {
            let dir = PathBuf::from(format!("/sys/fs/cgroup{path}"));
            let m = std::fs::read_to_string(dir.join("cpu.max")).unwrap_or_default();
            let q = m.split_whitespace().next().and_then(|q| q.parse().ok());
            return (dir, q);
        }
    }
    panic!("pid {pid}: no cpu cgroup in {text}");
}

fn median_s(v: &[Duration]) -> f64 {
    median(&v.iter().map(Duration::as_secs_f64).collect::<Vec<_>>())
}

/// CPU time (user + system) `pid` has used, seconds (/proc/PID/stat).
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // SAFETY: sysconf is a plain query.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// One instance slot of `rt` under `cpus`, with the runner and the prepared
/// image it runs from (they own the unpacked rootfs: kept alive beside it).
fn slot(rt: Runtime, sandbox: Option<Sandbox>, cpus: Option<f64>) -> (Runner, Prepared, Slot) {
    let f = fixtures();
    let img = match rt {
        Runtime::Native => file_ref(&f.native),
        Runtime::WasmtimeAot => file_ref(&f.cwasm),
        _ => file_ref(&f.wasm),
    };
    let mut o = opts();
    o.sandbox = sandbox;
    o.limits.cpus = cpus;
    o.limits.request_timeout = Duration::from_secs(60);
    let runner = Runner::new(o).unwrap();
    let p = runner
        .prepare(&Job::from_opts(&runner.opts, &img, rt, b""))
        .unwrap();
    let s = Slot::new(runner.launcher(&p, rt, &[]).unwrap());
    (runner, p, s)
}

fn check(rt: Runtime, sandbox: Option<Sandbox>, work: u64) {
    let name = format!("{rt} {sandbox:?}");
    let (_r1, _p1, mut free) = slot(rt, sandbox, None);
    let (_r2, _p2, mut half) = slot(rt, sandbox, Some(0.5));
    let body = format!(r#"{{"op":"work","n":{work}}}"#);
    let (mut tf, mut th) = (vec![], vec![]);
    let (mut cpu_half, mut pid_half) = (0.0, None);
    // Interleaved, so both see the same neighbours; the first call of each warms up.
    for i in 0..6 {
        let a = free.call(body.as_bytes());
        assert!(a.is_ok(), "{name}: unlimited: {:?}", a.result);
        if i == 1 {
            let pid = half.workload_pid().expect("limited instance pid");
            cpu_half = -cpu_s(pid);
            pid_half = Some(pid);
        }
        let b = half.call(body.as_bytes());
        assert!(b.is_ok(), "{name}: 0.5 CPU: {:?}", b.result);
        if i > 0 {
            tf.push(a.latency);
            th.push(b.latency);
        }
    }
    let pid = pid_half.unwrap();
    assert_eq!(
        half.workload_pid(),
        Some(pid),
        "{name}: the instance was replaced"
    );
    cpu_half += cpu_s(pid);
    let (dir, quota) = cpu_quota(pid);
    assert_eq!(
        quota,
        Some(50_000),
        "{name}: cgroup {} of the limited instance",
        dir.display()
    );
    let fpid = free.workload_pid().expect("unlimited instance pid");
    assert_ne!(
        cpu_quota(fpid).1,
        Some(50_000),
        "{name}: the unlimited instance is limited"
    );
    let wall_half: f64 = th.iter().map(Duration::as_secs_f64).sum();
    let (mf, mh) = (median_s(&tf), median_s(&th));
    eprintln!(
        "{name}: median unlimited {mf:.4} s, 0.5 CPU {mh:.4} s (ratio {:.2}); \
         limited: {wall_half:.3} s wall for {cpu_half:.3} s CPU",
        mh / mf
    );
    assert!(
        cpu_half > 0.5,
        "{name}: the requests used {cpu_half:.3} s CPU: too little work to see a quota"
    );
    // Under the quota a request gets at most 0.5 CPU-s per wall second plus
    // one period's quota (50 ms) it may find unused when it starts, so over
    // k requests: wall >= 2 x (CPU - k x 50 ms), less 20 ms of clock ticks.
    let k = th.len() as f64;
    let bound = 2.0 * (cpu_half - k * 0.05) - 0.02;
    assert!(
        wall_half >= bound,
        "{name}: {wall_half:.3} s wall for {cpu_half:.3} s CPU under a 0.5-CPU quota \
         (at least {bound:.3} s)"
    );
    free.close(Duration::ZERO);
    half.close(Duration::ZERO);
    if sandbox != Some(Sandbox::Runc) {
        assert!(
            !dir.exists(),
            "{name}: cgroup {} left behind",
            dir.display()
        );
    }
}

#[test]
fn half_a_cpu_native_process() {
    check(Runtime::Native, Some(Sandbox::Process), 150);
}

#[test]
fn half_a_cpu_native_runc() {
    require("runc");
    check(Runtime::Native, Some(Sandbox::Runc), 150);
}

#[test]
fn half_a_cpu_wasmtime_aot() {
    check(Runtime::WasmtimeAot, None, 200);
}
