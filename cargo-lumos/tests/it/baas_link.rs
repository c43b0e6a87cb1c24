//! `cargo lumos bench --baas-bandwidth --baas-delay` end to end: the flags
//! reach the runner, the storage is behind the link while the data function
//! runs (its I/O phase holds the delay of each round trip), and the JSON and
//! the table record the link and the relay's measured overhead.

use crate::common::*;

#[test]
fn bench_puts_the_storage_behind_the_link_and_records_it() {
    require("docker-registry");
    if let Some(why) = lumos_runtimes::link::refusal() {
        panic!("{why}");
    }
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("b.json");
    let out = bench_builtins(&[
        "-p",
        "encrypt-message",
        "--runtime",
        "wasmtime-aot",
        "--group",
        "1",
        "--mode",
        "warm",
        "--repeat",
        "1",
        "--warmup",
        "0",
        "--requests",
        "2",
        "--min-requests",
        "2",
        "--min-time",
        "0.001",
        "--baas-bandwidth",
        "100mbit",
        "--baas-delay",
        "20ms",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    let link = &j["settings"]["baas_link"];
    assert_eq!(link["bandwidth"], "100mbit", "{link}");
    assert_eq!(link["bandwidth_bits_per_sec"], 100_000_000u64, "{link}");
    assert_eq!(link["delay_ms"], 20.0, "{link}");
    assert_eq!(link["overhead_samples"], 15, "{link}");
    assert!(link["relayed_rtt_ms"].as_f64().unwrap() > 0.0, "{link}");
    assert_eq!(j["settings"]["store"], "memory");
    let r = &rows(&j)[0];
    assert_eq!(r["status"], "ok", "{r}");
    // encrypt-message GETs its message and PUTs the envelope: two round
    // trips of 20 ms each way, and 1.2 MB at 100mbit (about 0.1 s).
    let io = r["phases_ms"]["io"].as_f64().unwrap();
    assert!(io >= 2.0 * 40.0 * 0.8, "io {io} ms behind a 20 ms link");
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("storage link: 100mbit each way, 20 ms delay each way")),
        "{table}"
    );
}
