//! The summary table printed at the end of a bench run, then one note per
//! distinct reason a row has no figures, then one line per load level.

use comfy_table::{CellAlignment, Table};
use lumos_model::{BenchOutput, RunRow};

use crate::compare::{x_native, x_native_ci95};
use crate::format::{first_line, fmt_bytes, fmt_ms, fmt_ms_ci, fmt_ratio_ci};
use crate::shown::{reason, Figures, Shown};

const HEADER: [&str; 20] = [
    "function",
    "runtime",
    "g",
    "mode",
    "image",
    "unpacked",
    "cold ms",
    "p50 ms",
    "p50 95% CI",
    "mean ms",
    "sd",
    "x native",
    "io",
    "deser",
    "compute",
    "ser",
    "cpu ms",
    "rss",
    "err",
    "status",
];
/// Text columns, left-aligned; the others are numbers, right-aligned.
const LEFT: [usize; 4] = [0, 1, 3, 19];
/// Where the `node` column goes when a row ran on a node (`--node`).
const NODE_AT: usize = 4;

/// Header and dashes only; columns two spaces apart (comfy-table preset).
const PRESET: &str = "     --            ";

/// The table as text.
pub fn render(out: &BenchOutput) -> String {
    let rows = &out.runs;
    let mut text = String::new();
    let singles: Vec<&RunRow> = rows.iter().filter(|r| r.workflow.is_none()).collect();
    if !singles.is_empty() {
        // A node column only when some row ran on a node.
        let nodes = singles.iter().any(|r| r.node.is_some());
        let mut header = HEADER.to_vec();
        let mut left = LEFT.to_vec();
        if nodes {
            header.insert(NODE_AT, "node");
            left = left
                .into_iter()
                .map(|i| if i >= NODE_AT { i + 1 } else { i })
                .chain([NODE_AT])
                .collect();
        }
        let mut t = Table::new();
        t.load_preset(PRESET).set_header(&header);
        for r in singles {
            let mut c = cells(rows, r);
            if nodes {
                c.insert(
                    NODE_AT,
                    r.node.as_ref().map_or("-".into(), |n| n.to_string()),
                );
            }
            t.add_row(c);
        }
        for (i, c) in t.column_iter_mut().enumerate() {
            c.set_padding((0, if i + 1 == header.len() { 0 } else { 1 }));
            if !left.contains(&i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        text.extend(t.lines().map(|l| format!("{}\n", l.trim_end())));
    }
    text.push_str(&workflow_table(rows));
    text.push_str(&neighbour_table(out));
    // Each cold kind is its own row; say once what each one shown means.
    for m in lumos_model::Mode::COLD {
        if rows.iter().any(|r| r.mode == *m) {
            let paper = if *m == lumos_model::Mode::ColdCached {
                " (the paper's setting)"
            } else {
                ""
            };
            text.push_str(&format!("{m}: {}{paper}\n", m.describe()));
        }
    }
    for n in notes(rows) {
        text.push_str(&n);
        text.push('\n');
    }
    text.push_str(&endpoints(rows));
    if let Some(l) = crate::format::limits(&out.settings) {
        text.push_str(&format!("limits per instance: {l}\n"));
    }
    if let Some(l) = crate::format::baas_link(&out.settings) {
        text.push_str(&format!("storage link: {l}\n"));
    }
    for n in &out.settings.nodes {
        text.push_str(&format!("node {}\n", crate::format::node(n)));
    }
    for k in &out.settings.skipped {
        text.push_str(&format!(
            "note: {} on {} was skipped (--skip)\n",
            k.function, k.runtime
        ));
    }
    for (runtime, why) in out
        .settings
        .runtimes
        .iter()
        .filter_map(|(r, w)| Some((r, w.as_deref()?)))
    {
        let why = why
            .strip_prefix(&format!("{runtime} is not available: "))
            .unwrap_or(why);
        text.push_str(&format!("note: {runtime} is unavailable: {why}\n"));
    }
    let errors: u64 = rows.iter().map(|r| r.errors).sum();
    if errors > 0 {
        text.push_str(&format!(
            "note: {errors} error(s) in {} row(s); see `errors` and `error_samples` in --json\n",
            rows.iter().filter(|r| r.errors > 0).count()
        ));
    }
    text.push_str(&load_lines(rows));
    text
}

fn cells(rows: &[RunRow], r: &RunRow) -> Vec<String> {
    let dash = || "-".to_string();
    let f = Figures::of(r);
    let lat = f.and_then(Figures::latency);
    let ph = f.and_then(Figures::phases);
    vec![
        r.function.clone(),
        r.runtime.to_string(),
        r.group.to_string(),
        if r.neighbour.is_some() {
            format!("{} +neighbour", r.mode)
        } else {
            r.mode.to_string()
        },
        f.and_then(Figures::compressed).map_or_else(dash, fmt_bytes),
        f.and_then(Figures::unpacked).map_or_else(dash, fmt_bytes),
        f.and_then(Figures::cold_total)
            .map_or_else(dash, |(t, _)| fmt_ms(t)),
        lat.map_or_else(dash, |l| fmt_ms(l.p50)),
        lat.and_then(|l| l.p50_ci95).map_or_else(dash, fmt_ms_ci),
        lat.map_or_else(dash, |l| fmt_ms(l.mean)),
        lat.map_or_else(dash, |l| fmt_ms(l.stddev)),
        x_native(rows, r).map_or_else(dash, |x| fmt_ratio_ci(x, x_native_ci95(rows, r))),
        ph.map_or_else(dash, |p| fmt_ms(p.io)),
        ph.map_or_else(dash, |p| fmt_ms(p.deserialize)),
        ph.map_or_else(dash, |p| fmt_ms(p.compute)),
        ph.map_or_else(dash, |p| fmt_ms(p.serialize)),
        f.and_then(Figures::cpu_ms).map_or_else(dash, fmt_ms),
        f.and_then(Figures::peak_rss).map_or_else(dash, fmt_bytes),
        r.errors.to_string(),
        match Shown::partial_n(r) {
            Some(n) => format!("partial n={n}"),
            None => Shown::status_word(r).to_string(),
        },
    ]
}

/// The workflow rows, as a table of their own, and what its figures mean.
fn workflow_table(rows: &[RunRow]) -> String {
    use crate::workflows;
    if workflows::rows(rows).next().is_none() {
        return String::new();
    }
    let mut t = Table::new();
    t.load_preset(PRESET).set_header(workflows::HEADER);
    for (r, w) in workflows::rows(rows) {
        t.add_row(workflows::cells(r, w));
    }
    let last = workflows::HEADER.len() - 1;
    for (i, c) in t.column_iter_mut().enumerate() {
        c.set_padding((0, if i == last { 0 } else { 1 }));
        if !matches!(i, 0 | 1 | 3 | 4 | 10 | 11) && i != last {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut text: String = t.lines().map(|l| format!("{}\n", l.trim_end())).collect();
    text.push_str(workflows::NOTE);
    text.push('\n');
    text
}

/// `--endpoint(s)`: where each (function, runtime) was measured, once each.
fn endpoints(rows: &[RunRow]) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut text = String::new();
    for r in rows {
        if let Some(e) = &r.endpoint {
            if seen.insert((&r.function, r.runtime, &e.url, &e.host)) {
                text.push_str(&format!(
                    "endpoint: {} {}: {} (Host {}); figures include the ingress and the network\n",
                    r.function, r.runtime, e.url, e.host
                ));
            }
        }
    }
    text
}

/// Each cell measured with its neighbour beside itself without one, and
/// what the neighbour did.
fn neighbour_table(out: &BenchOutput) -> String {
    use crate::neighbours;
    if neighbours::pairs(&out.runs).next().is_none() {
        return String::new();
    }
    let mut t = Table::new();
    t.load_preset(PRESET).set_header(neighbours::HEADER);
    for (r, n, base) in neighbours::pairs(&out.runs) {
        t.add_row(neighbours::cells(r, n, base));
    }
    let last = neighbours::HEADER.len() - 1;
    for (i, c) in t.column_iter_mut().enumerate() {
        c.set_padding((0, if i == last { 0 } else { 1 }));
        if !neighbours::TEXT.contains(&i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut text: String = t.lines().map(|l| format!("{}\n", l.trim_end())).collect();
    if let Some(d) = neighbours::describe(out) {
        text.push_str(&d);
        text.push('\n');
    }
    for n in neighbours::notes(&out.runs) {
        text.push_str(&n);
        text.push('\n');
    }
    text
}

/// Why rows failed or were not run, once per distinct reason.
fn notes(rows: &[RunRow]) -> Vec<String> {
    let mut notes: Vec<String> = vec![];
    for r in rows.iter().filter(|r| Shown::of(r) != Shown::Figures) {
        let why = match reason(r) {
            Some(e) => first_line(e, 200),
            None if r.requests > 0 => format!("all {} requests failed", r.requests),
            None => continue,
        };
        let n = format!(
            "note: {} {} {} g{}: {}: {why}",
            r.function,
            r.runtime,
            r.mode,
            r.group,
            Shown::status_word(r)
        );
        if !notes.contains(&n) {
            notes.push(n);
        }
    }
    let mut ppr: Vec<&str> = vec![];
    for r in rows.iter().filter(|r| Shown::process_per_request(r)) {
        if !ppr.contains(&r.function.as_str()) {
            ppr.push(&r.function);
            notes.push(format!(
                "note: {}: protocol stdio starts a new process for every request: its warm \
                 and load rows measure process per request, not a warm instance",
                r.function
            ));
        }
    }
    for r in rows {
        if let Some(n) = Shown::partial_n(r) {
            notes.push(format!(
                "note: {} {} {} g{}: partial: {n} measured request(s) before the time cap \
                 (--max-time) ended the cell; its figures rest on them",
                r.function, r.runtime, r.mode, r.group
            ));
        }
    }
    notes
}

/// Load levels, one line each (a level without OK answers says so).
fn load_lines(rows: &[RunRow]) -> String {
    let mut out = String::new();
    for r in rows.iter().filter(|r| r.load.is_some()) {
        let Some(f) = Figures::of(r) else {
            continue;
        };
        for lv in f.row().load.iter().flatten() {
            let figures = if lv.ok > 0 {
                format!(
                    "{:>9.1} req/s  p50 {} ms  p99 {} ms",
                    lv.throughput_rps,
                    fmt_ms(lv.latency_ms.p50),
                    fmt_ms(lv.latency_ms.p99)
                )
            } else {
                format!("{:>9}", "failed")
            };
            out.push_str(&format!(
                "load {} {} g{}{} c={:<4} {:<14} {figures}  ok {} errors {}\n",
                r.function,
                r.runtime,
                r.group,
                r.node
                    .as_ref()
                    .map_or(String::new(), |n| format!(" on {}", n.name)),
                lv.concurrency,
                lv.mode.as_str(),
                lv.ok,
                lv.errors
            ));
        }
    }
    out
}
