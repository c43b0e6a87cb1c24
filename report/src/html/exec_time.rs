//! Execution time per payload group: warm p50 and cold start, per function.

use std::collections::BTreeSet;

use lumos_model::{BenchOutput, Mode};
use maud::{html, Markup};

use super::{figure, find, functions, runtimes};
use crate::chart::{BarSeries, Bars, Cell};
use crate::series::Series;
use crate::shown::Figures;

/// A figure and its 95% interval, when the row has one.
type WithCi = Option<(f64, Option<[f64; 2]>)>;

fn warm_p50(f: Figures) -> WithCi {
    f.latency().map(|l| (l.p50, l.p50_ci95))
}
fn cold_total(f: Figures) -> WithCi {
    f.cold_total()
}

pub(super) fn section(out: &BenchOutput) -> Markup {
    let rts = runtimes(out);
    html! {
        h2 { "Execution time per payload group" }
        p.note {
            "Warm: median host round trip of the measured requests on a ready instance, with \
             its 95% confidence interval as an error bar (order statistics; none below 6 \
             requests); a partial cell (cut short by the time cap) is hatched and labelled \
             with its n. Cold \
             starts, one chart per kind (mean of the repeats): cold-cached, a new instance of an \
             image the node already holds (the paper's setting); cold, pull into an empty cache, \
             unpack, start, ready, first response; cold-node, as cold after dropping the page \
             cache. Log scale."
        }
        @for func in functions(out) {
            @let groups: BTreeSet<u8> = out.runs.iter().filter(|r| r.function == func).map(|r| r.group).collect();
            h3 { (func) }
            @for (mode, label, f) in [
                (Mode::Warm, "warm p50 (ms)", warm_p50 as fn(Figures) -> WithCi),
                (Mode::ColdCached, "cold start total, cold-cached (ms)", cold_total),
                (Mode::Cold, "cold start total, cold (ms)", cold_total),
                (Mode::ColdNode, "cold start total, cold-node (ms)", cold_total),
            ] {
                @let chart = Bars {
                    title: format!("{func}: {label}"),
                    categories: groups.iter().map(|g| format!("group {g}")).collect(),
                    series: rts
                        .iter()
                        .map(|&rt| BarSeries {
                            series: Series::Runtime(rt),
                            cells: groups.iter().map(|&g| Cell::with_ci(find(out, func, rt, g, mode), f)).collect(),
                        })
                        .filter(|s| s.cells.iter().any(|c| *c != Cell::Empty))
                        .collect(),
                    y_label: "ms".to_string(),
                    log: true,
                };
                @if !chart.is_empty() { (figure(chart.svg())) }
            }
        }
    }
}
