//! Each cold kind shown on its own, and the paper's cold-start finding
//! tested on the kind that matches the paper's setting (cold-cached).

use lumos_model::{BenchOutput, ColdStart, LatencyStats, Mode, RunRow, Runtime, Status};
use lumos_report::{csv, html, table};

fn row(runtime: Runtime, mode: Mode, total: f64) -> RunRow {
    let pulls = mode.pulls();
    RunRow {
        function: "fibonacci".into(),
        runtime,
        group: 1,
        mode,
        status: Status::Ok,
        cold_start_ms: Some(ColdStart {
            pull: pulls.then_some(total * 0.5),
            unpack: pulls.then_some(total * 0.1),
            start: total * 0.2,
            ready: total * 0.1,
            first_response: total * 0.1,
            total,
        }),
        latency_ms: Some(LatencyStats {
            n: 1,
            p50: total * 0.1,
            ..Default::default()
        }),
        repeats: 1,
        requests: 1,
        ok: 1,
        ..Default::default()
    }
}

/// AoT below native without the pull (the paper's direction), above it with.
fn out() -> BenchOutput {
    BenchOutput {
        runs: vec![
            row(Runtime::Native, Mode::ColdCached, 50.0),
            row(Runtime::WasmtimeAot, Mode::ColdCached, 40.0),
            row(Runtime::Native, Mode::Cold, 100.0),
            row(Runtime::WasmtimeAot, Mode::Cold, 200.0),
        ],
        ..Default::default()
    }
}

#[test]
fn the_paper_cold_start_finding_is_tested_on_cold_cached() {
    let page = html::render(&out());
    // One findings line per kind, each its own ratio; cold-cached named as the paper's setting.
    let line = |needle: &str| -> String {
        let i = page
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in the page"));
        page[i..i + page[i..].find("</tr>").unwrap()].to_string()
    };
    let cached = line("cold-cached: the paper's setting");
    assert!(
        cached.contains("0.80x") && cached.contains(">yes<"),
        "{cached}"
    );
    let cold = line("cold: pull + unpack included");
    assert!(cold.contains("2.00x") && cold.contains(">no<"), "{cold}");
    // A chart per kind.
    assert!(page.contains("cold start total, cold-cached (ms)"));
    assert!(page.contains("cold start total, cold (ms)"));
}

#[test]
fn the_table_and_csv_show_each_kind_apart() {
    let text = table::render(&out());
    for kind in ["cold-cached", "cold"] {
        let n = text
            .lines()
            .filter(|l| l.split_whitespace().nth(3) == Some(kind))
            .count();
        assert_eq!(n, 2, "{kind} rows in\n{text}");
    }
    assert!(text.contains("cold-cached: new instance, image already in the node's cache (no pull) (the paper's setting)"), "{text}");
    // No pull phase in a cold-cached line: the CSV field is empty, not 0.
    let csv = csv::render(&out()).unwrap();
    let cached: Vec<&str> = csv
        .lines()
        .find(|l| l.contains(",cold-cached,"))
        .unwrap()
        .split(',')
        .collect();
    assert_eq!((cached[9], cached[10]), ("", ""), "{cached:?}");
}
