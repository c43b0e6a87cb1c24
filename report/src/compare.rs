//! "x native": ratios of a row to its native counterpart, and medians of
//! such ratios, shared by the table and the report.
//!
//! Like is compared with like: the native row of the same function, payload
//! group and mode, and only when both rows have figures to show (never a
//! ratio to or of a failed or unavailable row).

use lumos_model::{RunRow, Runtime};

use crate::shown::Figures;

/// The native row `r` is compared with: same function, group and mode,
/// measured with a neighbour beside it when `r` was, with figures. `None` when there is none (or `r` itself has no figures).
pub fn native_of<'a>(rows: &'a [RunRow], r: &RunRow) -> Option<Figures<'a>> {
    Figures::of(r)?;
    rows.iter()
        .filter(|n| {
            n.runtime == Runtime::Native
                && n.function == r.function
                && n.group == r.group
                && n.mode == r.mode
                // With a neighbour beside it or not (`--neighbour`).
                && n.neighbour.is_some() == r.neighbour.is_some()
                // On the same node (`--node`), or both on none.
                && n.node.as_ref().map(|x| &x.name) == r.node.as_ref().map(|x| &x.name)
        })
        .find_map(Figures::of)
}

/// The headline of `r` over the headline of its native row.
pub fn x_native(rows: &[RunRow], r: &RunRow) -> Option<f64> {
    ratio_of(rows, r, |f| f.headline_ms())
}

/// The 95% interval of [`x_native`] where both rows carry the intervals it
/// needs: warm-style rows (headline p50) with a median interval each, by
/// `lumos_stats::ratio_of_medians_ci95`. None for cold rows (their headline
/// is a mean of a few repeats, without an interval).
pub fn x_native_ci95(rows: &[RunRow], r: &RunRow) -> Option<[f64; 2]> {
    let own = Figures::of(r)?;
    if r.mode.is_cold() {
        return None;
    }
    let base = native_of(rows, r)?;
    let (a, b) = (own.latency()?, base.latency()?);
    lumos_stats::ratio_of_medians_ci95(a.p50, a.p50_ci95?, b.p50, b.p50_ci95?)
}

/// `f` of `r` over `f` of its native row, when both exist and the native one
/// is positive.
pub fn ratio_of(rows: &[RunRow], r: &RunRow, f: impl Fn(Figures) -> Option<f64>) -> Option<f64> {
    let own = f(Figures::of(r)?)?;
    let base = f(native_of(rows, r)?)?;
    (base > 0.0 && own.is_finite()).then(|| own / base)
}

/// A median of ratios and how many cells it is over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianRatio {
    pub median: f64,
    pub cells: usize,
}

/// The median of `ratios` (None when empty).
pub fn median(mut ratios: Vec<f64>) -> Option<MedianRatio> {
    ratios.retain(|r| r.is_finite());
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let median = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    Some(MedianRatio { median, cells: n })
}

/// The median over the rows `select` picks of `f` against native (same
/// function, group and mode; both with figures).
pub fn median_ratio(
    rows: &[RunRow],
    select: impl Fn(&RunRow) -> bool,
    f: impl Fn(Figures) -> Option<f64> + Copy,
) -> Option<MedianRatio> {
    median(
        rows.iter()
            .filter(|r| select(r))
            .filter_map(|r| ratio_of(rows, r, f))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use lumos_model::{LatencyStats, Mode, Status};

    use super::*;

    fn warm(runtime: Runtime, p50: f64, status: Status) -> RunRow {
        RunRow {
            function: "f".into(),
            runtime,
            group: 1,
            mode: Mode::Warm,
            status,
            latency_ms: Some(LatencyStats {
                n: 5,
                p50,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn like_with_like_and_never_a_failed_row() {
        let n = warm(Runtime::Native, 2.0, Status::Ok);
        let w = warm(Runtime::WasmiInterp, 60.0, Status::Ok);
        let rows = vec![n.clone(), w.clone()];
        assert_eq!(x_native(&rows, &w), Some(30.0));
        assert_eq!(x_native(&rows, &n), Some(1.0));
        // Another group or mode is not the same cell.
        let mut g2 = w.clone();
        g2.group = 2;
        assert_eq!(x_native(&rows, &g2), None);
        let mut cold = w.clone();
        cold.mode = Mode::Cold;
        assert_eq!(x_native(&rows, &cold), None);
        // A failed native row is no base, a failed row has no ratio.
        let rows = vec![warm(Runtime::Native, 2.0, Status::Failed), w.clone()];
        assert_eq!(x_native(&rows, &w), None);
        let f = warm(Runtime::WasmiInterp, 60_000.0, Status::Failed);
        let rows = vec![n.clone(), f.clone()];
        assert_eq!(x_native(&rows, &f), None);
        // Nor does a row whose every request failed.
        let mut all = warm(Runtime::WasmiInterp, 60_000.0, Status::Errors);
        all.requests = 3;
        all.errors = 3;
        let rows = vec![n, all.clone()];
        assert_eq!(x_native(&rows, &all), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]).unwrap().median, 2.0);
        assert_eq!(
            median(vec![4.0, 1.0]).unwrap(),
            MedianRatio {
                median: 2.5,
                cells: 2
            }
        );
    }
}
