//! `--report FILE.html`: one self-contained page (inline CSS and SVG, no
//! scripts, nothing fetched) with the paper's figures drawn from this run:
//! the run's set-up, this run against the paper's findings, image sizes,
//! execution time per group (warm and cold), I/O and (de)serialization CDFs,
//! CPU and memory, the link to the storage server, throughput against
//! latency, workflows (makespan, steps and hand-overs), co-located load
//! (each cell with and without its neighbour), the nodes functions were
//! placed on (a section per node), and every row.
//!
//! HTML is written with maud (escaping is the template's job); one module per
//! section.

mod cdfs;
mod cpu_mem;
mod exec_time;
mod findings;
mod header;
mod images;
mod neighbours;
mod network;
mod nodes;
mod rows;
mod throughput;
mod workflows;

use lumos_model::{BenchOutput, Mode, RunRow, Runtime};
use maud::{html, Markup, PreEscaped};

use crate::chart::ChartError;

const CSS: &str = include_str!("style.css");

/// The report as one HTML document.
pub fn render(out: &BenchOutput) -> String {
    page(out).into_string()
}

fn page(out: &BenchOutput) -> Markup {
    // The paper's figures are of single functions; workflow rows have a
    // section of their own (and a line in every row's table).
    // With `--neighbour` and its baseline, they are drawn from the rows
    // measured without the neighbour (the section "Co-located load" sets
    // the two side by side).
    let baseline = out.runs.iter().any(|r| r.neighbour.is_none());
    // With `--node`, the figures are drawn from the rows of one node (each
    // cell of the first node that has it; the section "Nodes" sets the
    // nodes side by side).
    let first_node = nodes::figures_node(out);
    let singles = BenchOutput {
        runs: out
            .runs
            .iter()
            .filter(|r| r.workflow.is_none() && (r.neighbour.is_none() || !baseline))
            .filter(|r| nodes::drawn(out, r, first_node.as_deref()))
            .cloned()
            .collect(),
        ..out.clone()
    };
    html! {
        (PreEscaped("<!doctype html>"))
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Lumos bench" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "Lumos bench" }
                p.note {
                    "WebAssembly and native runtimes for serverless functions, measured as in \
                     \"Lumos: Performance Characterization of WebAssembly as a Serverless Runtime \
                     in the Edge-Cloud Continuum\" (arXiv 2510.05118). Every figure is drawn from \
                     this run's data. A failed or unavailable cell, or one whose every request \
                     failed, shows its status and error only: in charts it is an outlined slot \
                     marked " b.bad { "failed" } " or " b.na { "n/a" } ", never a value."
                }
                (header::section(out))
                (findings::section(&singles))
                (images::section(&singles))
                (exec_time::section(&singles))
                (cdfs::section(&singles))
                (cpu_mem::section(&singles))
                (network::section(&singles))
                (throughput::section(&singles))
                (workflows::section(out))
                (neighbours::section(out))
                (nodes::section(out))
                (rows::section(out))
            }
        }
    }
}

/// An inline chart, or the reason it could not be drawn.
fn figure(chart: Result<String, ChartError>) -> Markup {
    match chart {
        Ok(svg) => html! { figure.chart { (PreEscaped(svg)) } },
        Err(e) => {
            let cause = std::error::Error::source(&e).map(ToString::to_string);
            html! { p.bad { (e) @if let Some(c) = cause { ": " (c) } } }
        }
    }
}

/// The functions of the run, in their first-seen order.
fn functions(out: &BenchOutput) -> Vec<&str> {
    let mut seen: Vec<&str> = vec![];
    for r in &out.runs {
        if !seen.contains(&r.function.as_str()) {
            seen.push(&r.function);
        }
    }
    seen
}

/// The runtimes of the run, in the vocabulary's order.
fn runtimes(out: &BenchOutput) -> Vec<Runtime> {
    Runtime::ALL
        .iter()
        .copied()
        .filter(|rt| out.runs.iter().any(|r| r.runtime == *rt))
        .collect()
}

/// The row of one cell of the matrix.
fn find<'a>(
    out: &'a BenchOutput,
    function: &str,
    runtime: Runtime,
    group: u8,
    mode: Mode,
) -> Option<&'a RunRow> {
    out.runs.iter().find(|r| {
        r.function == function && r.runtime == runtime && r.group == group && r.mode == mode
    })
}
