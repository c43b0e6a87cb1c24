//! Throughput against latency per concurrency level, for load rows.

use std::collections::BTreeSet;

use lumos_model::{BenchOutput, LoadLevel, Mode};
use maud::{html, Markup};

use super::{figure, runtimes};
use crate::chart::{Line, Lines, Point};
use crate::series::Series;
use crate::shown::{Figures, Shown};

pub(super) fn section(out: &BenchOutput) -> Markup {
    let loads: Vec<_> = out
        .runs
        .iter()
        .filter(|r| r.mode == Mode::Load || r.load.as_ref().is_some_and(|l| !l.is_empty()))
        .collect();
    let keys: BTreeSet<(&str, u8)> = loads
        .iter()
        .map(|r| (r.function.as_str(), r.group))
        .collect();
    let rts = runtimes(out);
    html! {
        h2 { "Throughput against latency per concurrency level" }
        @if loads.is_empty() {
            p.note {
                "No load runs (add " code { "--mode load" } " or "
                code { "--concurrency 1,10,50,100,200" } ")."
            }
        } @else {
            p.note {
                "Each point is one concurrency level (c instances; closed loop: one client per \
                 instance; open loop: latency from the intended start, so queueing counts). x: \
                 OK answers per second; y: latency of OK answers. A level without OK answers \
                 has no point; a row without figures is marked in the legend."
            }
        }
        @for (func, g) in &keys {
            @let cell: Vec<_> = loads.iter().filter(|r| r.function == *func && r.group == *g).collect();
            @let mode = cell.iter().find_map(|r| r.load.as_ref()?.first().map(|l| l.mode.as_str())).unwrap_or("closed");
            @for (q, f) in [
                ("p50", (|l: &LoadLevel| l.latency_ms.p50) as fn(&LoadLevel) -> f64),
                ("p99", |l: &LoadLevel| l.latency_ms.p99),
            ] {
                @let lines: Vec<Line> = rts.iter().filter_map(|&rt| {
                    let r = cell.iter().find(|r| r.runtime == rt)?;
                    let series = Series::Runtime(rt);
                    let points: Vec<Point> = Figures::of(r)
                        .map(|fig| fig.load_levels().map(|l| Point {
                            x: l.throughput_rps,
                            y: f(l),
                            label: Some(format!("c={}", l.concurrency)),
                        }).collect())
                        .unwrap_or_default();
                    // A row with figures but no level with an OK answer failed too.
                    let marked = match Shown::of(r) {
                        Shown::Figures if points.is_empty() => Some(Shown::Failed),
                        Shown::Figures => None,
                        s => Some(s),
                    };
                    Some(Line { series, points, marked })
                }).collect();
                (figure(Lines {
                    title: format!("{func} g{g} ({mode}): {q} latency against throughput"),
                    lines,
                    x_label: "throughput (req/s)".to_string(),
                    y_label: format!("{q} latency (ms, log)"),
                    log_x: false,
                    log_y: true,
                    step: false,
                }.svg()))
            }
        }
    }
}
