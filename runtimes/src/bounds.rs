//! The range of every number a user gives `lumos-runner` or `cargo lumos
//! bench`. Both command lines check their flags against these at parse time
//! (clap value parsers built from the ranges, and [`rate`] and [`seconds`]
//! as parsers), and [`LoadSpec::check`] checks a load spec again for library
//! callers.
//!
//! Why bounds at all: each concurrency level is one client thread here and one
//! instance process; request counts size buffers and open-loop schedules up
//! front; durations, rates and time limits become `Duration`s and deadlines.
//! No thread count, allocation or timer follows a user's number without one
//! of these, and a number outside them is refused with the flag, the value
//! and the range, before anything runs.
//!
//! [`LoadSpec::check`]: crate::LoadSpec::check

use std::ops::RangeInclusive;

/// Concurrency levels (`--concurrency`): instances, and client threads, per level.
pub const CONCURRENCY: RangeInclusive<u64> = 1..=4096;
/// Per-request time limit (`--timeout-ms`), milliseconds: 1 ms to one hour.
pub const TIMEOUT_MS: RangeInclusive<u64> = 1..=3_600_000;
/// Memory limit per instance (`--memory-mib`), MiB: 0 (no limit) to 1 TiB.
pub const MEMORY_MIB: RangeInclusive<u64> = 0..=1_048_576;
/// Warm-up requests discarded before measuring (`--warmup`).
pub const WARMUP: RangeInclusive<u64> = 0..=1_000_000;
/// Measured warm requests per run (`--requests`, `-n`).
pub const REQUESTS: RangeInclusive<u64> = 1..=1_000_000;
/// Cold starts and warm runs per bench cell (`--repeat`).
pub const REPEAT: RangeInclusive<u64> = 1..=10_000;
/// Requests per load level (`--level-requests`, `--load-requests`), and the
/// most an open-loop level may schedule from rate x duration.
pub const LEVEL_REQUESTS: RangeInclusive<u64> = 1..=10_000_000;
/// Open-loop arrival rate (`--rate`), requests per second: above 0, at most this.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Length of a load level (`--duration`, `--load-duration`), seconds: above 0, at most one day.
pub const MAX_DURATION_S: f64 = 86_400.0;

/// A number that is not one, or outside its range.
#[derive(Debug, thiserror::Error)]
pub enum NumberError {
    #[error("`{0}` is not a number")]
    NotANumber(String),
    #[error("{value} is not a finite number in (0, {max}]")]
    OutOfRange { value: String, max: f64 },
}

/// A finite decimal number in `(0, max]`.
fn positive_at_most(s: &str, max: f64) -> Result<f64, NumberError> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| NumberError::NotANumber(s.to_string()))?;
    in_range(v, s, max)
}

/// `v` (written `shown` by the user) when it is finite and in `(0, max]`.
fn in_range(v: f64, shown: &str, max: f64) -> Result<f64, NumberError> {
    // NaN fails both comparisons; infinities fail the upper bound.
    if v > 0.0 && v <= max {
        Ok(v)
    } else {
        Err(NumberError::OutOfRange {
            value: shown.to_string(),
            max,
        })
    }
}

/// `--rate`: requests per second, finite, in `(0, MAX_RATE]`.
pub fn rate(s: &str) -> Result<f64, NumberError> {
    positive_at_most(s, MAX_RATE)
}

/// `--duration` / `--load-duration`: seconds, finite, in `(0, MAX_DURATION_S]`.
pub fn seconds(s: &str) -> Result<f64, NumberError> {
    positive_at_most(s, MAX_DURATION_S)
}

/// `--cpus`: CPUs per instance, fractional, in `(0, this machine's CPUs]`
/// (a CFS quota above the machine's CPUs limits nothing).
pub fn cpus(s: &str) -> Result<f64, NumberError> {
    positive_at_most(s, machine_cpus())
}

/// [`cpus`] for a number already read (a device profile's `cpus`).
pub fn cpus_value(v: f64) -> Result<f64, NumberError> {
    in_range(v, &v.to_string(), machine_cpus())
}

fn machine_cpus() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_must_be_finite_and_positive() {
        assert_eq!(rate("100").unwrap(), 100.0);
        assert_eq!(seconds("0.5").unwrap(), 0.5);
        for bad in ["0", "-1", "NaN", "inf", "-inf", "1e7", "x", ""] {
            assert!(rate(bad).is_err(), "{bad}");
        }
        assert!(seconds("86401").is_err());
        assert_eq!(cpus("0.5").unwrap(), 0.5);
        for bad in ["0", "-0.5", "NaN", "1000000", "half"] {
            assert!(cpus(bad).is_err(), "{bad}");
        }
    }
}
