use lumos_report::table;

use crate::fixture;

#[test]
fn snapshot() {
    insta::assert_snapshot!(table::render(&fixture::bench()));
}

/// The line of the table for one row.
/// The cells of the table's line for one row (columns are two or more
/// spaces apart; a cell such as `420 KiB` has one).
fn line<'a>(text: &'a str, function: &str, runtime: &str, mode: &str) -> Vec<&'a str> {
    text.lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        })
        .find(|w| w.len() > 3 && w[0] == function && w[1] == runtime && w[3] == mode)
        .unwrap_or_else(|| panic!("no line for {function} {runtime} {mode} in\n{text}"))
}

#[test]
fn rows_without_figures_show_status_and_error_count_only() {
    let text = table::render(&fixture::bench());
    for (rt, mode, status, errors) in [
        ("wasmedge-interp", "warm", "failed", "1"),
        // Status `errors`, but every request failed.
        ("wasmedge-interp", "cold", "failed", "2"),
        ("wasmedge-aot", "warm", "unavailable", "0"),
    ] {
        let w = line(&text, "fibonacci", rt, mode);
        assert_eq!(w.len(), 20, "{w:?}");
        assert!(w[4..18].iter().all(|c| *c == "-"), "{rt} {mode}: {w:?}");
        assert_eq!((w[18], w[19]), (errors, status), "{w:?}");
    }
    assert!(text.contains(
        "note: fibonacci wasmedge-interp warm g1: failed: request 1: timed out after 60000 ms"
    ));
    assert!(
        text.contains("note: fibonacci wasmedge-interp cold g1: failed: wasm trap: unreachable")
    );
    let table: Vec<&str> = text.lines().filter(|l| !l.starts_with("note:")).collect();
    assert!(
        !table.iter().any(|l| l.contains("60000")),
        "a timeout shown as a latency:\n{text}"
    );
}

#[test]
fn x_native_compares_like_with_like() {
    let text = table::render(&fixture::bench());
    // Same function, group and mode: 0.055 / 0.050, with its 95% interval
    // (both warm rows carry their median's).
    let x = line(&text, "fibonacci", "wasmtime-aot", "warm")[11];
    assert!(x.starts_with("1.10 ["), "{x}");
    let (lo, hi) = x[6..x.len() - 1].split_once(", ").unwrap();
    let (lo, hi): (f64, f64) = (lo.parse().unwrap(), hi.parse().unwrap());
    assert!(lo < 1.10 && 1.10 < hi, "{x}");
    // The row with some errors still has figures: 2.0 / 0.050.
    assert!(
        line(&text, "fibonacci", "wasmi-interp", "warm")[11].starts_with("40.00"),
        "{text}"
    );
    // A cold row has no interval for its ratio (a mean of a few repeats).
    let x = line(&text, "fibonacci", "wasmtime-aot", "cold")[11];
    assert!(!x.contains('['), "{x}");
    // A load level without OK answers has no latency.
    assert!(
        text.contains("c=10   closed            failed  ok 0 errors 40"),
        "{text}"
    );
}

#[test]
fn the_medians_interval_stands_beside_it_and_partial_cells_say_so() {
    let text = table::render(&fixture::bench());
    let w = line(&text, "fibonacci", "native", "warm");
    assert_eq!((w[7], w[8]), ("0.050", "[0.046, 0.055]"), "{w:?}");
    // No interval (3 samples, cold rows): a dash, not zeros.
    let w = line(&text, "fibonacci", "native", "cold");
    assert_eq!(w[8], "-", "{w:?}");
    let w = line(&text, "encrypt-message", "wasmedge-interp", "warm");
    assert_eq!((w[7], w[8]), ("45.0", "-"), "{w:?}");
    assert_eq!(w[19], "partial n=3", "{w:?}");
    assert!(
        text.contains(
            "note: encrypt-message wasmedge-interp warm g1: partial: 3 measured request(s)"
        ),
        "{text}"
    );
}

/// A stdio function's warm rows are a new process per request: said once
/// per function in the table's notes and in the report's mode cell, never
/// for a function with a long-lived instance or for a cold row.
#[test]
fn stdio_warm_rows_are_labelled_process_per_request() {
    let mut b = fixture::bench();
    for r in b
        .runs
        .iter_mut()
        .filter(|r| r.function == "encrypt-message")
    {
        r.protocol = lumos_model::Protocol::Stdio;
    }
    let text = table::render(&b);
    let notes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("process per request"))
        .collect();
    assert_eq!(notes.len(), 1, "{text}");
    assert!(
        notes[0].starts_with("note: encrypt-message: protocol stdio"),
        "{text}"
    );
    assert!(!table::render(&fixture::bench()).contains("process per request"));

    let doc = scraper::Html::parse_document(&lumos_report::html::render(&b));
    let sel = scraper::Selector::parse("table.rows tbody tr").unwrap();
    let td = scraper::Selector::parse("td").unwrap();
    let rows: Vec<Vec<String>> = doc
        .select(&sel)
        .map(|tr| {
            tr.select(&td)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect()
        })
        .collect();
    let mode = |f: &str, rt: &str, m: &str| {
        rows.iter()
            .find(|r| r[0] == f && r[1] == rt && r[3].starts_with(m))
            .map(|r| r[3].clone())
            .unwrap_or_else(|| panic!("no {f} {rt} {m} row"))
    };
    assert_eq!(
        mode("encrypt-message", "native", "warm"),
        "warm (process per request)"
    );
    assert_eq!(mode("encrypt-message", "native", "cold"), "cold");
    assert_eq!(mode("fibonacci", "native", "warm"), "warm");
}
