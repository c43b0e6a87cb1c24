//! Runaway functions: a panic, a hang past the time limit, an allocation
//! past the memory limit, garbage on stdout, an exit. Each is an error for
//! that request only; the instance is replaced and serving goes on.

use crate::common::*;
use lumos_runtimes::host::{Failure, Reply};
use lumos_runtimes::launch::Slot;
use lumos_runtimes::{Job, Runner, Runtime, Sandbox};
use std::time::Duration;

fn check_runtime(rt: Runtime, sandbox: Option<Sandbox>) {
    let f = fixtures();
    let img = match rt {
        Runtime::Native => file_ref(&f.native),
        Runtime::WasmtimeAot | Runtime::WasmtimePooled => file_ref(&f.cwasm),
        _ => file_ref(&f.wasm),
    };
    let mut o = opts();
    o.sandbox = sandbox;
    o.limits.request_timeout = Duration::from_millis(1500);
    o.limits.memory_bytes = Some(64 << 20);
    let runner = Runner::new(o).unwrap();
    let p = runner
        .prepare(&Job::from_opts(&runner.opts, &img, rt, b""))
        .unwrap();
    let l = runner.launcher(&p, rt, &[]).unwrap();
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

    // Hang past the time limit: killed (a pooled one with its host: the
    // fixture's .cwasm has no epoch interruption), a timeout error.
    let o = slot.call(br#"{"op":"hang"}"#);
    assert!(
        matches!(o.result, Err(Failure::Timeout(_)))
            || rt == Runtime::WasmtimePooled
                && matches!(&o.result, Err(Failure::PooledTimeout(_, m)) if m.contains("was stopped")),
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

/// A pooled instance that hangs is stopped with its host: the fixture's
/// `.cwasm` is precompiled without epoch interruption, like an
/// `aot-wasmtime` image's (tests/it/pooled.rs interrupts one instance of a
/// wasm module the host compiled with it); the next instance comes from a
/// new host.
#[test]
fn wasmtime_pooled_limits() {
    check_runtime(Runtime::WasmtimePooled, None);
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
    require("runc");
    check_runtime(Runtime::Native, Some(Sandbox::Runc));
}

#[test]
fn native_crun_limits() {
    require("crun");
    check_runtime(Runtime::Native, Some(Sandbox::Crun));
}

#[test]
fn native_chroot_and_process_limits() {
    require("unshare");
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

#[test]
fn wasmedge_interp_limits() {
    check_runtime(Runtime::WasmedgeInterp, None);
}

/// `lumos-runner ARGS`, its status and stderr.
fn runner(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let out = std::process::Command::new(runner_exe())
        .args(args)
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every numeric flag is range-checked at parse time (issue 7): refused with
/// the flag, the value and the range before anything runs (the image named
/// here does not exist; it is never looked at).
#[test]
fn numeric_flags_out_of_range_are_refused_before_anything_runs() {
    let img = "file:/nonexistent/lumos-test.wasm";
    let base = ["-r", "wasmi-interp"];
    for (cmd, flag, value) in [
        ("load", "--concurrency", "0"),
        ("load", "--concurrency", "4097"),
        ("load", "--concurrency", "18446744073709551615"),
        ("load", "--concurrency", "1,0"),
        ("load", "--level-requests", "0"),
        ("load", "--level-requests", "10000001"),
        ("load", "--rate", "0"),
        ("load", "--rate", "NaN"),
        ("load", "--rate", "inf"),
        ("load", "--rate", "-5"),
        ("load", "--duration", "0"),
        ("load", "--duration", "-1"),
        ("load", "--duration", "1e300"),
        ("cold", "--timeout-ms", "0"),
        ("cold", "--timeout-ms", "18446744073709551615"),
        ("warm", "--memory-mib", "18446744073709551615"),
        ("warm", "--requests", "0"),
        ("warm", "-n", "0"),
        ("warm", "--warmup", "1000001"),
    ] {
        let arg = format!("{flag}={value}");
        let (status, _, err) = runner(&[cmd, img, base[0], base[1], &arg]);
        assert!(!status.success(), "{cmd} {arg} was accepted");
        let first = err.lines().next().unwrap_or("");
        // clap names a flag by its long form and the one value refused.
        let name = if flag == "-n" { "--requests" } else { flag };
        let refused = value.rsplit(',').next().unwrap();
        assert!(
            first.contains(name) && first.contains(refused) && first.contains("is not"),
            "{cmd} {arg}: {err}"
        );
    }
    // What depends on two flags: rate x duration schedules too many requests.
    let (status, _, err) = runner(&[
        "load",
        img,
        "-r",
        "wasmi-interp",
        "--arrival",
        "constant",
        "--rate",
        "1000000",
        "--duration",
        "86400",
    ]);
    assert!(!status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("requests per level"), "{err}");
}

/// A run that measured nothing exits non-zero (issue 7): it still prints its
/// result, with the errors counted.
#[test]
fn a_run_whose_every_request_fails_exits_non_zero() {
    let f = fixtures();
    let img = file_ref(&f.wasm);
    for (args, mode) in [
        (vec!["cold"], "cold"),
        (vec!["warm", "--warmup", "0", "-n", "2"], "warm"),
        (
            vec!["load", "--concurrency", "2", "--level-requests", "4"],
            "load",
        ),
    ] {
        let mut all = args.clone();
        all.extend([
            img.as_str(),
            "-r",
            "wasmi-interp",
            "--body",
            r#"{"op":"fail"}"#,
        ]);
        let (status, out, err) = runner(&all);
        assert!(
            !status.success(),
            "{mode}: exit 0 with every request failed:\n{err}"
        );
        assert!(
            err.trim_end()
                .lines()
                .last()
                .unwrap_or("")
                .starts_with(&format!("error: the {mode} run measured nothing")),
            "{mode}: {err}"
        );
        let r: serde_json::Value = serde_json::from_str(&out).expect("the result is still printed");
        assert!(r["errors"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], r["requests"], "{r}");

        // The same run with a request that succeeds exits 0.
        let mut ok = args.clone();
        ok.extend([
            img.as_str(),
            "-r",
            "wasmi-interp",
            "--body",
            r#"{"op":"noop"}"#,
        ]);
        let (status, _, err) = runner(&ok);
        assert!(status.success(), "{mode}: {err}");
    }
}
