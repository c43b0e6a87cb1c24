//! Which figures of a row may be shown: the one rule every renderer follows.
//!
//! A row whose status has no figures (`failed`, `unavailable`) and a row whose
//! every request failed (requests > 0 and errors == requests, whatever its
//! status says) are drawn as what they are, with their status and error only:
//! no latency, cold start, phase, CPU, memory, size or ratio, even when the
//! result carries numbers for them (a 60 s request timeout is not a latency).

use lumos_model::{ColdStart, LatencyStats, LoadLevel, Phases, RunRow, Status};

/// How a row is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Its figures stand (status `ok` or `errors` with some OK answers).
    Figures,
    /// The run failed, or every request of it did.
    Failed,
    /// The runtime cannot run here or the function does not support it.
    Unavailable,
}

impl Shown {
    /// How `r` is drawn.
    pub fn of(r: &RunRow) -> Shown {
        match r.status {
            Status::Unavailable => Shown::Unavailable,
            Status::Failed => Shown::Failed,
            s if s.has_figures() && every_request_failed(r) => Shown::Failed,
            _ => Shown::Figures,
        }
    }

    /// The word shown for the row's status: its own, except `failed` for a
    /// row whose every request failed.
    pub fn status_word(r: &RunRow) -> &'static str {
        match Shown::of(r) {
            Shown::Failed => Status::Failed.as_str(),
            _ => r.status.as_str(),
        }
    }

    /// The n of a `partial` row (its figures stand, on fewer requests than
    /// asked for: drawn marked as partial with this n); None for any other.
    pub fn partial_n(r: &RunRow) -> Option<u64> {
        (r.status == Status::Partial && Shown::of(r) == Shown::Figures)
            .then(|| r.latency_ms.map_or(r.ok, |l| l.n))
    }

    /// Whether `r`'s latencies are of a new process per request rather than
    /// of a warm instance: a `stdio` function (one request per process) in
    /// a warm or load row. The table notes it; the HTML says it in the mode cell.
    pub fn process_per_request(r: &RunRow) -> bool {
        r.protocol == lumos_model::Protocol::Stdio && !r.mode.is_cold()
    }

    /// The short marker a chart draws in place of a value.
    pub fn marker(self) -> Option<&'static str> {
        match self {
            Shown::Figures => None,
            Shown::Failed => Some("failed"),
            Shown::Unavailable => Some("n/a"),
        }
    }
}

/// Requests were made and none answered OK.
pub fn every_request_failed(r: &RunRow) -> bool {
    r.requests > 0 && r.errors >= r.requests
}

/// Why a row has no figures (or what went wrong in it): its error, else its
/// first error sample.
pub fn reason(r: &RunRow) -> Option<&str> {
    r.error
        .as_deref()
        .or_else(|| r.error_samples.first().map(String::as_str))
}

/// The figures of a row that may be shown; `None` for a row without figures.
#[derive(Debug, Clone, Copy)]
pub struct Figures<'a>(&'a RunRow);

impl<'a> Figures<'a> {
    /// The row's figures, if it has any to show.
    pub fn of(r: &'a RunRow) -> Option<Figures<'a>> {
        (Shown::of(r) == Shown::Figures).then_some(Figures(r))
    }

    pub fn row(self) -> &'a RunRow {
        self.0
    }

    pub fn cold(self) -> Option<ColdStart> {
        self.0.cold_start_ms
    }

    /// The cold start total shown: the median over the repeats with its 95%
    /// interval; the mean (no interval) for results written before rows
    /// carried `cold_total_ms`.
    pub fn cold_total(self) -> Option<(f64, Option<[f64; 2]>)> {
        match self.0.cold_total_ms.filter(|l| l.n > 0) {
            Some(l) => Some((l.p50, l.p50_ci95)),
            None => self.cold().map(|c| (c.total, None)),
        }
    }

    /// Latency with at least one sample.
    pub fn latency(self) -> Option<LatencyStats> {
        self.0.latency_ms.filter(|l| l.n > 0)
    }

    pub fn phases(self) -> Option<Phases> {
        self.0.phases_ms
    }

    pub fn cpu_ms(self) -> Option<f64> {
        self.0.cpu_ms
    }

    /// Peak RSS, when one was read.
    pub fn peak_rss(self) -> Option<u64> {
        self.0.peak_rss_bytes.filter(|&b| b > 0)
    }

    /// Compressed image size, when the image was pulled.
    pub fn compressed(self) -> Option<u64> {
        Some(self.0.image.compressed_bytes).filter(|&b| b > 0)
    }

    /// Unpacked image size, when the image was unpacked.
    pub fn unpacked(self) -> Option<u64> {
        Some(self.0.image.unpacked_bytes).filter(|&b| b > 0)
    }

    /// Load levels with at least one OK answer (a level where every request
    /// failed has no latency or throughput to show).
    pub fn load_levels(self) -> impl Iterator<Item = &'a LoadLevel> {
        self.0.load.iter().flatten().filter(|l| l.ok > 0)
    }

    /// The headline number: cold start total for cold rows (every cold kind), p50 otherwise.
    pub fn headline_ms(self) -> Option<f64> {
        match self.0.mode {
            m if m.is_cold() => self.cold_total().map(|(t, _)| t),
            _ => self.latency().map(|l| l.p50),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, requests: u64, errors: u64) -> RunRow {
        RunRow {
            status,
            requests,
            errors,
            latency_ms: Some(LatencyStats {
                n: 1,
                p50: 3.0,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cold_totals_show_the_median_and_fall_back_to_the_mean() {
        let mut r = row(Status::Ok, 3, 0);
        r.mode = lumos_model::Mode::Cold;
        r.cold_start_ms = Some(ColdStart {
            total: 40.0,
            ..Default::default()
        });
        let f = Figures::of(&r).unwrap();
        assert_eq!(f.cold_total(), Some((40.0, None)));
        r.cold_total_ms = Some(LatencyStats {
            n: 10,
            p50: 31.0,
            p50_ci95: Some([29.0, 35.0]),
            ..Default::default()
        });
        let f = Figures::of(&r).unwrap();
        assert_eq!(f.cold_total(), Some((31.0, Some([29.0, 35.0]))));
        assert_eq!(f.headline_ms(), Some(31.0));
    }

    #[test]
    fn every_failed_request_makes_a_failed_row() {
        assert_eq!(Shown::of(&row(Status::Ok, 5, 0)), Shown::Figures);
        assert_eq!(Shown::of(&row(Status::Errors, 5, 2)), Shown::Figures);
        let all = row(Status::Errors, 5, 5);
        assert_eq!(Shown::of(&all), Shown::Failed);
        assert_eq!(Shown::status_word(&all), "failed");
        assert!(Figures::of(&all).is_none());
        assert_eq!(Shown::of(&row(Status::Failed, 0, 0)), Shown::Failed);
        assert_eq!(
            Shown::of(&row(Status::Unavailable, 0, 0)),
            Shown::Unavailable
        );
        // No requests made (a cold row that failed outright says so in its status).
        assert_eq!(Shown::of(&row(Status::Ok, 0, 0)), Shown::Figures);
    }
}
