//! `cargo lumos bench` end to end: a throwaway registry it starts and stops,
//! a real Redis for storage, refusals of unknown names, and failing functions
//! counted as errors. Small matrices (one fast function, group 1, two or
//! three runtimes, one repeat) so they fit a 2-core CI machine.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use crate::common::*;

fn positive(v: &serde_json::Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x > 0.0, "{what} must be positive: {x}");
    x
}

fn pid_alive(pid: u32) -> bool {
    // A zombie is not alive; /proc/PID/stat's third field says so.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn bench_with_a_throwaway_registry_writes_json_csv_and_report() {
    require("docker-registry");
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let (json, csv, html) = (
        out_dir.path().join("b.json"),
        out_dir.path().join("b.csv"),
        out_dir.path().join("r.html"),
    );
    let out = bench_builtins(&[
        "-p",
        "fibonacci",
        "--runtime",
        "native,wasmtime-aot,wasmi-interp",
        "--group",
        "1",
        "--mode",
        "cold,warm",
        "--repeat",
        "1",
        "--warmup",
        "1",
        "--requests",
        "5",
        // Exactly the 5 requests asked for: no more runs to reach the
        // default minimum of 10 requests and 3 s.
        "--min-requests",
        "5",
        "--min-time",
        "0.001",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");

    // The registry it started is gone, by PID.
    let pid: u32 = err
        .lines()
        .find_map(|l| l.split("(pid ").nth(1)?.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no registry pid in stderr:\n{err}"));
    assert!(!pid_alive(pid), "registry pid {pid} is still running");
    let addr = err
        .lines()
        .find_map(|l| l.split("throwaway registry on ").nth(1)?.split(' ').next())
        .unwrap();
    assert!(
        TcpStream::connect(addr).is_err(),
        "something still listens on {addr}"
    );

    // The table is on stdout.
    let table = stdout(&out);
    for rt in ["native", "wasmtime-aot", "wasmi-interp"] {
        assert!(table.contains(rt), "{rt} missing from the table:\n{table}");
    }

    // JSON: the documented shape, positive numbers.
    let j = read_json(&json);
    assert!(
        j["machine"]["cores"].as_u64().unwrap() >= 1,
        "{}",
        j["machine"]
    );
    assert!(j["versions"]["wasmtime"].is_string(), "{}", j["versions"]);
    let runs = rows(&j);
    assert_eq!(runs.len(), 6, "3 runtimes x 2 modes: {runs:#?}");
    for r in runs {
        let what = format!("{} {} {}", r["function"], r["runtime"], r["mode"]);
        assert_eq!(r["function"], "fibonacci");
        assert_eq!(r["group"], 1);
        assert_eq!(r["status"], "ok", "{what}: {r}");
        assert_eq!(r["errors"], 0, "{what}: {r}");
        positive(&r["image"]["compressed_bytes"], "image.compressed_bytes");
        positive(&r["image"]["unpacked_bytes"], "image.unpacked_bytes");
        for k in ["n", "mean", "min", "p50", "p90", "p99", "max"] {
            positive(&r["latency_ms"][k], &format!("{what} latency_ms.{k}"));
        }
        assert!(r["latency_ms"]["stddev"].as_f64().unwrap() >= 0.0);
        positive(
            &r["phases_ms"]["compute"],
            &format!("{what} phases_ms.compute"),
        );
        for k in ["io", "deserialize", "serialize"] {
            assert!(r["phases_ms"][k].as_f64().unwrap() >= 0.0, "{what}: {r}");
        }
        positive(&r["cpu_ms"], &format!("{what} cpu_ms"));
        positive(&r["peak_rss_bytes"], &format!("{what} peak_rss_bytes"));
        if r["mode"] == "cold" {
            for k in [
                "pull",
                "unpack",
                "start",
                "ready",
                "first_response",
                "total",
            ] {
                positive(&r["cold_start_ms"][k], &format!("{what} cold_start_ms.{k}"));
            }
            assert_eq!(r["latency_ms"]["n"], 1);
            // One repeat: the totals' median is that repeat's total (as the
            // latency histogram keeps it: 3 significant digits).
            assert_eq!(r["cold_total_ms"]["n"], 1, "{what}: {r}");
            let (p50, total) = (
                r["cold_total_ms"]["p50"].as_f64().unwrap(),
                r["cold_start_ms"]["total"].as_f64().unwrap(),
            );
            assert!(
                (p50 - total).abs() <= total * 1e-3 + 1e-3,
                "{what}: {p50} vs {total}"
            );
        } else {
            assert_eq!(r["latency_ms"]["n"], 5, "{what}");
            assert_eq!(r["cold_start_ms"], serde_json::Value::Null);
            // The mean's interval holds the mean; 5 samples give no median interval.
            let ci = r["latency_ms"]["mean_ci95"].as_array().expect("mean_ci95");
            let mean = r["latency_ms"]["mean"].as_f64().unwrap();
            assert!(
                ci[0].as_f64().unwrap() <= mean && mean <= ci[1].as_f64().unwrap(),
                "{what}: {r}"
            );
            assert!(r["latency_ms"].get("p50_ci95").is_none(), "{what}: {r}");
        }
    }
    // wasm images are smaller than the native one, as built here.
    let size = |rt: &str| {
        runs.iter().find(|r| r["runtime"] == rt).unwrap()["image"]["unpacked_bytes"]
            .as_u64()
            .unwrap()
    };
    assert!(size("wasmi-interp") < size("native"));

    // CSV: a header and one line per row, same columns everywhere.
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    let cols = lines[0].split(',').count();
    assert!(lines[0].starts_with("function,runtime,group,mode,"));
    for l in &lines[1..] {
        assert_eq!(l.split(',').count(), cols, "{l}");
        assert!(l.starts_with("fibonacci,"));
    }

    // The report: one self-contained page with the figures.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.matches("<svg").count() >= 5, "too few charts");
    for needle in [
        "Image sizes",
        "Execution time per payload group",
        "CDF",
        "CPU and memory",
        "Throughput",
    ] {
        assert!(page.contains(needle), "report lacks {needle}");
    }
    assert!(!page.contains("<script src") && !page.contains("<link"));
    assert_eq!(
        page.matches("http").count(),
        page.matches("http://www.w3.org/2000/svg").count(),
        "the report refers to something on the network"
    );
}

/// One command over RESP to the Redis on `port`; the first line of the reply.
fn redis_command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req += &format!("${}\r\n{a}\r\n", a.len());
    }
    s.write_all(req.as_bytes())?;
    let mut line = String::new();
    BufReader::new(&mut s).read_line(&mut line)?;
    Ok(line.trim_end().to_string())
}

#[test]
fn bench_with_baas_redis_serves_a_data_function_from_redis() {
    require("docker-registry");
    let redis = lumos_test_support::redis::start();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("b.json");
    let out = bench_builtins(&[
        "-p",
        "encrypt-message",
        "--runtime",
        "native,wasmtime-aot",
        "--group",
        "1",
        "--mode",
        "warm",
        "--repeat",
        "1",
        "--warmup",
        "0",
        "--requests",
        "3",
        "--min-requests",
        "3",
        "--min-time",
        "0.001",
        "--baas",
        &url,
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    assert_eq!(j["settings"]["store"], url.as_str());
    let runs = rows(&j);
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert_eq!(r["store"], url.as_str());
        // The input was fetched through the host, from Redis.
        positive(&r["phases_ms"]["io"], "phases_ms.io");
        positive(&r["phases_ms"]["deserialize"], "phases_ms.deserialize");
    }
    // The input is really in Redis, at its exact size (group 1: 512 KiB) ...
    assert_eq!(
        redis_command(redis.port, &["STRLEN", "encrypt-message/g1/message.json"]).unwrap(),
        ":524288"
    );
    // ... and the envelope the function stored through the host is too.
    let sealed = redis_command(redis.port, &["STRLEN", "encrypt-message/g1/sealed.json"]).unwrap();
    let n: u64 = sealed.trim_start_matches(':').parse().unwrap();
    assert!(n > 524_288, "sealed envelope of {n} bytes");
    let pid = redis.pid();
    drop(redis);
    assert!(!pid_alive(pid), "redis-server {pid} still running");
}

#[test]
fn a_cell_the_time_cap_stops_early_is_partial_with_its_n() {
    require("docker-registry");
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("b.json");
    let out = bench_builtins(&[
        "-p",
        "fibonacci",
        "--runtime",
        "native,wasmi-interp",
        // Its only function skipped there: no wasmi-interp cell, and
        // nothing built for it.
        "--skip",
        "fibonacci@wasmi-interp",
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
        // A minimum no run of 2 requests reaches before a 1 ms cap.
        "--min-requests",
        "1000",
        "--min-time",
        "0.001",
        "--max-time",
        "0.001",
        "--json",
        json.to_str().unwrap(),
    ]);
    // Partial is not an error: the bench measured something.
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let r = &runs[0];
    assert_eq!(r["status"], "partial", "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(r["repeats"], 1, "no run starts after the cap: {r}");
    assert_eq!(r["latency_ms"]["n"], 2, "{r}");
    // Too few samples for a median interval: absent, not zeros.
    assert!(r["latency_ms"].get("p50_ci95").is_none(), "{r}");
    assert!(
        r["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap_or("")
            .starts_with("partial: 2 measured request(s) of the 1000")),
        "{r}"
    );
    assert!(stdout(&out).contains("partial n=2"), "{}", stdout(&out));
    // --skip: recorded, said, and its runtime not asked for.
    assert_eq!(
        j["settings"]["skipped"],
        serde_json::json!([{"function": "fibonacci", "runtime": "wasmi-interp"}]),
        "{}",
        j["settings"]
    );
    assert!(
        j["settings"]["runtimes"].get("wasmi-interp").is_none(),
        "{}",
        j["settings"]
    );
    assert!(
        stdout(&out).contains("note: fibonacci on wasmi-interp was skipped (--skip)"),
        "{}",
        stdout(&out)
    );
}

/// `wasmtime-pooled` beside `wasmtime-aot` on the same `aot-wasmtime` image:
/// both answer, the pooled rows record their host's untimed start, and the
/// table shows both.
#[test]
fn bench_runs_wasmtime_pooled_beside_wasmtime_aot() {
    require("docker-registry");
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("b.json");
    let out = bench_builtins(&[
        "-p",
        "fibonacci",
        "--runtime",
        "wasmtime-aot,wasmtime-pooled",
        "--group",
        "1",
        "--mode",
        "cold-cached,warm",
        "--repeat",
        "2",
        "--warmup",
        "1",
        "--requests",
        "5",
        "--min-requests",
        "5",
        "--min-time",
        "0.001",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("wasmtime-pooled"), "{table}");
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(runs.len(), 4, "2 runtimes x 2 modes: {runs:#?}");
    for r in runs {
        let what = format!("{} {}", r["runtime"], r["mode"]);
        assert_eq!(r["status"], "ok", "{what}: {r}");
        assert_eq!(r["errors"], 0, "{what}: {r}");
        if r["mode"] == "cold-cached" {
            positive(&r["cold_start_ms"]["total"], &format!("{what} total"));
            for e in r["cold_evidence"].as_array().unwrap() {
                let host = &e["pool_host_start_ms"];
                if r["runtime"] == "wasmtime-pooled" {
                    positive(host, &format!("{what} pool_host_start_ms"));
                } else {
                    assert!(host.is_null(), "{what}: {e}");
                }
            }
        }
    }
    // The same image on both: the pooled host ran the aot-wasmtime image.
    let digest = |rt: &str| {
        runs.iter()
            .find(|r| r["runtime"] == rt)
            .map(|r| r["image"]["digest"].clone())
            .unwrap()
    };
    assert!(digest("wasmtime-pooled").is_string());
    assert_eq!(digest("wasmtime-pooled"), digest("wasmtime-aot"));
}

#[test]
fn unknown_runtime_function_or_group_is_a_one_line_error() {
    let manifest = repo_root().join("Cargo.toml");
    let target = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["-p", "fibonacci", "--runtime", "jvm"], "jvm"),
        (vec!["-p", "fibonacci", "--group", "4"], "group"),
        (vec!["-p", "no-such-function"], "no-such-function"),
        (vec!["-p", "fibonacci", "--mode", "lukewarm"], "lukewarm"),
        (
            vec!["-p", "fibonacci", "--skip", "fibonacci"],
            "FUNCTION@RUNTIME",
        ),
        (
            vec!["-p", "fibonacci", "--skip", "nope@native"],
            "--skip nope@native",
        ),
        (vec!["-p", "fibonacci", "--skip", "fibonacci@jvm"], "jvm"),
    ] {
        let out = bench(&manifest, target.path(), &args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: not one line:\n{err}"
        );
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    // Nothing was built or started for them.
    assert!(!target.path().join("lumos").exists());
}

/// A workspace with a `stdio` function that always fails (exit 1) and
/// payloads of its own.
fn failing_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"failer\"]\n",
    );
    write(
        &root.join("failer/Cargo.toml"),
        "[package]\nname = \"failer\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [package.metadata.lumos]\nprotocol = \"stdio\"\nruntimes = [\"native\", \"wasm\"]\npayloads = \"payloads.toml\"\n",
    );
    write(
        &root.join("failer/src/main.rs"),
        "use std::io::Read;\nfn main() {\n    let mut s = String::new();\n    std::io::stdin().read_to_string(&mut s).unwrap();\n    eprintln!(\"failer: refusing {}\", s.trim());\n    std::process::exit(1);\n}\n",
    );
    write(
        &root.join("failer/payloads.toml"),
        "[group.1]\nrequest = '{\"x\": 1}'\n",
    );
    dir
}

#[test]
fn a_failing_function_is_counted_in_errors_not_dropped() {
    require("docker-registry");
    let ws = failing_workspace();
    let target = tempfile::tempdir().unwrap();
    let json = target.path().join("b.json");
    let out = bench(
        &ws.path().join("Cargo.toml"),
        target.path(),
        &[
            "--runtime",
            "native,wasmi-interp",
            "--mode",
            "cold,warm",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--requests",
            "3",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    // Every cell failed: the bench measured nothing, and says so with its
    // exit status (issue 7), after writing what it saw.
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "exit 0 with every cell failed:\n{err}"
    );
    let last = err.trim_end().lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: the bench measured nothing"),
        "{err}"
    );
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(runs.len(), 4, "every cell has a row: {runs:#?}");
    for r in runs {
        let expected = if r["mode"] == "cold" { 1 } else { 3 };
        assert_eq!(r["errors"], expected, "{r}");
        assert_eq!(r["status"], "errors", "{r}");
        assert!(
            r["errors_by_kind"]["exit"].as_u64().unwrap_or(0) > 0,
            "the exit status is the error: {r}"
        );
        let sample = r["error_samples"][0].as_str().unwrap_or("");
        assert!(
            sample.contains("refusing") || sample.contains("exit"),
            "{r}"
        );
        // No request answered: no figures in the JSON either.
        for figure in [
            "latency_ms",
            "cold_start_ms",
            "cold_total_ms",
            "phases_ms",
            "cpu_ms",
            "peak_rss_bytes",
        ] {
            assert!(
                r[figure].is_null(),
                "{figure} of a row that never answered: {r}"
            );
        }
    }
    assert!(stdout(&out).contains("error(s)"), "{}", stdout(&out));
    // Its images say how it is invoked, so a runner needs no --protocol.
    let layout = lumos_oci::Layout::open(target.path().join("lumos/oci")).unwrap();
    let desc = layout.resolve("lumos/failer:wasm").unwrap();
    let m: lumos_oci::Manifest =
        serde_json::from_slice(&layout.read_blob(&desc.digest).unwrap()).unwrap();
    assert_eq!(m.annotations.unwrap()["dev.lumos.protocol"], "stdio");
    let config: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&m.config.digest).unwrap()).unwrap();
    assert_eq!(config["config"]["Labels"]["dev.lumos.protocol"], "stdio");
}
