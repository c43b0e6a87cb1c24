//! Load: closed and open loop at real concurrency; every request is
//! answered or counted as an error, none is lost.

use crate::common::*;
use lumos_runtimes::{Arrival, LoadSpec, Runner, Runtime};
use std::time::Duration;

#[test]
fn two_hundred_concurrent_requests_lose_none() {
    let f = fixtures();
    let mut o = opts();
    o.limits.memory_bytes = Some(64 << 20);
    let runner = Runner::new(o).unwrap();
    let spec = LoadSpec {
        concurrency: vec![200],
        arrival: Arrival::Closed,
        requests: Some(400),
        duration: Duration::from_secs(120),
        ..Default::default()
    };
    let r = runner
        .run_load(
            &file_ref(&f.cwasm),
            Runtime::WasmtimeAot,
            br#"{"op":"sleep","ms":5}"#,
            &spec,
        )
        .unwrap();
    let lv = &r.load.as_ref().unwrap()[0];
    assert_eq!(lv.concurrency, 200);
    assert_eq!(lv.sent, 400);
    assert_eq!(lv.ok + lv.errors, lv.sent, "{lv:?}");
    assert_eq!(lv.errors, 0, "{:?}", lv.errors_by_kind);
    assert_eq!(lv.instances_started, 200);
    assert_eq!(lv.latency_ms.n, 400);
    assert!(lv.latency_ms.min >= 5.0, "{:?}", lv.latency_ms);
    assert!(lv.throughput_rps > 0.0);
}

#[test]
fn errors_and_timeouts_under_load_are_counted_not_dropped() {
    let f = fixtures();
    let mut o = opts();
    o.limits.request_timeout = Duration::from_millis(300);
    let runner = Runner::new(o).unwrap();
    let spec = LoadSpec {
        concurrency: vec![4],
        arrival: Arrival::Closed,
        requests: Some(12),
        duration: Duration::from_secs(60),
        ..Default::default()
    };
    let r = runner
        .run_load(
            &file_ref(&f.wasm),
            Runtime::WasmiInterp,
            br#"{"op":"hang"}"#,
            &spec,
        )
        .unwrap();
    let lv = &r.load.as_ref().unwrap()[0];
    assert_eq!(lv.sent, 12);
    assert_eq!(lv.ok, 0);
    assert_eq!(lv.errors, 12);
    assert_eq!(lv.timeouts, 12);
    assert_eq!(lv.instances_replaced, 12);
}

#[test]
fn open_loop_measures_from_the_intended_start() {
    let f = fixtures();
    let runner = Runner::new(opts()).unwrap();
    // One instance, 10 ms of work per request, 200 requests per second offered:
    // it can serve 100/s, so requests queue and their latency grows well past
    // 10 ms. A coordinated-omission client would report about 10 ms.
    let spec = LoadSpec {
        concurrency: vec![1],
        arrival: Arrival::Constant,
        rate: Some(200.0),
        requests: Some(100),
        duration: Duration::from_millis(500),
        ..Default::default()
    };
    let r = runner
        .run_load(
            &file_ref(&f.cwasm),
            Runtime::WasmtimeAot,
            br#"{"op":"sleep","ms":10}"#,
            &spec,
        )
        .unwrap();
    let lv = &r.load.as_ref().unwrap()[0];
    assert_eq!(
        lv.mode,
        lumos_runtimes::measure::load::LoadMode::OpenConstant
    );
    assert_eq!(lv.ok + lv.errors, 100);
    assert_eq!(lv.errors, 0);
    // The last request was intended at 495 ms and cannot finish before 100 x 10 ms = 1 s.
    assert!(
        lv.latency_ms.max >= 450.0,
        "max {} ms: queueing time was omitted",
        lv.latency_ms.max
    );
    assert!(lv.latency_ms.p50 > 100.0, "{:?}", lv.latency_ms);
    assert!(lv.throughput_rps <= 100.0 * 1.05, "{}", lv.throughput_rps);

    // Under capacity the latency is the service time.
    for arrival in [Arrival::Poisson, Arrival::Bursty { burst: 4 }] {
        let spec = LoadSpec {
            concurrency: vec![4],
            arrival,
            rate: Some(40.0),
            requests: Some(40),
            duration: Duration::from_secs(1),
            ..Default::default()
        };
        let r = runner
            .run_load(
                &file_ref(&f.cwasm),
                Runtime::WasmtimeAot,
                br#"{"op":"sleep","ms":2}"#,
                &spec,
            )
            .unwrap();
        let lv = &r.load.as_ref().unwrap()[0];
        assert_eq!(lv.ok, 40, "{arrival:?}: {:?}", lv.errors_by_kind);
        assert!(lv.latency_ms.min >= 2.0, "{arrival:?}");
    }
}

#[test]
fn closed_loop_levels_on_native() {
    require("runc");
    let f = fixtures();
    let runner = Runner::new(opts()).unwrap();
    let spec = LoadSpec {
        concurrency: vec![1, 10],
        arrival: Arrival::Closed,
        requests: Some(50),
        duration: Duration::from_secs(60),
        ..Default::default()
    };
    let r = runner
        .run_load(
            &file_ref(&f.native),
            Runtime::Native,
            br#"{"op":"noop"}"#,
            &spec,
        )
        .unwrap();
    let levels = r.load.unwrap();
    assert_eq!(levels.len(), 2);
    for lv in &levels {
        assert_eq!(lv.ok, 50, "{lv:?}");
        assert_eq!(lv.instances_started, lv.concurrency);
    }
    assert_eq!(r.sandbox, Some(lumos_runtimes::Sandbox::Runc));
}

/// Processes (not zombies) whose real uid is `uid`.
fn processes_of(uid: u32) -> Vec<u32> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        };
        if field("Uid:").as_deref() == Some(&uid.to_string())
            && field("State:").as_deref() != Some("Z")
        {
            out.push(pid);
        }
    }
    out
}

/// More concurrency than the process limit allows (issue 7, item 5): the
/// level used to panic in `thread::scope` ("failed to spawn thread") while
/// the other workers waited on a barrier that could never open, and the
/// runner hung. It must end by itself with one line naming how many client
/// threads it started and the OS error, and a non-zero exit.
///
/// RLIMIT_NPROC counts a user's threads and processes; root is exempt from
/// it, so when run as root the runner is started as an unused uid through
/// `setpriv`, with the limit set by `prlimit`.
#[test]
fn a_process_limit_ends_the_level_with_one_error_line_not_a_hang() {
    let f = fixtures();
    let prlimit = require("prlimit");
    let uid = 47_000 + std::process::id() % 1000;
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut c = std::process::Command::new(require("setpriv"));
        c.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={uid}"))
            .arg("--clear-groups")
            .arg(prlimit);
        c
    } else {
        std::process::Command::new(prlimit)
    };
    cmd.arg("--nproc=100")
        .arg(runner_exe())
        .arg("load")
        .arg(file_ref(&f.wasm))
        .args(["-r", "wasmi-interp", "--concurrency", "1000"])
        .args(["--level-requests", "2000", "--body", r#"{"op":"noop"}"#])
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut s);
        s
    });
    // A hang detector only (it took about 2 s here): nothing is timed.
    let finished = eventually(Duration::from_secs(180), || {
        child.try_wait().unwrap().is_some()
    });
    if !finished {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert!(finished, "the runner hung under the process limit:\n{err}");
    assert!(!status.success(), "{err}");
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert_eq!(lines.len(), 1, "not one line:\n{err}");
    let line = lines[0];
    assert!(
        line.starts_with("error: load at concurrency 1000 stopped after starting "),
        "{line}"
    );
    assert!(line.contains("(os error 11)"), "{line}");
    if unsafe { libc::geteuid() } == 0 {
        // The instances that did start are gone too.
        assert!(
            eventually(Duration::from_secs(30), || processes_of(uid).is_empty()),
            "left behind: {:?}",
            processes_of(uid)
        );
    }
}
