//! One cell's runs folded into one row: `repeat` cold starts (means of the
//! phases, first responses as latency), `repeat` warm runs (statistics over
//! every measured request of every run), or one load run.

use std::time::Duration;

use lumos_model::{ColdStart, ImageInfo, Mode, Phases, RunResult, RunRow, Status};
use lumos_runtimes::measure::latency::Recorder;
use lumos_runtimes::{Job, LoadSpec, Runner};

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
    mut tick: impl FnMut(),
    mut r: RunRow,
) -> RunRow {
    let job = if mode == Mode::ColdCached {
        *job
    } else {
        Job {
            cache: None,
            ..*job
        }
    };
    let mut first = Recorder::new(true);
    let mut cold: Vec<ColdStart> = vec![];
    let mut phases = vec![];
    let mut cpu = vec![];
    for _ in 0..repeat {
        match runner.cold_as(&job, mode) {
            Ok(rr) => {
                absorb(&mut r, &rr);
                r.cold_evidence.extend(rr.cold_evidence.clone());
                if let Some(c) = rr.cold_start_ms {
                    first.record(Duration::from_secs_f64(c.first_response / 1e3));
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
    }
    r.phases_ms = Phases::mean(&phases);
    r.cpu_ms = mean(&cpu);
    settle(&mut r, cold.len());
    r
}

/// `repeat` warm runs, each on a new instance from the shared image cache:
/// statistics over every measured request of every run.
pub fn warm(
    runner: &Runner,
    job: &Job,
    repeat: usize,
    mut tick: impl FnMut(),
    mut r: RunRow,
) -> RunRow {
    let mut rec = Recorder::new(true);
    let mut cpu = vec![];
    let mut completed = 0;
    for _ in 0..repeat {
        match runner.warm(job) {
            Ok(w) => {
                completed += 1;
                absorb(&mut r, &w.result);
                for l in &w.latencies {
                    rec.record(*l);
                }
                r.phase_samples.extend(w.phases);
                cpu.extend(w.result.cpu_ms);
            }
            Err(e) => failed(&mut r, &e),
        }
        tick();
    }
    r.repeats = repeat;
    if !rec.is_empty() {
        r.latency_ms = Some(rec.stats());
        r.warnings.extend(rec.warnings());
    }
    r.phases_ms = Phases::mean(&r.phase_samples);
    r.cpu_ms = mean(&cpu);
    settle(&mut r, completed);
    r
}

/// One load run: throughput and latency at each concurrency level.
pub fn load(runner: &Runner, job: &Job, spec: &LoadSpec, mut r: RunRow) -> RunRow {
    r.repeats = 1;
    match runner.load(job, spec) {
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
    r
}
