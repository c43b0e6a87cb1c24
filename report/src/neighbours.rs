//! Co-located load (`--neighbour`): each cell measured with its neighbour
//! beside its row measured without one (same function, runtime, group and
//! mode), their headlines (cold median, else warm p50) and the ratio, with
//! what the neighbour did meanwhile. Shared by the terminal table and the
//! HTML report's section.

use lumos_model::{BenchOutput, NeighbourRecord, RunRow};

use crate::format::{fmt_ms, fmt_ratio};
use crate::shown::{Figures, Shown};

/// The columns of a neighbour line.
pub const HEADER: [&str; 12] = [
    "function",
    "runtime",
    "g",
    "mode",
    "without ms",
    "with ms",
    "with / without",
    "neighbour",
    "asked",
    "achieved req/s",
    "ok / failed",
    "status",
];

/// Text columns (the others are numbers).
pub const TEXT: [usize; 6] = [0, 1, 3, 7, 8, 11];

/// The rows measured with a neighbour, each with its baseline row (None
/// when the cell was measured with the neighbour only).
pub fn pairs(
    rows: &[RunRow],
) -> impl Iterator<Item = (&RunRow, &NeighbourRecord, Option<&RunRow>)> {
    rows.iter().filter_map(move |r| {
        let n = r.neighbour.as_ref()?;
        let base = rows.iter().find(|b| {
            b.neighbour.is_none()
                && b.workflow.is_none()
                && b.function == r.function
                && b.runtime == r.runtime
                && b.group == r.group
                && b.mode == r.mode
        });
        Some((r, n, base))
    })
}

/// The headline of a row with figures: the cold start median (cold kinds),
/// else the warm p50.
fn headline(r: &RunRow) -> Option<f64> {
    Figures::of(r)?.headline_ms()
}

/// with / without, when both rows show a headline.
pub fn ratio(with: &RunRow, without: Option<&RunRow>) -> Option<f64> {
    let (a, b) = (headline(with)?, headline(without?)?);
    (b > 0.0).then(|| a / b)
}

/// A neighbour line's cells, `-` where no figure stands.
pub fn cells(r: &RunRow, n: &NeighbourRecord, base: Option<&RunRow>) -> Vec<String> {
    let dash = || "-".to_string();
    let ran = n.error.is_none() || n.requests > 0;
    vec![
        r.function.clone(),
        r.runtime.to_string(),
        r.group.to_string(),
        r.mode.to_string(),
        base.and_then(headline).map_or_else(dash, fmt_ms),
        headline(r).map_or_else(dash, fmt_ms),
        ratio(r, base).map_or_else(dash, fmt_ratio),
        format!("{}@{}", n.function, n.runtime),
        n.rate
            .map_or_else(|| "closed c=1".to_string(), |r| format!("{r} req/s")),
        if ran {
            format!("{:.1}", n.achieved_rps)
        } else {
            dash()
        },
        if ran {
            format!("{} / {}", n.ok, n.failed)
        } else {
            dash()
        },
        Shown::status_word(r).to_string(),
    ]
}

/// The settings line: what ran beside the cells and how.
pub fn describe(out: &BenchOutput) -> Option<String> {
    let n = out.settings.neighbour.as_ref()?;
    Some(format!(
        "neighbour: {}@{}, {}, one instance beside every cell ({}); with / without: the \
         cell's headline (cold median, else warm p50) with the neighbour over without it; \
         achieved req/s: its OK answers per second over the cell's measured window",
        n.function,
        n.runtime,
        n.arrival(),
        if out.settings.neighbour_baseline {
            "each cell measured without it, then with it"
        } else {
            "measured with it only"
        }
    ))
}

/// Notes about neighbours that did not run as asked.
pub fn notes(rows: &[RunRow]) -> Vec<String> {
    pairs(rows)
        // A row the neighbour kept from running says why itself.
        .filter(|(r, _, _)| Shown::of(r) == Shown::Figures)
        .filter_map(|(r, n, _)| {
            let e = n.error.as_ref()?;
            Some(format!(
                "note: {} {} {} g{}: neighbour {}: {}",
                r.function,
                r.runtime,
                r.mode,
                r.group,
                n.label(),
                crate::format::first_line(e, 200)
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumos_model::{LatencyStats, Mode, Neighbour, Runtime, Settings, Status};

    fn warm(p50: f64, neighbour: Option<NeighbourRecord>) -> RunRow {
        RunRow {
            function: "fibonacci".into(),
            runtime: Runtime::Native,
            group: 3,
            mode: Mode::Warm,
            status: Status::Ok,
            requests: 5,
            ok: 5,
            latency_ms: Some(LatencyStats {
                n: 5,
                p50,
                mean: p50,
                ..Default::default()
            }),
            neighbour,
            ..Default::default()
        }
    }

    #[test]
    fn a_cell_with_its_neighbour_is_compared_with_itself_without() {
        let rec = NeighbourRecord {
            function: "prime-numbers".into(),
            runtime: Runtime::Native,
            window_ms: 2000.0,
            requests: 41,
            ok: 40,
            failed: 0,
            achieved_rps: 20.0,
            ..Default::default()
        };
        let out = BenchOutput {
            settings: Settings {
                neighbour: Some(Neighbour {
                    function: "prime-numbers".into(),
                    runtime: Runtime::Native,
                    rate: None,
                }),
                neighbour_baseline: true,
                ..Default::default()
            },
            runs: vec![warm(100.0, None), warm(150.0, Some(rec))],
            ..Default::default()
        };
        let p: Vec<_> = pairs(&out.runs).collect();
        assert_eq!(p.len(), 1);
        let c = cells(p[0].0, p[0].1, p[0].2);
        assert_eq!(
            (c[4].as_str(), c[5].as_str(), c[6].as_str()),
            ("100", "150", "1.50")
        );
        assert_eq!((c[8].as_str(), c[9].as_str()), ("closed c=1", "20.0"));
        let text = crate::table::render(&out);
        assert!(text.contains("with / without"), "{text}");
        assert!(text.contains("warm +neighbour"), "{text}");
        assert!(
            text.contains("neighbour: prime-numbers@native, closed loop"),
            "{text}"
        );
        let page = crate::html::render(&out);
        assert!(page.contains("<h2>Co-located load</h2>"), "no section");
        // The paper's figures use the rows without the neighbour; x native
        // compares like with like.
        assert_eq!(
            crate::compare::native_of(&out.runs, &out.runs[1]).map(|f| f.row().neighbour.is_some()),
            Some(true)
        );
        // A failed row with its neighbour shows no ratio.
        let failed = RunRow {
            status: Status::Failed,
            latency_ms: None,
            ..out.runs[1].clone()
        };
        assert_eq!(ratio(&failed, Some(&out.runs[0])), None);
    }
}
