//! This run against the paper's findings: for each finding and each runtime
//! it is about, the paper's figure, this run's median ratio to native, and
//! whether this run reproduces the paper's direction.

use lumos_model::{BenchOutput, Mode, Runtime};
use maud::{html, Markup};

use crate::compare::{median, median_ratio, MedianRatio};
use crate::series::ImageKind;
use crate::shown::Figures;

/// Which way a ratio to native must go to agree with the paper.
#[derive(Debug, Clone, Copy)]
enum Direction {
    /// ratio < x
    Below(f64),
    /// ratio <= x
    AtMost(f64),
    /// ratio > x
    Above(f64),
}

impl Direction {
    fn holds(self, ratio: f64) -> bool {
        match self {
            Direction::Below(x) => ratio < x,
            Direction::AtMost(x) => ratio <= x,
            Direction::Above(x) => ratio > x,
        }
    }

    fn text(self) -> String {
        match self {
            Direction::Below(x) => format!("< {x}x"),
            Direction::AtMost(x) => format!("≤ {x}x"),
            Direction::Above(x) => format!("> {x}x"),
        }
    }
}

/// What a line of the table compares with native.
#[derive(Debug, Clone, Copy)]
enum Subject {
    /// An image kind: image sizes, one cell per function.
    Image(ImageKind),
    /// A runtime: one cell per function and group of `mode`.
    Runtime(Runtime, Mode, fn(Figures) -> Option<f64>),
}

/// One finding of the paper (DESIGN.md, from arXiv 2510.05118).
struct Finding {
    /// What the paper found, in its words.
    claim: &'static str,
    /// What this run compares.
    measure: &'static str,
    /// The paper's figure, as a ratio to native.
    paper: &'static str,
    direction: Direction,
    subjects: Vec<Subject>,
}

fn warm_p50(f: Figures) -> Option<f64> {
    f.latency().map(|l| l.p50)
}
fn cold_total(f: Figures) -> Option<f64> {
    f.cold_total().map(|(t, _)| t)
}
fn io(f: Figures) -> Option<f64> {
    f.phases().map(|p| p.io).filter(|&v| v > 0.0)
}
fn serde(f: Figures) -> Option<f64> {
    f.phases()
        .map(|p| p.serialize + p.deserialize)
        .filter(|&v| v > 0.0)
}

const AOT: [Runtime; 2] = [Runtime::WasmtimeAot, Runtime::WasmedgeAot];
const INTERP: [Runtime; 2] = [Runtime::WasmiInterp, Runtime::WasmedgeInterp];

fn findings() -> Vec<Finding> {
    let on = |rts: [Runtime; 2], mode, f: fn(Figures) -> Option<f64>| {
        rts.iter().map(|&r| Subject::Runtime(r, mode, f)).collect()
    };
    vec![
        Finding {
            claim: "wasm images up to 30x smaller than containers (on debian-slim)",
            measure: "compressed image size",
            paper: "down to 0.033x (30x smaller)",
            direction: Direction::Below(1.0),
            subjects: [
                ImageKind::Wasm,
                ImageKind::AotWasmtime,
                ImageKind::AotWasmedge,
            ]
            .into_iter()
            .map(Subject::Image)
            .collect(),
        },
        Finding {
            claim: "AoT wasm warm latency within about 1.1x of native",
            measure: "warm latency p50",
            paper: "about 1.1x",
            direction: Direction::AtMost(1.1),
            subjects: on(AOT, Mode::Warm, warm_p50),
        },
        Finding {
            claim: "interpreted wasm 30-55x slower than native, warm",
            measure: "warm latency p50",
            paper: "30-55x",
            direction: Direction::Above(1.0),
            subjects: on(INTERP, Mode::Warm, warm_p50),
        },
        // Like with like: the paper measured Knative scaling from zero with
        // `imagePullPolicy: IfNotPresent` on a node that held the image, which
        // is `cold-cached`. The other kinds are shown beside it, not as the test.
        Finding {
            claim: "AoT wasm cold start up to 16% below containers",
            measure: "cold start total, cold-cached: the paper's setting (Knative, imagePullPolicy IfNotPresent, image on the node)",
            paper: "down to 0.84x",
            direction: Direction::Below(1.0),
            subjects: on(AOT, Mode::ColdCached, cold_total),
        },
        Finding {
            claim: "AoT wasm cold start up to 16% below containers",
            measure: "cold start total, cold: pull + unpack included (not the paper's setting; image size weighs in)",
            paper: "down to 0.84x",
            direction: Direction::Below(1.0),
            subjects: on(AOT, Mode::Cold, cold_total),
        },
        Finding {
            claim: "AoT wasm cold start up to 16% below containers",
            measure: "cold start total, cold-node: as cold after dropping the page cache (not the paper's setting)",
            paper: "down to 0.84x",
            direction: Direction::Below(1.0),
            subjects: on(AOT, Mode::ColdNode, cold_total),
        },
        Finding {
            claim: "interpreted wasm I/O up to 7x native",
            measure: "I/O phase, warm mean",
            paper: "up to 7x",
            direction: Direction::Above(1.0),
            subjects: on(INTERP, Mode::Warm, io),
        },
        Finding {
            claim: "interpreted wasm (de)serialization over 10x native",
            measure: "(de)serialization phases, warm mean",
            paper: "over 10x",
            direction: Direction::Above(1.0),
            subjects: on(INTERP, Mode::Warm, serde),
        },
    ]
}

/// Median of the compressed size of `kind`'s image over native's, one cell
/// per function (the image is the same in every group and mode).
fn image_ratio(out: &BenchOutput, kind: ImageKind) -> Option<MedianRatio> {
    let size = |f: &str, k: ImageKind| {
        out.runs
            .iter()
            .filter(|r| r.function == f && ImageKind::of(r.runtime) == k)
            .filter_map(Figures::of)
            .find_map(Figures::compressed)
    };
    median(
        super::functions(out)
            .into_iter()
            .filter_map(|f| Some(size(f, kind)? as f64 / size(f, ImageKind::Native)? as f64))
            .collect(),
    )
}

fn ratio(out: &BenchOutput, s: Subject) -> Option<MedianRatio> {
    match s {
        Subject::Image(k) => image_ratio(out, k),
        Subject::Runtime(rt, mode, f) => {
            median_ratio(&out.runs, |r| r.runtime == rt && r.mode == mode, f)
        }
    }
}

fn subject_name(s: Subject) -> &'static str {
    match s {
        Subject::Image(k) => k.name(),
        Subject::Runtime(r, ..) => r.as_str(),
    }
}

pub(super) fn section(out: &BenchOutput) -> Markup {
    let base = out.settings.native_base.as_str();
    html! {
        h2 { "This run against the paper's findings" }
        p.note {
            "Ratios are medians, over the functions and groups measured here, of each cell \
             against native on the same function, group and mode; cells without figures \
             (failed, unavailable) are left out. \"Reproduces\" says whether this run's median \
             goes the paper's way (the test column); the paper's figure stands beside ours. \
             The paper ran WasmEdge (interpreter and AoT); the other wasm runtimes are held \
             to the same findings. Cold starts are compared kind with kind: cold-cached (a new \
             instance on a node that already holds the image) is the paper's setting; cold \
             (with the pull) and cold-node (page cache dropped too) are shown beside it."
        }
        table.findings {
            thead {
                tr {
                    th { "paper's finding" } th { "measure" } th { "image or runtime" }
                    th { "paper" } th { "this run (median ratio to native)" } th { "cells" }
                    th { "test" } th { "reproduces" }
                }
            }
            tbody {
                @for f in findings() {
                    @for s in &f.subjects {
                        @let r = ratio(out, *s);
                        tr {
                            td.text { (f.claim) }
                            td.text { (f.measure) }
                            td.text { (subject_name(*s)) }
                            td { (f.paper) }
                            td {
                                @if let Some(m) = r {
                                    (format!("{:.2}x", m.median))
                                    @if matches!(s, Subject::Image(_)) && base != "debian-slim" {
                                        " (native on " (base) ")"
                                    }
                                } @else { "–" }
                            }
                            td { @if let Some(m) = r { (m.cells) } @else { "0" } }
                            td { (f.direction.text()) }
                            @match r {
                                Some(m) if f.direction.holds(m.median) => td.text.yes { "yes" },
                                Some(_) => td.text.no { "no" },
                                None => td.text.na { "n/a: not measured" },
                            }
                        }
                    }
                }
            }
        }
    }
}
