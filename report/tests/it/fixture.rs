//! A fixed bench result: two functions, five runtimes, cold, warm and load
//! rows, with one failed row (carrying a 60 s "latency" that must not be
//! shown), one unavailable runtime, one row with some errors, one row whose
//! every request failed, and a load level without OK answers.

use std::collections::BTreeMap;

use lumos_model::{
    BenchOutput, ColdStart, ImageInfo, LatencyStats, LoadLevel, LoadMode, Machine, Mode, Phases,
    RunRow, Runtime, Sandbox, Settings, Status, Versions,
};

const MIB: u64 = 1 << 20;

fn lat(n: u64, p50: f64) -> LatencyStats {
    LatencyStats {
        n,
        mean: p50 * 1.1,
        stddev: p50 * 0.05,
        min: p50 * 0.9,
        p50,
        p90: p50 * 1.3,
        p99: p50 * 1.6,
        max: p50 * 2.0,
        ..Default::default()
    }
}

fn cold(total: f64) -> ColdStart {
    ColdStart {
        pull: Some(total * 0.4),
        unpack: Some(total * 0.1),
        start: total * 0.3,
        ready: total * 0.15,
        first_response: total * 0.05,
        total,
    }
}

fn image(function: &str, runtime: Runtime, compressed: u64, unpacked: u64) -> ImageInfo {
    let tag = match runtime {
        Runtime::Native => "native",
        Runtime::WasmtimeAot => "aot-wasmtime-x86_64",
        Runtime::WasmedgeAot => "aot-wasmedge-x86_64",
        _ => "wasm",
    };
    ImageInfo {
        reference: format!("127.0.0.1:5000/lumos/{function}:{tag}"),
        digest: Some(format!("sha256:{:064x}", compressed)),
        config_digest: None,
        layer_digests: vec![],
        compressed_bytes: compressed,
        unpacked_bytes: unpacked,
    }
}

/// Image sizes of a function's images: native, wasm, aot-wasmtime.
fn sizes(function: &str, runtime: Runtime) -> (u64, u64) {
    let native = if function == "fibonacci" { 420 } else { 910 } * 1024;
    match runtime {
        Runtime::Native => (native, native * 2),
        Runtime::WasmtimeAot => (native * 3 / 2, native * 4),
        Runtime::WasmedgeAot => (native * 2, native * 5),
        _ => (native / 3, native),
    }
}

fn row(function: &str, runtime: Runtime, group: u8, mode: Mode) -> RunRow {
    let (c, u) = sizes(function, runtime);
    RunRow {
        function: function.into(),
        runtime,
        group,
        mode,
        status: Status::Ok,
        sandbox: (runtime == Runtime::Native).then_some(Sandbox::Runc),
        image: image(function, runtime, c, u),
        repeats: 2,
        store: "memory".into(),
        payload_bytes: 64,
        ..Default::default()
    }
}

fn cold_row(function: &str, runtime: Runtime, group: u8, total: f64, rss_mib: u64) -> RunRow {
    RunRow {
        cold_start_ms: Some(cold(total)),
        latency_ms: Some(lat(2, total * 0.05)),
        cpu_ms: Some(total * 0.6),
        peak_rss_bytes: Some(rss_mib * MIB),
        requests: 2,
        ..row(function, runtime, group, Mode::Cold)
    }
}

fn phases(io: f64, ser: f64, compute: f64) -> Phases {
    Phases {
        io,
        deserialize: ser / 2.0,
        compute,
        serialize: ser / 2.0,
        total: io + ser + compute,
    }
}

fn warm_row(
    function: &str,
    runtime: Runtime,
    group: u8,
    p50: f64,
    ph: Option<Phases>,
    rss_mib: u64,
) -> RunRow {
    // Ten samples spread around the mean phases, for the CDFs.
    let samples = ph
        .filter(|p| p.io > 0.0)
        .map(|p| {
            (0..10)
                .map(|i| {
                    let k = 0.7 + 0.06 * i as f64;
                    phases(p.io * k, (p.serialize + p.deserialize) * k, p.compute)
                })
                .collect()
        })
        .unwrap_or_default();
    RunRow {
        // The median's interval a little skewed upwards, as latencies are.
        latency_ms: Some(LatencyStats {
            p50_ci95: Some([p50 * 0.92, p50 * 1.1]),
            mean_ci95: Some([p50 * 1.0, p50 * 1.2]),
            ..lat(10, p50)
        }),
        phases_ms: ph,
        phase_samples: samples,
        cpu_ms: Some(p50 * 12.0 + 1.0),
        peak_rss_bytes: Some(rss_mib * MIB),
        requests: 10,
        ..row(function, runtime, group, Mode::Warm)
    }
}

fn unavailable(function: &str, runtime: Runtime, mode: Mode) -> RunRow {
    RunRow {
        status: Status::Unavailable,
        error: Some("WasmEdge is not installed (run scripts/install-wasmedge)".into()),
        image: ImageInfo::default(),
        repeats: 0,
        ..row(function, runtime, 1, mode)
    }
}

fn level(concurrency: usize, ok: u64, errors: u64, rps: f64, p50: f64) -> LoadLevel {
    LoadLevel {
        concurrency,
        mode: LoadMode::Closed,
        rate_rps: None,
        sent: ok + errors,
        ok,
        errors,
        timeouts: errors,
        errors_by_kind: if errors > 0 {
            BTreeMap::from([("timeout".to_string(), errors)])
        } else {
            BTreeMap::new()
        },
        duration_s: 2.0,
        throughput_rps: rps,
        latency_ms: if ok > 0 {
            lat(ok, p50)
        } else {
            LatencyStats::default()
        },
        latency_all_ms: lat(ok + errors, p50),
        instances_started: concurrency,
        instances_replaced: 0,
    }
}

fn load_row(runtime: Runtime, levels: Vec<LoadLevel>) -> RunRow {
    let requests = levels.iter().map(|l| l.sent).sum();
    let errors = levels.iter().map(|l| l.errors).sum();
    RunRow {
        status: if errors > 0 {
            Status::Errors
        } else {
            Status::Ok
        },
        latency_ms: Some(levels[0].latency_ms),
        requests,
        errors,
        load: Some(levels),
        ..row("fibonacci", runtime, 1, Mode::Load)
    }
}

pub fn bench() -> BenchOutput {
    use Runtime::*;
    let fib = "fibonacci";
    let enc = "encrypt-message";
    let mut runs = vec![
        cold_row(fib, Native, 1, 80.0, 2),
        warm_row(fib, Native, 1, 0.050, None, 2),
        warm_row(fib, Native, 2, 0.400, None, 2),
        cold_row(fib, WasmtimeAot, 1, 70.0, 12),
        warm_row(fib, WasmtimeAot, 1, 0.055, None, 12),
        warm_row(fib, WasmtimeAot, 2, 0.500, None, 12),
        cold_row(fib, WasmiInterp, 1, 95.0, 14),
        RunRow {
            status: Status::Errors,
            errors: 2,
            errors_by_kind: BTreeMap::from([("trap".to_string(), 2)]),
            error_samples: vec!["wasm trap: out of fuel".into()],
            ..warm_row(fib, WasmiInterp, 1, 2.0, None, 14)
        },
        // Every request failed: its figures must not be shown.
        RunRow {
            status: Status::Errors,
            errors: 2,
            errors_by_kind: BTreeMap::from([("trap".to_string(), 2)]),
            error_samples: vec!["wasm trap: unreachable".into()],
            ..cold_row(fib, WasmedgeInterp, 1, 640.0, 30)
        },
        // Failed outright, with a 60 s timeout recorded as its "latency".
        RunRow {
            status: Status::Failed,
            error: Some("request 1: timed out after 60000 ms; instance killed".into()),
            errors: 1,
            latency_ms: Some(lat(1, 60_000.0)),
            ..warm_row(fib, WasmedgeInterp, 1, 60_000.0, None, 31)
        },
        unavailable(fib, WasmedgeAot, Mode::Cold),
        unavailable(fib, WasmedgeAot, Mode::Warm),
        cold_row(enc, Native, 1, 90.0, 3),
        warm_row(enc, Native, 1, 0.30, Some(phases(0.10, 0.020, 0.15)), 3),
        cold_row(enc, WasmtimeAot, 1, 85.0, 13),
        warm_row(
            enc,
            WasmtimeAot,
            1,
            0.36,
            Some(phases(0.14, 0.030, 0.16)),
            13,
        ),
        cold_row(enc, WasmiInterp, 1, 110.0, 15),
        warm_row(enc, WasmiInterp, 1, 9.0, Some(phases(0.50, 0.300, 8.0)), 15),
        // Cut short by the time cap: 3 measured requests of the 10 asked for.
        RunRow {
            status: Status::Partial,
            latency_ms: Some(lat(3, 45.0)),
            requests: 3,
            ok: 3,
            ..warm_row(
                enc,
                WasmedgeInterp,
                1,
                45.0,
                Some(phases(0.60, 0.400, 44.0)),
                20,
            )
        },
        load_row(
            Native,
            vec![
                level(1, 400, 0, 200.0, 0.05),
                level(10, 1800, 0, 900.0, 0.09),
            ],
        ),
        load_row(
            WasmtimeAot,
            vec![level(1, 380, 0, 190.0, 0.06), level(10, 0, 40, 0.0, 0.0)],
        ),
    ];
    runs[0].warnings = vec!["outliers: 1 of 2 samples".into()];
    BenchOutput {
        schema_version: lumos_model::SCHEMA_VERSION,
        machine: Machine {
            cpu_model: "Test CPU @ 2.0GHz".into(),
            cores: 2,
            kernel: "Linux 6.1.0 #1 SMP x86_64".into(),
            arch: "x86_64".into(),
            memory_bytes: 8 << 30,
        },
        versions: Versions {
            lumos_runner: "0.1.0".into(),
            wasmtime: "48.0.8".into(),
            wasmi: "2.0.0".into(),
            wasmedge: None,
            runc: Some("1.1.12".into()),
            crun: Some("1.14".into()),
            rustc: Some("1.95.0".into()),
            containerd: None,
            crun_wasmedge: None,
        },
        settings: Settings {
            registry: "127.0.0.1:5000/lumos".into(),
            store: "memory".into(),
            repeat: 2,
            warmup: 1,
            requests: 5,
            native_base: "scratch".into(),
            runtimes: BTreeMap::from([
                (Native, None),
                (WasmtimeAot, None),
                (WasmiInterp, None),
                (WasmedgeInterp, None),
                (
                    WasmedgeAot,
                    Some("WasmEdge is not installed (run scripts/install-wasmedge)".into()),
                ),
            ]),
            limits: None,
            device: None,
            neighbour: None,
            neighbour_baseline: false,
            nodes: vec![],
            baas_link: None,
            skipped: vec!["language-detection@wasmedge-interp".parse().unwrap()],
        },
        runs,
    }
}
