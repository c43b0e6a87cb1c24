//! Runaway functions: a panic, a hang past the time limit, an allocation
//! past the memory limit, garbage on stdout, an exit. Each is an error for
//! that request only; the instance is replaced and serving goes on.

mod common;
use common::*;
use lumos_runtimes::host::{Failure, Reply};
use lumos_runtimes::launch::Slot;
use lumos_runtimes::{Runner, Runtime, Sandbox};
use std::time::Duration;

fn check_runtime(rt: Runtime, sandbox: Option<Sandbox>) {
    let f = fixtures();
    let img = match rt {
        Runtime::Native => file_ref(&f.native),
        Runtime::WasmtimeAot => file_ref(&f.cwasm),
        _ => file_ref(&f.wasm),
    };
    let mut o = opts();
    o.sandbox = sandbox;
    o.limits.request_timeout = Duration::from_millis(1500);
    o.limits.memory_bytes = Some(64 << 20);
    let runner = Runner::new(o).unwrap();
    let p = runner.prepare(&img).unwrap();
    let l = runner.launcher(&p, rt).unwrap();
    let mut slot = Slot::new(l);
    let name = format!("{rt} {sandbox:?}");
    let ok = |slot: &mut Slot, what: &str| {
        let o = slot.call(br#"{"op":"noop"}"#);
        assert!(
            o.is_ok(),
            "{name}: a request after {what} failed: {:?}",
            o.result
        );
        o.instance
    };
    let first = ok(&mut slot, "start");

    // A handler error keeps the instance.
    let o = slot.call(br#"{"op":"fail"}"#);
    assert_eq!(o.error_class().as_deref(), Some("handler"), "{name}");
    assert_eq!(
        ok(&mut slot, "a handler error"),
        first,
        "{name}: instance kept after a handler error"
    );

    // Panic: an ERROR frame of kind panic.
    let o = slot.call(br#"{"op":"panic"}"#);
    match &o.result {
        Ok(Reply::FunctionError { kind, message, .. }) => {
            assert_eq!(kind, "panic", "{name}");
            assert!(
                message.contains("fixture asked to panic"),
                "{name}: {message}"
            );
        }
        other => panic!("{name}: panic gave {other:?}"),
    }
    let after_panic = ok(&mut slot, "a panic");
    if rt.is_wasm() {
        assert_ne!(
            after_panic, first,
            "{name}: a wasm instance traps after a panic and is replaced"
        );
    }

    // Hang past the time limit: killed, a timeout error.
    let o = slot.call(br#"{"op":"hang"}"#);
    assert!(
        matches!(o.result, Err(Failure::Timeout(_))),
        "{name}: hang gave {:?}",
        o.result
    );
    assert!(
        o.latency >= Duration::from_millis(1500),
        "{name}: timed out early: {:?}",
        o.latency
    );
    let after_hang = ok(&mut slot, "a hang");
    assert_ne!(
        after_hang, after_panic,
        "{name}: the hung instance was replaced"
    );

    // Allocate past the memory limit (64 MiB): an error, not a crash of the run.
    let o = slot.call(br#"{"op":"alloc","mb":200}"#);
    assert!(!o.is_ok(), "{name}: 200 MiB under a 64 MiB limit succeeded");
    let msg = format!("{:?}", o.result);
    if rt.is_wasm() {
        assert!(
            msg.contains("memory") || msg.contains("limit"),
            "{name}: {msg}"
        );
    }
    let after_alloc = ok(&mut slot, "an allocation past the limit");
    assert_ne!(
        after_alloc, after_hang,
        "{name}: replaced after running out of memory"
    );

    // Garbage on stdout: a protocol error for that request only.
    let o = slot.call(br#"{"op":"garbage"}"#);
    match &o.result {
        Err(Failure::Protocol(m)) => assert!(m.contains("magic"), "{name}: {m}"),
        other => panic!("{name}: garbage gave {other:?}"),
    }
    let after_garbage = ok(&mut slot, "garbage");
    assert_ne!(after_garbage, after_alloc);

    // Exit mid-request.
    let o = slot.call(br#"{"op":"exit"}"#);
    match &o.result {
        Err(Failure::Exited(m)) => assert!(m.contains("status 3"), "{name}: {m}"),
        other => panic!("{name}: exit gave {other:?}"),
    }
    ok(&mut slot, "an exit");
    let want = if rt.is_wasm() { 5 } else { 4 };
    assert!(slot.replaced >= want, "{name}: replaced {}", slot.replaced);
    slot.close(Duration::from_millis(500));
}

#[test]
fn wasmtime_aot_limits() {
    check_runtime(Runtime::WasmtimeAot, None);
}

#[test]
fn wasmtime_jit_limits() {
    check_runtime(Runtime::WasmtimeJit, None);
}

#[test]
fn wasmi_limits() {
    check_runtime(Runtime::WasmiInterp, None);
}

#[test]
fn native_runc_limits() {
    require_tool("runc");
    check_runtime(Runtime::Native, Some(Sandbox::Runc));
}

#[test]
fn native_crun_limits() {
    require_tool("crun");
    check_runtime(Runtime::Native, Some(Sandbox::Crun));
}

#[test]
fn native_chroot_and_process_limits() {
    require_tool("unshare");
    check_runtime(Runtime::Native, Some(Sandbox::Chroot));
    check_runtime(Runtime::Native, Some(Sandbox::Process));
}

#[test]
fn a_bench_of_failing_requests_finishes_with_the_errors_counted() {
    let f = fixtures();
    let mut o = opts();
    o.limits.request_timeout = Duration::from_millis(500);
    o.warmup = 0;
    o.requests = 4;
    let runner = Runner::new(o).unwrap();
    for (payload, kind) in [
        (&br#"{"op":"panic"}"#[..], "panic"),
        (br#"{"op":"hang"}"#, "timeout"),
    ] {
        let r = runner
            .run_warm(&file_ref(&f.cwasm), Runtime::WasmtimeAot, payload)
            .unwrap();
        assert_eq!(r.requests, 4);
        assert_eq!(r.errors, 4, "{kind}");
        assert_eq!(
            r.errors_by_kind.get(kind),
            Some(&4),
            "{:?}",
            r.errors_by_kind
        );
        // Each request ran on a fresh instance (replacements start lazily, on the next request).
        assert_eq!(r.instances.len(), 4, "{kind}: {:?}", r.instances);
        assert_eq!(r.instances_replaced, 4, "{kind}");
    }
}

#[cfg(feature = "wasmedge")]
#[test]
fn wasmedge_interp_limits() {
    check_runtime(Runtime::WasmedgeInterp, None);
}
