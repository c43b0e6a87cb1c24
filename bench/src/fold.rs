//! One cell's runs folded into one row: `repeat` cold starts (means of the
//! phases, the totals' median with its interval, first responses as latency), `repeat` warm runs (statistics over
//! every measured request of every run), or one load run.

use std::time::{Duration, Instant};

use lumos_model::{ColdStart, ImageInfo, LatencyStats, Mode, Phases, RunResult, RunRow, Status};
use lumos_runtimes::measure::latency::Recorder;
use lumos_runtimes::{Job, LoadSpec, Runner};
use lumos_stats::sampling::{Next, Sampling};

/// Keeps the first few error messages of a row.
const MAX_SAMPLES: usize = 5;

fn sample(r: &mut RunRow, msg: String) {
    if r.error_samples.len() < MAX_SAMPLES {
        r.error_samples.push(msg);
    }
}

/// A run that could not be made at all: counted once in `errors`.
fn failed(r: &mut RunRow, e: &lumos_runtimes::Error) {
    let (kind, status) = match e {
        lumos_runtimes::Error::Unavailable { .. } => ("unavailable", Status::Unavailable),
        lumos_runtimes::Error::Start(_) => ("start", Status::Failed),
        lumos_runtimes::Error::Endpoint(_) => ("endpoint", Status::Failed),
        _ => ("run", Status::Failed),
    };
    // The error and its causes (an OS error under a spawn failure, say), one line.
    let msg = lumos_model::error_chain(e);
    r.errors += 1;
    *r.errors_by_kind.entry(kind.to_string()).or_default() += 1;
    sample(r, msg.clone());
    r.error.get_or_insert(msg);
    if r.status == Status::Ok {
        r.status = status;
    }
}

/// Adds what a finished run says about requests, errors and the image.
fn absorb(r: &mut RunRow, rr: &RunResult) {
    r.requests += rr.requests;
    r.errors += rr.errors;
    // A RunResult's `errors` are request errors only: the rest answered OK.
    r.ok += rr.requests.saturating_sub(rr.errors);
    for (k, v) in &rr.errors_by_kind {
        *r.errors_by_kind.entry(k.clone()).or_default() += v;
    }
    for s in &rr.error_samples {
        sample(r, s.clone());
    }
    for w in &rr.warnings {
        if !r.warnings.contains(w) {
            r.warnings.push(w.clone());
        }
    }
    if r.sandbox.is_none() {
        r.sandbox = rr.sandbox;
    }
    if r.response_sha256.is_none() {
        r.response_sha256 = rr.response_sha256.clone();
    }
    r.protocol = rr.protocol;
    if r.image == ImageInfo::default() {
        r.image = rr.image.clone();
    }
    if let Some(m) = rr.peak_rss_bytes {
        r.peak_rss_bytes = Some(r.peak_rss_bytes.unwrap_or(0).max(m));
    }
}

/// The row's status once its runs are in: a row some of whose runs or
/// requests failed stands, with status `errors`; one none of whose runs
/// completed keeps `failed` (or `unavailable`).
fn settle(r: &mut RunRow, completed_runs: usize) {
    if completed_runs > 0 && (r.status != Status::Ok || r.errors > 0) {
        r.status = Status::Errors;
    }
}

/// A row none of whose requests answered OK carries no figures (issue 9):
/// a failed request's round trip, a cold start that ended in an error, its
/// CPU and memory are not measurements of the function. Status, counts and
/// error samples stay.
fn drop_figures_unless_answered(r: &mut RunRow) {
    if r.ok > 0 {
        return;
    }
    r.latency_ms = None;
    r.cold_start_ms = None;
    r.cold_total_ms = None;
    r.phases_ms = None;
    r.phase_samples.clear();
    r.cpu_ms = None;
    r.peak_rss_bytes = None;
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// `repeat` cold starts of the kind `mode`: `cold` and `cold-node` each into
/// a new empty image cache, `cold-cached` from the job's cache (the image
/// pulled there once, untimed).
pub fn cold(
    runner: &Runner,
    job: &Job,
    mode: Mode,
    repeat: usize,
    tick: impl FnMut(),
    r: RunRow,
) -> RunRow {
    let job = if mode == Mode::ColdCached {
        *job
    } else {
        Job {
            cache: None,
            ..*job
        }
    };
    cold_with(repeat, tick, r, || runner.cold_as(&job, mode))
}

/// `repeat` cold starts, each made by `start`, folded into `r`.
pub fn cold_with(
    repeat: usize,
    mut tick: impl FnMut(),
    mut r: RunRow,
    mut start: impl FnMut() -> lumos_runtimes::Result<RunResult>,
) -> RunRow {
    let mut first = Recorder::new(true);
    let mut totals = Recorder::new(true);
    let mut cold: Vec<ColdStart> = vec![];
    let mut phases = vec![];
    let mut cpu = vec![];
    for _ in 0..repeat {
        match start() {
            Ok(rr) => {
                absorb(&mut r, &rr);
                r.cold_evidence.extend(rr.cold_evidence.clone());
                if let Some(c) = rr.cold_start_ms {
                    first.record(Duration::from_secs_f64(c.first_response / 1e3));
                    totals.record(Duration::from_secs_f64(c.total / 1e3));
                    cold.push(c);
                }
                phases.extend(rr.phases_ms);
                cpu.extend(rr.cpu_ms);
            }
            Err(e) => failed(&mut r, &e),
        }
        tick();
    }
    r.repeats = repeat;
    if !cold.is_empty() {
        let n = cold.len() as f64;
        let m = |f: fn(&ColdStart) -> f64| cold.iter().map(f).sum::<f64>() / n;
        // A phase some repeat had (a cold-cached row has none).
        let some = |f: fn(&ColdStart) -> Option<f64>| {
            let v: Vec<f64> = cold.iter().filter_map(f).collect();
            mean(&v)
        };
        r.cold_start_ms = Some(ColdStart {
            pull: some(|c| c.pull),
            unpack: some(|c| c.unpack),
            start: m(|c| c.start),
            ready: m(|c| c.ready),
            first_response: m(|c| c.first_response),
            total: m(|c| c.total),
        });
        r.latency_ms = Some(first.stats());
        let totals_ms: Vec<f64> = cold.iter().map(|c| c.total).collect();
        r.cold_total_ms = Some(with_intervals(totals.stats(), &totals_ms));
    }
    r.phases_ms = Phases::mean(&phases);
    r.cpu_ms = mean(&cpu);
    settle(&mut r, cold.len());
    drop_figures_unless_answered(&mut r);
    r
}

/// Warm runs, each on a new instance from the shared image cache, as many
/// as `sampling` asks (at least `--repeat`, then more until the cell has its
/// minimum requests and time, none started after the cap): statistics over
/// every measured request of every run. A cell the cap stops before its
/// minimum is `partial` (its figures stand, with their n); one whose runs
/// fail is not run again to fill time.
pub fn warm(
    runner: &Runner,
    job: &Job,
    sampling: &Sampling,
    tick: impl FnMut(),
    r: RunRow,
) -> RunRow {
    warm_with(sampling, tick, r, || runner.warm(job))
}

/// Warm runs, each made by `run`, as many as `sampling` asks, folded into `r`.
pub fn warm_with(
    sampling: &Sampling,
    mut tick: impl FnMut(),
    mut r: RunRow,
    mut run: impl FnMut() -> lumos_runtimes::Result<lumos_runtimes::WarmRun>,
) -> RunRow {
    let mut rec = Recorder::new(true);
    // Every measured request in ms, for the intervals.
    let mut samples_ms: Vec<f64> = vec![];
    let mut cpu = vec![];
    let mut completed = 0;
    let mut runs = 0;
    let mut fruitless = false;
    let start = Instant::now();
    let partial = loop {
        match sampling.next(runs, rec.len(), start.elapsed(), fruitless) {
            Next::Run => {}
            Next::Done | Next::Stop => break false,
            Next::Partial => break true,
        }
        runs += 1;
        match run() {
            Ok(w) => {
                completed += 1;
                absorb(&mut r, &w.result);
                // No request answered OK (the latencies of failed requests
                // are kept, but more of them would add no figure).
                fruitless |= w.latencies.is_empty() || w.result.errors >= w.result.requests;
                for l in &w.latencies {
                    rec.record(*l);
                    samples_ms.push(l.as_secs_f64() * 1e3);
                }
                r.phase_samples.extend(w.phases);
                cpu.extend(w.result.cpu_ms);
            }
            Err(e) => {
                failed(&mut r, &e);
                fruitless = true;
            }
        }
        // Progress counts the --repeat runs a cell was planned with.
        if runs <= sampling.min_runs {
            tick();
        }
    };
    for _ in runs..sampling.min_runs {
        tick();
    }
    r.repeats = runs;
    if !rec.is_empty() {
        r.latency_ms = Some(with_intervals(rec.stats(), &samples_ms));
        r.warnings.extend(rec.warnings());
    }
    r.phases_ms = Phases::mean(&r.phase_samples);
    r.cpu_ms = mean(&cpu);
    settle(&mut r, completed);
    drop_figures_unless_answered(&mut r);
    if partial && r.status.has_figures() {
        r.status = Status::Partial;
        r.warnings.push(format!(
            "partial: {} measured request(s) of the {} asked for when --max-time ({} s) ended the cell",
            rec.len(),
            sampling.min_requests,
            sampling.max_time.as_secs_f64()
        ));
    }
    r
}

/// `stats` with the 95% intervals of its median and mean over `samples_ms`
/// (absent where too few samples give none).
pub fn with_intervals(mut stats: LatencyStats, samples_ms: &[f64]) -> LatencyStats {
    stats.p50_ci95 = lumos_stats::median_ci95(&lumos_stats::sorted(samples_ms));
    stats.mean_ci95 = lumos_stats::mean_ci95_of(stats.mean, stats.stddev, stats.n);
    stats
}

/// One load run: throughput and latency at each concurrency level.
pub fn load(runner: &Runner, job: &Job, spec: &LoadSpec, r: RunRow) -> RunRow {
    load_with(r, || runner.load(job, spec))
}

/// One load run made by `run`, folded into `r`.
pub fn load_with(mut r: RunRow, run: impl FnOnce() -> lumos_runtimes::Result<RunResult>) -> RunRow {
    r.repeats = 1;
    match run() {
        Ok(rr) => {
            absorb(&mut r, &rr);
            // The lowest level's latency stands for the row.
            if let Some(l) = rr.load.as_ref().and_then(|levels| levels.first()) {
                r.latency_ms = Some(l.latency_ms);
            }
            r.load = rr.load;
            settle(&mut r, 1);
        }
        Err(e) => failed(&mut r, &e),
    }
    if r.ok == 0 {
        r.latency_ms = None;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_latency_carries_intervals_that_hold_a_known_delay() {
        // 40 requests of a 3 ms function with ±0.1 ms of jitter around it,
        // one of them held up 50 ms.
        let mut rec = Recorder::new(true);
        let mut ms = vec![];
        for i in 0..40u32 {
            let d = 3.0 + (f64::from(i % 9) - 4.0) * 0.025 + if i == 17 { 50.0 } else { 0.0 };
            rec.record(Duration::from_secs_f64(d / 1e3));
            ms.push(d);
        }
        let l = with_intervals(rec.stats(), &ms);
        let [lo, hi] = l.p50_ci95.expect("a median interval over 40 samples");
        assert!(lo <= 3.0 && 3.0 <= hi, "[{lo}, {hi}]");
        let [mlo, mhi] = l.mean_ci95.expect("a mean interval");
        assert!(mlo <= l.mean && l.mean <= mhi && mhi - mlo > hi - lo);
        // Too few samples: absent, not zeros.
        let mut one = Recorder::new(true);
        one.record(Duration::from_millis(3));
        let l = with_intervals(one.stats(), &[3.0]);
        assert_eq!((l.p50_ci95, l.mean_ci95), (None, None));
    }
}
