//! `cargo lumos bench --neighbour`: a CPU-bound function measured warm with
//! a CPU-bound neighbour beside it (closed loop, native) and without it;
//! an open-loop neighbour that keeps to its rate. The neighbour is a real
//! instance: its requests inside the cell's measured window are counted.
//! Speeds are figures (scripts/bench), not assertions: the machine is shared.

use crate::common::*;

fn num(v: &serde_json::Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

#[test]
fn a_cpu_bound_cell_is_measured_without_then_with_a_busy_neighbour() {
    require("docker-registry");
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let (json, html) = (out_dir.path().join("n.json"), out_dir.path().join("n.html"));
    // fibonacci group 3 (F(10^6), tens of ms per request) warm on native;
    // beside it prime-numbers (not selected with -p: built and pushed for
    // the neighbour), native by default, closed loop.
    let out = bench_builtins(&[
        "-p",
        "fibonacci",
        "--runtime",
        "native",
        "--group",
        "3",
        "--mode",
        "warm",
        "--repeat",
        "1",
        "--warmup",
        "1",
        "--requests",
        "5",
        "--min-requests",
        "5",
        "--min-time",
        "0.001",
        "--neighbour",
        "prime-numbers",
        "--json",
        json.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // prime-numbers' image was built, packed and pushed for the neighbour:
    // its requests below are answered (the target dir is shared with other
    // tests, so build.json alone would prove nothing).

    let j = read_json(&json);
    let s = &j["settings"];
    assert_eq!(s["neighbour"]["function"], "prime-numbers", "{s}");
    assert_eq!(s["neighbour"]["runtime"], "native", "{s}");
    assert!(s["neighbour"]["rate"].is_null(), "closed loop: {s}");
    assert_eq!(s["neighbour_baseline"], true, "{s}");

    let runs = rows(&j);
    assert_eq!(runs.len(), 2, "one cell, without and with: {runs:#?}");
    let without = &runs[0];
    let with = &runs[1];
    for r in runs {
        assert_eq!(
            (&r["function"], &r["runtime"], &r["mode"], &r["group"]),
            (
                &"fibonacci".into(),
                &"native".into(),
                &"warm".into(),
                &3.into()
            )
        );
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert!(num(&r["latency_ms"]["p50"], "p50") > 0.0);
    }
    assert!(
        without["neighbour"].is_null(),
        "baseline row: {}",
        without["neighbour"]
    );
    let n = &with["neighbour"];
    assert_eq!(n["function"], "prime-numbers", "{n}");
    assert_eq!(n["runtime"], "native", "{n}");
    assert!(n["error"].is_null(), "{n}");
    // It really ran, inside the cell's measured window: requests sent and
    // answered OK between the window's opening and its close.
    let window = num(&n["window_ms"], "window_ms");
    let ok = num(&n["ok"], "ok");
    let requests = num(&n["requests"], "requests");
    let rps = num(&n["achieved_rps"], "achieved_rps");
    assert!(window > 0.0, "{n}");
    assert!(ok > 0.0 && requests >= ok, "{n}");
    assert_eq!(n["failed"], 0, "{n}");
    assert!(rps > 0.0, "{n}");
    assert!(
        (rps * window / 1e3 - ok).abs() < 1e-6 * ok.max(1.0),
        "achieved rate = OK answers over the window: {n}"
    );
    assert!(
        num(&n["before_window"], "before_window") >= 1.0,
        "busy before the window opened: {n}"
    );
    eprintln!(
        "figures: fibonacci g3 native warm p50 {} ms without, {} ms with prime-numbers \
         (closed loop, {rps:.1} req/s, {ok} ok over {window:.0} ms)",
        without["latency_ms"]["p50"], with["latency_ms"]["p50"]
    );

    // The table and the report set the two side by side.
    let table = stdout(&out);
    assert!(
        table.contains("warm +neighbour") && table.contains("with / without"),
        "{table}"
    );
    assert!(
        table.contains("neighbour: prime-numbers@native, closed loop (concurrency 1)"),
        "{table}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>Co-located load</h2>"), "no section");
    assert!(
        err.contains("fibonacci native g3 warm +neighbour: ok"),
        "{err}"
    );
}

#[test]
fn an_open_loop_neighbour_keeps_near_its_rate() {
    require("docker-registry");
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("o.json");
    // A cheap neighbour (fibonacci group 1, well under a ms) at 40 req/s
    // beside a cell that measures for at least 2 s; with it only.
    let rate = 40.0;
    let out = bench_builtins(&[
        "-p",
        "fibonacci",
        "--runtime",
        "native",
        "--group",
        "1",
        "--mode",
        "warm",
        "--repeat",
        "1",
        "--warmup",
        "1",
        "--requests",
        "20",
        "--min-requests",
        "20",
        "--min-time",
        "2",
        "--neighbour",
        "fibonacci@native:40",
        "--no-neighbour-baseline",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    assert_eq!(
        j["settings"]["neighbour"]["rate"], rate,
        "{}",
        j["settings"]
    );
    assert!(
        j["settings"]["neighbour_baseline"].is_null(),
        "{}",
        j["settings"]
    );
    let runs = rows(&j);
    assert_eq!(runs.len(), 1, "with the neighbour only: {runs:#?}");
    let r = &runs[0];
    assert_eq!(r["status"], "ok", "{r}");
    let n = &r["neighbour"];
    assert_eq!(n["rate"], rate, "{n}");
    let window = num(&n["window_ms"], "window_ms");
    assert!(window >= 2000.0, "the cell measured 2 s at least: {n}");
    let rps = num(&n["achieved_rps"], "achieved_rps");
    // Open loop: near the schedule, not as fast as it answers (a closed
    // loop of this function would be thousands per second). Loose: the
    // machine is shared.
    assert!(rps >= 0.3 * rate, "achieved {rps:.1} of {rate} req/s: {n}");
    assert!(
        rps <= 1.25 * rate,
        "achieved {rps:.1} req/s, above its schedule of {rate}: {n}"
    );
    eprintln!(
        "figures: open-loop neighbour at {rate} req/s achieved {rps:.1} req/s over {window:.0} ms"
    );
}

/// A workspace with two `stdio` functions: `echoer` answers with its
/// request, `failer` always fails (exit 1).
fn echo_and_fail_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"echoer\", \"failer\"]\n",
    );
    for (name, main) in [
        (
            "echoer",
            "use std::io::{Read, Write};\nfn main() {\n    let mut s = Vec::new();\n    std::io::stdin().read_to_end(&mut s).unwrap();\n    std::io::stdout().write_all(&s).unwrap();\n}\n",
        ),
        (
            "failer",
            "fn main() {\n    eprintln!(\"failer: refusing\");\n    std::process::exit(1);\n}\n",
        ),
    ] {
        write(
            &root.join(name).join("Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [package.metadata.lumos]\nprotocol = \"stdio\"\nruntimes = [\"native\"]\npayloads = \"payloads.toml\"\n"
            ),
        );
        write(&root.join(name).join("src/main.rs"), main);
        write(
            &root.join(name).join("payloads.toml"),
            "[group.1]\nrequest = '{\"x\": 1}'\n",
        );
    }
    dir
}

#[test]
fn a_neighbour_that_cannot_answer_fails_its_cells_row_only() {
    require("docker-registry");
    let ws = echo_and_fail_workspace();
    let target = tempfile::tempdir().unwrap();
    let json = target.path().join("f.json");
    let out = bench(
        &ws.path().join("Cargo.toml"),
        target.path(),
        &[
            "-p",
            "echoer",
            "--runtime",
            "native",
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
            "--neighbour",
            "failer",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    // The baseline row measured something: not an error.
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0]["status"], "ok", "{}", runs[0]);
    assert!(runs[0]["neighbour"].is_null());
    let r = &runs[1];
    assert_eq!(r["status"], "failed", "{r}");
    let why = r["error"].as_str().unwrap_or("");
    assert!(
        why.starts_with("neighbour failer@native: its first request failed"),
        "{r}"
    );
    assert!(r["latency_ms"].is_null(), "no figures: {r}");
    assert_eq!(r["neighbour"]["function"], "failer", "{r}");
    assert_eq!(r["neighbour"]["error"], why, "{r}");
    let table = stdout(&out);
    assert!(
        table.contains("note: echoer native warm g1: failed: neighbour failer@native"),
        "{table}"
    );
}
