//! `wasmtime-pooled`: instances are stores in one long-lived host process.
//! Cold and warm runs answer for real; two instances live side by side in
//! one host process and answer independently; an instance that traps ends
//! alone and the host serves the next; a request that times out on a guest
//! that never yields interrupts that instance alone (epoch interruption,
//! compiled into the wasm module by the host) and the same host serves on,
//! while a guest blocked in a host call past the grace, or a `.cwasm`
//! without epoch interruption, stops the host; the host is gone with its
//! launcher.

use crate::common::*;
use lumos_runtimes::host::{Failure, Reply};
use lumos_runtimes::launch::{Launcher, Slot};
use lumos_runtimes::run::{Mode, Prepared};
use lumos_runtimes::{Job, Protocol, Runner, Runtime};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const RT: Runtime = Runtime::WasmtimePooled;

/// `image` (a file image) prepared, and its launcher on wasmtime-pooled
/// (its host starts with the first instance); the launcher runs from what
/// was prepared, so both are kept.
fn launcher(runner: &Runner, image: &std::path::Path) -> (Prepared, Arc<Launcher>) {
    let p = runner
        .prepare(&Job::from_opts(&runner.opts, &file_ref(image), RT, b""))
        .unwrap();
    let l = runner.launcher(&p, RT, &[]).unwrap();
    (p, l)
}

fn alive(pid: u32) -> bool {
    // A zombie is not alive: its state is Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn pooled_cold_and_warm_runs_answer_for_real() {
    let runner = Runner::new(opts()).unwrap();
    let f = fixtures();
    let body = br#"{"op":"echo","n":42}"#;
    // The .cwasm of an aot-wasmtime image, and a wasm module compiled once
    // when the host starts.
    for image in [&f.cwasm, &f.wasm] {
        let r = runner
            .cold_as(
                &Job::from_opts(&runner.opts, &file_ref(image), RT, body),
                Mode::ColdCached,
            )
            .unwrap();
        assert_eq!(r.errors, 0, "{}: {:?}", image.display(), r.error_samples);
        assert_eq!(r.runtime, RT);
        let want = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
        assert_eq!(r.response_sha256.as_deref(), Some(want.as_str()));
        let c = r.cold_start_ms.unwrap();
        assert!(c.first_response > 0.0 && c.ready > 0.0, "{c:?}");
        let e = r.cold_evidence.unwrap();
        // The host started before the timed instance, and it is recorded.
        let host = e.pool_host_start_ms.expect("the pool host's start");
        assert!(host > 0.0, "{host}");
        assert_eq!(r.instances.len(), 1);
    }
    let w = runner.run_warm(&file_ref(&f.cwasm), RT, body).unwrap();
    assert_eq!(w.errors, 0, "{:?}", w.error_samples);
    assert_eq!(w.latency_ms.unwrap().n, 20);
    assert_eq!(w.instances.len(), 1);
    assert!(w.phases_ms.is_some(), "the SDK's meta reaches the runner");
    // Storage calls go over the connection like any frame.
    let put = runner
        .run_warm(
            &file_ref(&f.cwasm),
            RT,
            br#"{"op":"put","key":"pooled","value":"v"}"#,
        )
        .unwrap();
    assert_eq!(put.errors, 0, "{:?}", put.error_samples);
}

#[test]
fn two_instances_share_one_host_process_and_answer_independently() {
    let runner = Runner::new(opts()).unwrap();
    let (p, l) = launcher(&runner, &fixtures().cwasm);
    let (mut a, mut b) = (Slot::new(l.clone()), Slot::new(l.clone()));
    a.ensure().unwrap();
    b.ensure().unwrap();
    let (pa, pb) = (a.workload_pid().unwrap(), b.workload_pid().unwrap());
    assert_eq!(pa, pb, "both instances live in the one host process");
    assert_ne!(a.instance_id(), b.instance_id());
    // A busy instance does not hold the other up: b answers while a sleeps.
    let a_done = Arc::new(AtomicBool::new(false));
    let done = a_done.clone();
    let sleeper = std::thread::spawn(move || {
        let o = a.call(br#"{"op":"sleep","ms":1500}"#);
        done.store(true, Ordering::SeqCst);
        (o, a)
    });
    std::thread::sleep(Duration::from_millis(100));
    let o = b.call(br#"{"op":"echo","who":"b"}"#);
    assert!(
        !a_done.load(Ordering::SeqCst),
        "b answered only after a's request"
    );
    match &o.result {
        Ok(Reply::Ok { body, .. }) => {
            assert_eq!(body, br#"{"op":"echo","who":"b"}"#)
        }
        other => panic!("b: {other:?}"),
    }
    let (oa, mut a) = sleeper.join().unwrap();
    assert!(oa.is_ok(), "{:?}", oa.result);
    // Each instance's usage is read from the host.
    assert!(a.usage().is_some());
    drop((a, b));
    assert!(alive(pa), "the host outlives its instances");
    drop(l);
    drop(p);
    assert!(
        eventually(Duration::from_secs(5), || !alive(pa)),
        "the host {pa} still runs after its launcher went"
    );
}

#[test]
fn an_instance_that_traps_ends_alone_and_the_host_serves_the_next() {
    let runner = Runner::new(opts()).unwrap();
    let (_p, l) = launcher(&runner, &fixtures().cwasm);
    let mut slot = Slot::new(l.clone());
    slot.ensure().unwrap();
    let host = slot.workload_pid().unwrap();
    let o = slot.call(br#"{"op":"panic"}"#);
    assert_eq!(o.error_class().as_deref(), Some("panic"), "{:?}", o.result);
    // The panic aborts into a trap: that store ends, the host lives on.
    assert_eq!(slot.replaced, 1);
    let o = slot.call(br#"{"op":"echo"}"#);
    assert!(o.is_ok(), "{:?}", o.result);
    assert_eq!(slot.workload_pid(), Some(host), "the same host serves");
    assert!(alive(host));
    assert_eq!(slot.instances.len(), 2);
    // A trap the SDK does not see (a guest exit mid-request) is an ended
    // instance, said with what the host saw, and the host lives on too.
    let o = slot.call(br#"{"op":"exit"}"#);
    let msg = format!("{:?}", o.result);
    assert_eq!(o.error_class().as_deref(), Some("exited"), "{msg}");
    assert!(msg.contains("exited with status 3"), "{msg}");
    assert!(slot.call(br#"{"op":"noop"}"#).is_ok());
    assert_eq!(slot.workload_pid(), Some(host));
}

#[test]
fn pooled_refuses_what_it_cannot_host_saying_why() {
    let runner = Runner::new(opts()).unwrap();
    let p = runner
        .prepare(&Job {
            protocol: Some(Protocol::Stdio),
            ..Job::from_opts(&runner.opts, &file_ref(&fixtures().wasm_stdio), RT, b"")
        })
        .unwrap();
    let e = runner
        .launcher(&p, RT, &[])
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("protocol lumos"), "{e}");
    let p = runner
        .prepare(&Job::from_opts(
            &runner.opts,
            &file_ref(&fixtures().native),
            RT,
            b"",
        ))
        .unwrap();
    let e = runner
        .launcher(&p, RT, &[])
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("neither a wasmtime .cwasm nor a wasm module"),
        "{e}"
    );
}

/// The fixture's `work` loop for 10^15 steps: a guest that never yields
/// (no host call) and does not end before the test does.
const FOREVER: &[u8] = br#"{"op":"work","n":1000000000}"#;

/// The host compiles the wasm module with epoch interruption.
#[test]
fn a_guest_that_never_yields_is_interrupted_alone_and_the_same_host_serves_on() {
    let mut o = opts();
    o.limits.request_timeout = Duration::from_millis(1500);
    let runner = Runner::new(o).unwrap();
    let (_p, l) = launcher(&runner, &fixtures().wasm);
    let (mut a, mut b) = (Slot::new(l.clone()), Slot::new(l.clone()));
    a.ensure().unwrap();
    b.ensure().unwrap();
    let host = a.workload_pid().unwrap();
    assert_eq!(b.workload_pid(), Some(host));
    let (first, b_id) = (
        a.instance_id().unwrap().to_string(),
        b.instance_id().unwrap().to_string(),
    );
    let spinner = std::thread::spawn(move || {
        let o = a.call(FOREVER);
        (o, a)
    });
    // The instance beside the spinning one keeps answering meanwhile.
    let mut answered = 0;
    while !spinner.is_finished() {
        let o = b.call(br#"{"op":"echo","who":"b"}"#);
        match &o.result {
            Ok(Reply::Ok { body, .. }) => assert_eq!(body, br#"{"op":"echo","who":"b"}"#),
            other => panic!("b beside a spinning instance: {other:?}"),
        }
        answered += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(answered > 0);
    let (o, mut a) = spinner.join().unwrap();
    assert_eq!(
        o.error_class().as_deref(),
        Some("timeout"),
        "{:?}",
        o.result
    );
    match &o.result {
        // The host's own words about that instance, quoted.
        Err(Failure::PooledTimeout(_, said)) => assert!(
            said.starts_with(&format!("lumos-pool[{first}]: interrupted")),
            "{said}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(alive(host), "the host lives on");
    assert_eq!(a.replaced, 1);
    // The same host process serves the next instance, and the one beside
    // it was never replaced.
    let o = a.call(br#"{"op":"echo"}"#);
    assert!(o.is_ok(), "{:?}", o.result);
    assert_eq!(a.workload_pid(), Some(host), "the same host serves");
    assert_ne!(a.instance_id(), Some(first.as_str()));
    assert!(b.call(br#"{"op":"noop"}"#).is_ok());
    assert_eq!(b.instance_id(), Some(b_id.as_str()));
    assert_eq!(b.replaced, 0);
    // The interrupted guest no longer burns the host's CPU: the host's CPU
    // time now grows by far less than the wall time while it is idle.
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{host}/stat")).unwrap();
        let f: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    let before = cpu();
    std::thread::sleep(Duration::from_secs(2));
    let ticks = cpu() - before;
    assert!(ticks < 20, "the host used {ticks} clock ticks in 2 s idle");

    // A bench row of such requests: each a timeout error, all served by the
    // one host (the launcher never started another).
    drop((a, b));
    let mut o = opts();
    o.limits.request_timeout = Duration::from_millis(500);
    o.warmup = 0;
    o.requests = 3;
    let r = Runner::new(o)
        .unwrap()
        .run_warm(&file_ref(&fixtures().wasm), RT, FOREVER)
        .unwrap();
    assert_eq!(r.errors, 3, "{:?}", r.error_samples);
    assert_eq!(
        r.errors_by_kind.get("timeout"),
        Some(&3),
        "{:?}",
        r.errors_by_kind
    );
    assert_eq!(r.instances.len(), 3);
    let samples = format!("{:?}", r.error_samples);
    assert!(
        samples.contains("interrupted") && !samples.contains("was stopped"),
        "{samples}"
    );
}

/// A `.cwasm` precompiled with epoch interruption (`lumos-runner
/// precompile --epoch-interruption`) loads into the host's epoch engine:
/// a guest that never yields is interrupted alone, the same host serves on.
#[test]
fn a_cwasm_precompiled_with_epoch_interruption_is_interrupted_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cwasm = dir.path().join("fixture.epoch.cwasm");
    let st = std::process::Command::new(runner_exe())
        .arg("precompile")
        .arg(&fixtures().wasm)
        .arg("-o")
        .arg(&cwasm)
        .arg("--epoch-interruption")
        .status()
        .unwrap();
    assert!(st.success());
    let mut o = opts();
    o.limits.request_timeout = Duration::from_millis(500);
    let runner = Runner::new(o).unwrap();
    let (_p, l) = launcher(&runner, &cwasm);
    let mut slot = Slot::new(l.clone());
    slot.ensure().unwrap();
    let host = slot.workload_pid().unwrap();
    let o = slot.call(FOREVER);
    match &o.result {
        Err(Failure::PooledTimeout(_, m)) => assert!(m.contains("interrupted"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(slot.call(br#"{"op":"noop"}"#).is_ok());
    assert_eq!(slot.workload_pid(), Some(host), "the same host serves");
}

/// A guest blocked in a host call (a long sleep) is at no epoch check: the
/// host does not end it within the grace, so the runner stops the host
/// (said in the error) and the next instance comes from a new one. A
/// `.cwasm` precompiled without epoch interruption (the fixture's, as an
/// `aot-wasmtime` image's) cannot be interrupted at all: its host is
/// stopped at once.
#[test]
fn a_timeout_the_host_cannot_interrupt_stops_the_host() {
    let f = fixtures();
    for (image, body, said) in [
        (
            &f.wasm,
            &br#"{"op":"sleep","ms":600000}"#[..],
            "did not end the instance within",
        ),
        (&f.cwasm, FOREVER, "precompiled without epoch interruption"),
    ] {
        let mut o = opts();
        o.limits.request_timeout = Duration::from_millis(500);
        let runner = Runner::new(o).unwrap();
        let (_p, l) = launcher(&runner, image);
        let mut slot = Slot::new(l.clone());
        slot.ensure().unwrap();
        let host = slot.workload_pid().unwrap();
        let o = slot.call(body);
        match &o.result {
            Err(Failure::PooledTimeout(_, m)) => {
                assert!(m.contains(said) && m.contains("was stopped"), "{m}")
            }
            other => panic!("{}: {other:?}", image.display()),
        }
        assert!(eventually(Duration::from_secs(5), || !alive(host)));
        assert!(slot.call(br#"{"op":"noop"}"#).is_ok());
        assert_ne!(slot.workload_pid(), Some(host), "a new host serves");
    }
}
