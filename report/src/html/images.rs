//! Image sizes per function and image kind, compressed and unpacked.

use lumos_model::BenchOutput;
use maud::{html, Markup};

use super::{figure, functions};
use crate::chart::{BarSeries, Bars, Cell};
use crate::series::{ImageKind, Series};
use crate::shown::{Figures, Shown};

/// The cell of `kind`'s image of `function`: its size from a row with
/// figures, else the marker of its rows when none has figures.
fn cell(out: &BenchOutput, function: &str, kind: ImageKind, f: fn(Figures) -> Option<u64>) -> Cell {
    let rows: Vec<_> = out
        .runs
        .iter()
        .filter(|r| r.function == function && ImageKind::of(r.runtime) == kind)
        .collect();
    if let Some(v) = rows.iter().filter_map(|r| Figures::of(r)).find_map(f) {
        return Cell::Value(v as f64);
    }
    match rows.first() {
        Some(r) if rows.iter().all(|r| Figures::of(r).is_none()) => Cell::Marked(Shown::of(r)),
        _ => Cell::Empty,
    }
}

pub(super) fn section(out: &BenchOutput) -> Markup {
    let fns = functions(out);
    let categories: Vec<String> = fns.iter().map(|f| f.to_string()).collect();
    let charts = [
        (
            "Compressed image size (bytes, log scale)",
            (|f: Figures| f.compressed()) as fn(Figures) -> Option<u64>,
        ),
        ("Unpacked image size (bytes, log scale)", |f: Figures| {
            f.unpacked()
        }),
    ]
    .map(|(title, f)| Bars {
        title: title.to_string(),
        categories: categories.clone(),
        series: ImageKind::ALL
            .iter()
            .map(|&k| BarSeries {
                series: Series::Image(k),
                cells: fns.iter().map(|func| cell(out, func, k, f)).collect(),
            })
            .filter(|s| s.cells.iter().any(|c| *c != Cell::Empty))
            .collect(),
        y_label: "bytes".to_string(),
        log: true,
    });
    html! {
        h2 { "Image sizes per function and runtime" }
        p.note {
            "Sizes as pulled from the registry (compressed layers) and unpacked (files in the \
             root filesystem). The wasm image is one for wasmtime-jit, wasmi-interp and \
             wasmedge-interp. Native images are on " code { (out.settings.native_base) }
            "; the paper's containers were on debian-slim."
        }
        @if charts.iter().all(Bars::is_empty) {
            p.bad { "No image was pulled." }
        } @else {
            @for c in &charts { (figure(c.svg())) }
        }
    }
}
