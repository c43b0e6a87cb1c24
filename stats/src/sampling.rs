//! How many samples a cell takes, by count and by time, as hyperfine does:
//! at least `min_requests` measured requests and at least `min_time` of
//! measuring, and no new run once `max_time` has passed. A cell the cap
//! stops before its minimum is *partial*: its figures stand, on the n it
//! got, and say so (status `partial`), never an error.
//!
//! The rule is checked between runs (a run is one instance serving its
//! requests): a run under way is not cut, its requests are bounded by the
//! per-request timeout.

use std::time::Duration;

/// The sample-size rule of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    /// Runs to make whatever the other bounds say (`--repeat`).
    pub min_runs: usize,
    /// Measured requests to reach (`--min-requests`, default 10).
    pub min_requests: u64,
    /// Time to spend measuring at least (`--min-time`, default 3 s).
    pub min_time: Duration,
    /// No new run starts after this (`--max-time`).
    pub max_time: Duration,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            min_runs: 1,
            min_requests: 10,
            min_time: Duration::from_secs(3),
            max_time: Duration::from_secs(120),
        }
    }
}

/// What to do after some runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Start another run.
    Run,
    /// Enough samples and time: the cell is complete.
    Done,
    /// The cap passed before the minimum: the cell is partial.
    Partial,
    /// A run failed outright or none of its requests answered: more runs
    /// would not add samples; the cell ends as its runs say.
    Stop,
}

impl Sampling {
    /// After `runs` runs, `measured` samples and `elapsed` of the cell,
    /// `failed`: whether a run failed outright or measured nothing.
    pub fn next(&self, runs: usize, measured: u64, elapsed: Duration, failed: bool) -> Next {
        let minimum = runs >= self.min_runs && measured >= self.min_requests;
        if minimum && elapsed >= self.min_time {
            return Next::Done;
        }
        if failed && runs >= self.min_runs {
            return Next::Stop;
        }
        if runs > 0 && elapsed >= self.max_time {
            return if minimum { Next::Done } else { Next::Partial };
        }
        Next::Run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn count_and_time_both_bound_a_cell_from_below() {
        let s = Sampling {
            min_runs: 3,
            ..Sampling::default()
        };
        // Fewer runs than --repeat: run.
        assert_eq!(s.next(2, 500, 10 * S, false), Next::Run);
        // Enough runs and requests, not yet the minimum time: run.
        assert_eq!(s.next(3, 150, S / 100, false), Next::Run);
        // Enough time, too few requests: run.
        assert_eq!(s.next(3, 9, 4 * S, false), Next::Run);
        assert_eq!(s.next(3, 10, 3 * S, false), Next::Done);
    }

    #[test]
    fn a_tiny_cap_makes_a_slow_cell_partial() {
        let s = Sampling {
            min_runs: 1,
            min_requests: 10,
            min_time: Duration::from_millis(10),
            max_time: Duration::from_millis(1),
        };
        // One run of 3 slow requests took past the cap: partial, never more runs.
        assert_eq!(s.next(1, 3, Duration::from_millis(5), false), Next::Partial);
        // The first run always starts.
        assert_eq!(s.next(0, 0, 10 * S, false), Next::Run);
        // Past the cap with the minimum met: complete, not partial.
        assert_eq!(s.next(2, 10, Duration::from_millis(5), false), Next::Done);
    }

    #[test]
    fn failing_runs_are_not_repeated_to_fill_time() {
        let s = Sampling::default();
        assert_eq!(s.next(1, 0, S / 10, true), Next::Stop);
        // But --repeat runs are still made.
        let s3 = Sampling { min_runs: 3, ..s };
        assert_eq!(s3.next(1, 0, S / 10, true), Next::Run);
    }
}
