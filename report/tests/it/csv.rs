use lumos_report::csv;

use crate::fixture;

/// The columns the CSV has always had, in order (files stay comparable),
/// then those added since at the end.
const COLUMNS: [&str; 52] = [
    "function",
    "runtime",
    "group",
    "mode",
    "status",
    "sandbox",
    "image_reference",
    "image_compressed_bytes",
    "image_unpacked_bytes",
    "cold_start_pull_ms",
    "cold_start_unpack_ms",
    "cold_start_start_ms",
    "cold_start_ready_ms",
    "cold_start_first_response_ms",
    "cold_start_total_ms",
    "latency_n",
    "latency_mean_ms",
    "latency_stddev_ms",
    "latency_min_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "phase_io_ms",
    "phase_deserialize_ms",
    "phase_compute_ms",
    "phase_serialize_ms",
    "cpu_ms",
    "peak_rss_bytes",
    "repeats",
    "requests",
    "errors",
    "concurrency",
    "load_mode",
    "throughput_rps",
    "store",
    "error",
    "latency_p50_ci95_lo_ms",
    "latency_p50_ci95_hi_ms",
    "latency_mean_ci95_lo_ms",
    "latency_mean_ci95_hi_ms",
    "x_native",
    "x_native_ci95_lo",
    "x_native_ci95_hi",
    "neighbour",
    "neighbour_requests",
    "neighbour_achieved_rps",
    "endpoint_url",
    "endpoint_host",
    "node",
    "node_address",
    "node_rate_bits_per_sec",
];

#[test]
fn snapshot() {
    insta::assert_snapshot!(csv::render(&fixture::bench()).unwrap());
}

fn records() -> Vec<std::collections::HashMap<String, String>> {
    let text = csv::render(&fixture::bench()).unwrap();
    let mut r = ::csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, COLUMNS);
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn columns_stay_and_failed_rows_carry_no_figures() {
    assert_eq!(csv::header(), COLUMNS);
    let recs = records();
    // 21 rows, two of them load rows with two levels each.
    assert_eq!(recs.len(), 23);
    let find = |rt: &str, mode: &str| {
        recs.iter()
            .find(|r| r["function"] == "fibonacci" && r["runtime"] == rt && r["mode"] == mode)
            .unwrap()
    };
    for (rt, mode, status) in [
        ("wasmedge-interp", "warm", "failed"),
        ("wasmedge-interp", "cold", "failed"),
        ("wasmedge-aot", "warm", "unavailable"),
    ] {
        let r = find(rt, mode);
        assert_eq!(r["status"], status);
        assert!(!r["error"].is_empty(), "{r:?}");
        for c in &COLUMNS[7..29] {
            assert_eq!(r[*c], "", "{rt} {mode}: {c} = {}", r[*c]);
        }
    }
    assert_eq!(
        find("wasmedge-interp", "cold")["error"],
        "wasm trap: unreachable"
    );
    let ok = find("native", "cold");
    assert_eq!(ok["cold_start_total_ms"], "80.000000");
    assert_eq!(ok["sandbox"], "runc");
    // The load level without OK answers: counts, no latency or throughput.
    let failed_level = recs
        .iter()
        .find(|r| r["runtime"] == "wasmtime-aot" && r["mode"] == "load" && r["concurrency"] == "10")
        .unwrap();
    assert_eq!(failed_level["errors"], "40");
    assert_eq!(failed_level["latency_p50_ms"], "");
    assert_eq!(failed_level["throughput_rps"], "");
    assert_eq!(failed_level["load_mode"], "closed");
    // Intervals and the ratio to native, where the row has them.
    let w = find("wasmtime-aot", "warm");
    assert_eq!(w["latency_p50_ci95_lo_ms"], "0.050600");
    assert_eq!(w["latency_p50_ci95_hi_ms"], "0.060500");
    assert_eq!(w["x_native"], "1.100000");
    let (lo, hi): (f64, f64) = (
        w["x_native_ci95_lo"].parse().unwrap(),
        w["x_native_ci95_hi"].parse().unwrap(),
    );
    assert!(lo < 1.1 && 1.1 < hi, "{lo} {hi}");
    let c = find("native", "cold");
    assert_eq!(
        (c["x_native"].as_str(), c["x_native_ci95_lo"].as_str()),
        ("1.000000", "")
    );
    for col in &COLUMNS[37..] {
        assert_eq!(find("wasmedge-interp", "warm")[*col], "", "{col}");
    }
}

#[test]
fn quotes_fields_that_need_it() {
    let mut out = fixture::bench();
    out.runs[9].error = Some("boom, \"bang\"\nline 2".into());
    let text = csv::render(&out).unwrap();
    assert!(text.contains("\"boom, \"\"bang\"\"\nline 2\""), "{text}");
    let empty = lumos_model::BenchOutput::default();
    assert_eq!(
        csv::render(&empty).unwrap(),
        format!("{}\n", COLUMNS.join(","))
    );
}
