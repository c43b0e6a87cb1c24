//! Load: closed and open loop at real concurrency; every request is
//! answered or counted as an error, none is lost.

mod common;
use common::*;
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
    require_tool("runc");
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
