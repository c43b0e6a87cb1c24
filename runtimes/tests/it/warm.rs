//! Warm latency on real instances: the clock is right, the phase split adds
//! up, storage calls are served, and the three protocols work.

use crate::common::*;
use lumos_runtimes::{Protocol, Runner, Runtime};

fn image_for(rt: Runtime) -> String {
    let f = fixtures();
    match rt {
        Runtime::Native => file_ref(&f.native),
        Runtime::WasmtimeAot => file_ref(&f.cwasm),
        _ => file_ref(&f.wasm),
    }
}

const RUNTIMES: [Runtime; 4] = [
    Runtime::Native,
    Runtime::WasmtimeAot,
    Runtime::WasmtimeJit,
    Runtime::WasmiInterp,
];

#[test]
fn slow_function_latency_equals_its_known_delay() {
    require("runc");
    let runner = Runner::new(opts()).unwrap();
    for rt in RUNTIMES {
        let r = runner
            .run_warm(&image_for(rt), rt, br#"{"op":"sleep","ms":20}"#)
            .unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        let l = r.latency_ms.unwrap();
        assert_eq!(l.n, 20);
        // A 20 ms sleep never takes less than 20 ms; on a shared 2-core box it may overshoot a little.
        assert!(
            l.min >= 20.0,
            "{rt}: min {} ms is below the 20 ms sleep: the clock is wrong",
            l.min
        );
        assert!(
            l.p50 < 20.0 + 8.0,
            "{rt}: p50 {} ms is far above the 20 ms sleep",
            l.p50
        );
        let ph = r.phases_ms.unwrap();
        assert!(
            (ph.total - 20.0).abs() < 8.0,
            "{rt}: the function's own time {} ms",
            ph.total
        );
        // The host's round trip contains the function's own time.
        assert!(
            l.mean >= ph.total,
            "{rt}: round trip {} < function {}",
            l.mean,
            ph.total
        );
        if rt == Runtime::Native {
            assert!(r.sandbox.is_some());
        }
    }
}

#[test]
fn phases_sum_to_the_functions_total() {
    let runner = Runner::new(opts()).unwrap();
    for rt in [Runtime::WasmtimeAot, Runtime::WasmiInterp] {
        let r = runner
            .run_warm(&image_for(rt), rt, br#"{"op":"spin","ms":5}"#)
            .unwrap();
        let p = r.phases_ms.unwrap();
        let sum = p.io + p.deserialize + p.compute + p.serialize;
        assert!(
            (sum - p.total).abs() < 0.05,
            "{rt}: phases {sum} ms vs total {} ms",
            p.total
        );
        // The spins are 5 ms of wall time; on a loaded machine the instance is
        // preempted inside them, so only part of that is its CPU time. Half a
        // core is what each of the two test threads can count on.
        assert!(
            r.cpu_ms.unwrap() >= 5.0 * 20.0 * 0.4,
            "{rt}: cpu {:?} ms for 22 x 5 ms spins",
            r.cpu_ms
        );
        assert!(
            r.peak_rss_bytes.unwrap() > 1 << 20,
            "{rt}: peak rss {:?}",
            r.peak_rss_bytes
        );
    }
}

#[test]
fn storage_calls_are_served_from_memory() {
    let runner = Runner::new(opts()).unwrap();
    runner
        .store()
        .put("greeting", b"hello from the host")
        .unwrap();
    for rt in RUNTIMES {
        if rt == Runtime::Native
            && std::process::Command::new("runc")
                .arg("--version")
                .output()
                .is_err()
        {
            panic!("runc is not installed");
        }
        let r = runner
            .run_cold(&image_for(rt), rt, br#"{"op":"get","key":"greeting"}"#)
            .unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        let want = lumos_runtimes_sha(b"hello from the host");
        assert_eq!(r.response_sha256.as_deref(), Some(want.as_str()), "{rt}");
        assert!(r.phases_ms.unwrap().io > 0.0, "{rt}: io time not measured");
        let r = runner
            .run_cold(
                &image_for(rt),
                rt,
                br#"{"op":"put","key":"k","value":"v1"}"#,
            )
            .unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        assert_eq!(
            runner.store().get("k").unwrap().as_deref(),
            Some(&b"v1"[..])
        );
        let r = runner
            .run_cold(&image_for(rt), rt, br#"{"op":"get","key":"missing"}"#)
            .unwrap();
        assert_eq!(
            r.errors_by_kind.get("handler"),
            Some(&1),
            "{rt}: a missing key is the handler's error"
        );
    }
}

fn lumos_runtimes_sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn storage_calls_are_served_from_redis() {
    let redis = lumos_test_support::redis::start();
    let mut o = opts();
    o.baas = Some(format!("redis://127.0.0.1:{}", redis.port));
    let runner = Runner::new(o).unwrap();
    let r = runner
        .run_warm(
            &image_for(Runtime::WasmtimeAot),
            Runtime::WasmtimeAot,
            br#"{"op":"put","key":"rk","value":"from-wasm"}"#,
        )
        .unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert!(r.store.starts_with("redis://"));
    // Read it back through a separate connection: it really is in Redis.
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let v: Vec<u8> = redis::cmd("GET").arg("rk").query(&mut c).unwrap();
    assert_eq!(v, b"from-wasm");
    let r = runner
        .run_cold(
            &image_for(Runtime::WasmiInterp),
            Runtime::WasmiInterp,
            br#"{"op":"get","key":"rk"}"#,
        )
        .unwrap();
    assert_eq!(r.response_sha256.unwrap(), lumos_runtimes_sha(b"from-wasm"));
}

#[test]
fn stdio_protocol_one_instance_per_request() {
    let f = fixtures();
    let mut o = opts();
    o.protocol = Some(Protocol::Stdio);
    o.warmup = 0;
    o.requests = 3;
    let runner = Runner::new(o).unwrap();
    for (img, rt) in [
        (&f.native_stdio, Runtime::Native),
        (&f.wasm_stdio, Runtime::WasmtimeJit),
    ] {
        let r = runner
            .run_warm(&file_ref(img), rt, br#"{"x":"12345"}"#)
            .unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        assert_eq!(r.instances.len(), 3, "{rt}: one instance per request");
        assert_eq!(
            r.response_sha256.unwrap(),
            lumos_runtimes_sha(br#"{"bytes":13}"#)
        );
        let r = runner
            .run_warm(&file_ref(img), rt, br#"{"op":"fail"}"#)
            .unwrap();
        assert_eq!(r.errors, 3, "{rt}: a non-zero exit is an error");
    }
}

#[test]
fn http_protocol_native() {
    require("runc");
    let f = fixtures();
    let mut o = opts();
    o.protocol = Some(Protocol::Http);
    let runner = Runner::new(o).unwrap();
    let r = runner
        .run_cold(&file_ref(&f.native_http), Runtime::Native, b"{\"a\":1}")
        .unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert_eq!(
        r.response_sha256.unwrap(),
        lumos_runtimes_sha(br#"{"bytes":7}"#)
    );
    assert!(r.phases_ms.is_some(), "x-lumos-meta read");
    let r = runner
        .run_warm(&file_ref(&f.native_http), Runtime::Native, b"{\"a\":1}")
        .unwrap();
    assert_eq!(r.errors, 0);
    // wasm without sockets is refused, not silently run some other way.
    let e = runner
        .run_cold(&file_ref(&f.wasm), Runtime::WasmtimeJit, b"{}")
        .unwrap_err();
    assert!(e.to_string().contains("sockets"), "{e}");
}

#[test]
fn wasm_gets_no_environment_and_no_files() {
    let runner = Runner::new(opts()).unwrap();
    for rt in [Runtime::WasmtimeJit, Runtime::WasmiInterp] {
        let r = runner
            .run_cold(&image_for(rt), rt, br#"{"op":"env"}"#)
            .unwrap();
        assert_eq!(
            r.response_sha256.unwrap(),
            lumos_runtimes_sha(br#"{"env":0,"root_entries":0}"#),
            "{rt}"
        );
    }
}

#[test]
fn a_runtime_is_never_silently_swapped() {
    let f = fixtures();
    let runner = Runner::new(opts()).unwrap();
    // A plain module is not a .cwasm: wasmtime-aot refuses it instead of JIT-compiling.
    let e = runner
        .run_cold(&file_ref(&f.wasm), Runtime::WasmtimeAot, b"{}")
        .unwrap_err();
    assert!(e.to_string().contains("cwasm"), "{e}");
    let e = runner
        .run_cold(&file_ref(&f.cwasm), Runtime::WasmiInterp, b"{}")
        .unwrap_err();
    assert!(e.to_string().contains("not a wasm module"), "{e}");
    if !cfg!(feature = "wasmedge") {
        let e = runner
            .run_cold(&file_ref(&f.wasm), Runtime::WasmedgeInterp, b"{}")
            .unwrap_err();
        assert!(e.to_string().contains("wasmedge"), "{e}");
    }
}
