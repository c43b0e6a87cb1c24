//! CDFs of the I/O and (de)serialization phases of warm requests, for the
//! functions that do storage I/O.

use std::collections::BTreeSet;

use lumos_model::{BenchOutput, Mode, Phases};
use maud::{html, Markup};

use super::{figure, runtimes};
use crate::chart::{Line, Lines, Point};
use crate::series::Series;
use crate::shown::{Figures, Shown};

fn cdf(mut samples: Vec<f64>) -> Vec<Point> {
    samples.sort_by(f64::total_cmp);
    let n = samples.len() as f64;
    samples
        .into_iter()
        .enumerate()
        .map(|(i, x)| Point {
            x,
            y: (i + 1) as f64 / n,
            label: None,
        })
        .collect()
}

pub(super) fn section(out: &BenchOutput) -> Markup {
    let warm = || out.runs.iter().filter(|r| r.mode == Mode::Warm);
    // (function, group) cells where some runtime measured storage I/O.
    let keys: BTreeSet<(&str, u8)> = warm()
        .filter_map(Figures::of)
        .filter(|f| f.row().phase_samples.iter().any(|p| p.io > 0.0))
        .map(|f| (f.row().function.as_str(), f.row().group))
        .collect();
    let rts = runtimes(out);
    html! {
        h2 { "I/O and (de)serialization CDFs" }
        p.note {
            "Per warm request, as timed inside the function by the SDK: " b { "I/O" }
            " is the storage calls through the host (WASI on wasm), " b { "(de)serialization" }
            " is decoding the request and stored objects plus encoding the response. Only \
             functions that do storage I/O are shown."
        }
        @if keys.is_empty() {
            p.bad { "No warm run of a function that does storage I/O." }
        }
        @for (func, g) in &keys {
            h3 { (func) " group " (g) }
            @for (what, f) in [
                ("I/O per request (ms)", (|p: &Phases| p.io) as fn(&Phases) -> f64),
                ("(de)serialization per request (ms)", |p: &Phases| p.deserialize + p.serialize),
            ] {
                @let lines: Vec<Line> = rts.iter().filter_map(|&rt| {
                    let r = warm().find(|r| r.function == *func && r.group == *g && r.runtime == rt)?;
                    Some(match Figures::of(r) {
                        Some(fig) if !fig.row().phase_samples.is_empty() => Line {
                            series: Series::Runtime(rt),
                            points: cdf(fig.row().phase_samples.iter().map(f).collect()),
                            marked: None,
                        },
                        Some(_) => return None,
                        None => Line { series: Series::Runtime(rt), points: vec![], marked: Some(Shown::of(r)) },
                    })
                }).collect();
                (figure(Lines {
                    title: format!("{func} g{g}: CDF of {what}"),
                    lines,
                    x_label: "ms (log scale)".to_string(),
                    y_label: "fraction of requests".to_string(),
                    log_x: true,
                    log_y: false,
                    step: true,
                }.svg()))
            }
        }
    }
}
