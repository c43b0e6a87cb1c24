//! Every row of the result, in a table that scrolls inside the page with
//! its header kept in view.

use lumos_model::{BenchOutput, RunRow};
use maud::{html, Markup};

use crate::compare::{x_native, x_native_ci95};
use crate::format::{first_line, fmt_bytes, fmt_ms, fmt_ms_ci, fmt_ratio_ci};
use crate::shown::{reason, Figures, Shown};

const HEADER: [&str; 28] = [
    "function",
    "runtime",
    "group",
    "mode",
    "status",
    "image",
    "unpacked",
    "cold total ms",
    "pull",
    "unpack",
    "start",
    "ready",
    "first resp.",
    "n",
    "p50 ms",
    "p50 95% CI",
    "mean",
    "sd",
    "p99",
    "x native",
    "io",
    "deser",
    "compute",
    "ser",
    "cpu ms",
    "peak RSS",
    "errors",
    "error",
];

/// The figure cells of a row (from `image` to `peak RSS`), `–` where there
/// is no figure to show.
fn figure_cells(rows: &[RunRow], r: &RunRow) -> Vec<String> {
    let d = || "–".to_string();
    let f = Figures::of(r);
    let c = f.and_then(Figures::cold);
    let l = f.and_then(Figures::latency);
    let p = f.and_then(Figures::phases);
    vec![
        f.and_then(Figures::compressed).map_or_else(d, fmt_bytes),
        f.and_then(Figures::unpacked).map_or_else(d, fmt_bytes),
        c.map_or_else(d, |c| fmt_ms(c.total)),
        c.and_then(|c| c.pull).map_or_else(d, fmt_ms),
        c.and_then(|c| c.unpack).map_or_else(d, fmt_ms),
        c.map_or_else(d, |c| fmt_ms(c.start)),
        c.map_or_else(d, |c| fmt_ms(c.ready)),
        c.map_or_else(d, |c| fmt_ms(c.first_response)),
        l.map_or_else(d, |l| l.n.to_string()),
        l.map_or_else(d, |l| fmt_ms(l.p50)),
        l.and_then(|l| l.p50_ci95).map_or_else(d, fmt_ms_ci),
        l.map_or_else(d, |l| fmt_ms(l.mean)),
        l.map_or_else(d, |l| fmt_ms(l.stddev)),
        l.map_or_else(d, |l| fmt_ms(l.p99)),
        x_native(rows, r).map_or_else(d, |x| fmt_ratio_ci(x, x_native_ci95(rows, r))),
        p.map_or_else(d, |p| fmt_ms(p.io)),
        p.map_or_else(d, |p| fmt_ms(p.deserialize)),
        p.map_or_else(d, |p| fmt_ms(p.compute)),
        p.map_or_else(d, |p| fmt_ms(p.serialize)),
        f.and_then(Figures::cpu_ms).map_or_else(d, fmt_ms),
        f.and_then(Figures::peak_rss).map_or_else(d, fmt_bytes),
    ]
}

pub(super) fn section(out: &BenchOutput) -> Markup {
    // A node column only when some row ran on a node (`--node`).
    let nodes = out.runs.iter().any(|r| r.node.is_some());
    html! {
        h2 { "Every row" }
        p.note {
            "Times in ms; cold columns are the phases of a cold start (mean of the repeats), \
             n to p99 the warm latency (p50 95% CI: the median's confidence interval), io to ser the SDK's split of a request (mean). x native: \
             the row's headline (cold total, else p50) over native's on the same function, \
             group and mode, with its 95% interval where both rows have one."
        }
        div.scroll {
            table.rows {
                thead { tr {
                    @for (i, h) in HEADER.iter().enumerate() {
                        @if i == 4 && nodes { th { "node" } }
                        th { (h) }
                    }
                } }
                tbody {
                    @for r in &out.runs {
                        @let shown = Shown::of(r);
                        @let why = reason(r);
                        tr.(format!("row-{}", Shown::status_word(r))) {
                            td.text {
                                (r.function)
                                @if let Some(e) = &r.endpoint {
                                    " at " (e.url) " (Host " (e.host) ")"
                                }
                            }
                            td.text { (r.runtime.as_str()) }
                            td { (r.group) }
                            td.text {
                                (r.mode.as_str())
                                @if Shown::process_per_request(r) {
                                    " (process per request)"
                                }
                                @if let Some(n) = &r.neighbour {
                                    " + neighbour " (n.label())
                                }
                            }
                            @if nodes {
                                td.text { (r.node.as_ref().map_or("–".to_string(), |n| n.to_string())) }
                            }
                            @if let Some(n) = Shown::partial_n(r) {
                                td.text.partial title="cut short by the time cap (--max-time)" { "partial n=" (n) }
                            } @else if shown == Shown::Figures && r.errors == 0 {
                                td.text { (Shown::status_word(r)) }
                            } @else {
                                td.text.bad title=[why] { (Shown::status_word(r)) }
                            }
                            @for c in figure_cells(&out.runs, r) { td { (c) } }
                            td { (r.errors) }
                            td.text title=[why] { (why.map(|w| first_line(w, 120)).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}
