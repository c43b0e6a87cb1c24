//! `wasmtime-pooled`: instances are stores in one long-lived host process.
//! Cold and warm runs answer for real; two instances live side by side in
//! one host process and answer independently; an instance that traps ends
//! alone and the host serves the next; the host is gone with its launcher.

use crate::common::*;
use lumos_runtimes::launch::Slot;
use lumos_runtimes::run::Mode;
use lumos_runtimes::{Job, Protocol, Runner, Runtime};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const RT: Runtime = Runtime::WasmtimePooled;

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
    let p = runner
        .prepare(&Job::from_opts(
            &runner.opts,
            &file_ref(&fixtures().cwasm),
            RT,
            b"",
        ))
        .unwrap();
    let l = runner.launcher(&p, RT, &[]).unwrap();
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
        Ok(lumos_runtimes::host::Reply::Ok { body, .. }) => {
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
    let p = runner
        .prepare(&Job::from_opts(
            &runner.opts,
            &file_ref(&fixtures().cwasm),
            RT,
            b"",
        ))
        .unwrap();
    let l = runner.launcher(&p, RT, &[]).unwrap();
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
