//! CPU time and peak memory of the instances, per function and runtime.

use lumos_model::{BenchOutput, Mode};
use maud::{html, Markup};

use super::{figure, find, functions, runtimes};
use crate::chart::{BarSeries, Bars, Cell};
use crate::series::Series;
use crate::shown::Figures;

/// Title, mode, unit and the figure of a row.
type Chart<'a> = (&'a str, Mode, &'a str, &'a dyn Fn(Figures) -> Option<f64>);

pub(super) fn section(out: &BenchOutput) -> Markup {
    let fns = functions(out);
    let rts = runtimes(out);
    let g = out.runs.iter().map(|r| r.group).min().unwrap_or(1);
    let warmup = out.settings.warmup as f64;
    let per_request = move |f: Figures| {
        let r = f.row();
        let per_run = r.requests as f64 / r.repeats.max(1) as f64 + warmup;
        f.cpu_ms().map(|c| c / per_run.max(1.0))
    };
    let charts: [Chart; 3] = [
        (
            "CPU time of a cold start (ms, log scale)",
            Mode::Cold,
            "ms",
            &|f: Figures| f.cpu_ms(),
        ),
        (
            "CPU time per warm request (ms, log scale)",
            Mode::Warm,
            "ms",
            &per_request,
        ),
        ("Peak RSS, warm (MiB)", Mode::Warm, "MiB", &|f: Figures| {
            f.peak_rss().map(|b| b as f64 / (1 << 20) as f64)
        }),
    ];
    html! {
        h2 { "CPU and memory" }
        p.note {
            b { "CPU" } ": user and system time of the instance's process(es). Cold: one cold \
             start (start, ready, one request), mean of the repeats. Warm: the instance's whole \
             life (start, warm-up and measured requests) divided by the requests it served. "
            b { "Memory" } ": the largest peak resident set size over the repeats, read as \
             " code { "VmHWM" } " from " code { "/proc/PID/status" } " of the live instance \
             process just before it ends: the function's own process for native (in its \
             sandbox), the shim process hosting the engine for wasm, so the engine and its \
             glue count with the function. It counts that process's own pages only (not the \
             runner that spawned it)."
        }
        @for (title, mode, unit, f) in charts {
            @let chart = Bars {
                title: format!("{title}, group {g}"),
                categories: fns.iter().map(|f| f.to_string()).collect(),
                series: rts
                    .iter()
                    .map(|&rt| BarSeries {
                        series: Series::Runtime(rt),
                        cells: fns.iter().map(|func| Cell::of(find(out, func, rt, g, mode), f)).collect(),
                    })
                    .filter(|s| s.cells.iter().any(|c| *c != Cell::Empty))
                    .collect(),
                y_label: unit.to_string(),
                log: unit == "ms",
            };
            @if !chart.is_empty() { (figure(chart.svg())) }
        }
    }
}
