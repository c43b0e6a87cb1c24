//! Running one cell of the matrix, repeated, and folding the repeats into a
//! row: cold starts with `Runner::run_cold`, load with `Runner::run_load`,
//! and warm runs with the runner's own pieces (prepare, launcher, slot) so
//! that every request's phases are kept for the CDFs (`run_warm` returns
//! only their means).

use std::path::Path;
use std::time::Duration;

use lumos_runtimes::host::Reply;
use lumos_runtimes::launch::Slot;
use lumos_runtimes::measure::latency::Recorder;
use lumos_runtimes::run::ColdStart;
use lumos_runtimes::{LoadSpec, RunResult, Runner, Runtime};

use super::record::{ImageSizes, Phases, RunRow};

/// Where a cell's rows start from.
pub fn row(function: &str, runtime: Runtime, group: u8, mode: &str, store: &str) -> RunRow {
    RunRow {
        function: function.to_string(),
        runtime: runtime.name().to_string(),
        group,
        mode: mode.to_string(),
        status: "ok".to_string(),
        store: store.to_string(),
        ..Default::default()
    }
}

fn image_sizes(i: &lumos_runtimes::artifact::ImageInfo) -> ImageSizes {
    ImageSizes {
        reference: i.reference.clone(),
        digest: i.digest.clone(),
        compressed_bytes: i.compressed_bytes,
        unpacked_bytes: i.unpacked_bytes,
    }
}

fn phases_of(m: &lumos_runtimes::host::Meta) -> Phases {
    let ms = |ns: u64| ns as f64 / 1e6;
    Phases {
        io: ms(m.phases_ns.io),
        deserialize: ms(m.phases_ns.deserialize),
        compute: ms(m.phases_ns.compute),
        serialize: ms(m.phases_ns.serialize),
    }
}

fn mean_phases(samples: &[Phases]) -> Option<Phases> {
    if samples.is_empty() {
        return None;
    }
    let n = samples.len() as f64;
    let s = |f: fn(&Phases) -> f64| samples.iter().map(f).sum::<f64>() / n;
    Some(Phases {
        io: s(|p| p.io),
        deserialize: s(|p| p.deserialize),
        compute: s(|p| p.compute),
        serialize: s(|p| p.serialize),
    })
}

/// An error and its causes, one line.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s += &format!(": {c}");
        cause = c.source();
    }
    s
}

/// A run that could not be made at all: counted once per repeat in `errors`.
fn failed(r: &mut RunRow, e: &lumos_runtimes::Error) {
    let (kind, status) = match e {
        lumos_runtimes::Error::Unavailable { .. } => ("unavailable", "unavailable"),
        lumos_runtimes::Error::Start(_) => ("start", "failed"),
        _ => ("run", "failed"),
    };
    // The error and its causes (an OS error under a spawn failure, say), one line.
    let msg = with_causes(e);
    r.errors += 1;
    *r.errors_by_kind.entry(kind.to_string()).or_default() += 1;
    if r.error_samples.len() < 5 {
        r.error_samples.push(msg.clone());
    }
    if r.error.is_none() {
        r.error = Some(msg);
    }
    if r.status == "ok" {
        r.status = status.to_string();
    }
}

fn add_result_errors(r: &mut RunRow, rr: &RunResult) {
    r.errors += rr.errors;
    r.requests += rr.requests;
    // A RunResult's `errors` are request errors only, so the rest answered OK.
    r.ok_requests += rr.requests.saturating_sub(rr.errors);
    for (k, v) in &rr.errors_by_kind {
        *r.errors_by_kind.entry(k.clone()).or_default() += v;
    }
    for s in &rr.error_samples {
        if r.error_samples.len() < 5 {
            r.error_samples.push(s.clone());
        }
    }
    for w in &rr.warnings {
        if !r.warnings.contains(w) {
            r.warnings.push(w.clone());
        }
    }
    if r.sandbox.is_none() {
        r.sandbox = rr.sandbox.clone();
    }
    if r.image.reference.is_empty() {
        r.image = image_sizes(&rr.image);
    }
}

/// Marks a row whose runs completed but had request errors.
fn finish(r: &mut RunRow) {
    if r.status == "ok" && r.errors > 0 {
        r.status = "errors".to_string();
    }
}

/// `repeat` cold starts, each from an empty image cache.
pub fn cold(
    runner: &mut Runner,
    image: &str,
    runtime: Runtime,
    payload: &[u8],
    repeat: usize,
    mut tick: impl FnMut(),
    mut r: RunRow,
) -> RunRow {
    runner.opts.cache_dir = None;
    let mut first = Recorder::new(true);
    let mut cold: Vec<ColdStart> = vec![];
    let mut phases = vec![];
    let mut cpu = vec![];
    let mut ok_runs = 0;
    for _ in 0..repeat {
        match runner.run_cold(image, runtime, payload) {
            Ok(rr) => {
                ok_runs += 1;
                add_result_errors(&mut r, &rr);
                if let Some(c) = rr.cold_start_ms {
                    first.record(Duration::from_secs_f64(c.first_response / 1e3));
                    cold.push(c);
                }
                if let Some(p) = rr.phases_ms {
                    phases.push(Phases {
                        io: p.io,
                        deserialize: p.deserialize,
                        compute: p.compute,
                        serialize: p.serialize,
                    });
                }
                if let Some(c) = rr.cpu_ms {
                    cpu.push(c);
                }
                if let Some(m) = rr.peak_rss_bytes {
                    r.peak_rss_bytes = Some(r.peak_rss_bytes.unwrap_or(0).max(m));
                }
            }
            Err(e) => failed(&mut r, &e),
        }
        tick();
    }
    r.repeats = repeat;
    if !cold.is_empty() {
        let n = cold.len() as f64;
        let m = |f: fn(&ColdStart) -> f64| cold.iter().map(f).sum::<f64>() / n;
        r.cold_start_ms = Some(ColdStart {
            pull: m(|c| c.pull),
            unpack: m(|c| c.unpack),
            start: m(|c| c.start),
            ready: m(|c| c.ready),
            first_response: m(|c| c.first_response),
            total: m(|c| c.total),
        });
        r.latency_ms = Some(first.stats());
    }
    r.phases_ms = mean_phases(&phases);
    if !cpu.is_empty() {
        r.cpu_ms = Some(cpu.iter().sum::<f64>() / cpu.len() as f64);
    }
    if ok_runs > 0 && r.status != "ok" {
        // Some repeats ran: the row stands, with the failed repeats in `errors`.
        r.status = "errors".to_string();
    }
    finish(&mut r);
    r
}

/// `repeat` warm runs, each on a new instance: `warmup` requests discarded,
/// then `requests` measured. Stats are over every measured request.
#[allow(clippy::too_many_arguments)]
pub fn warm(
    runner: &mut Runner,
    image: &str,
    runtime: Runtime,
    payload: &[u8],
    repeat: usize,
    cache: &Path,
    mut tick: impl FnMut(),
    mut r: RunRow,
) -> RunRow {
    runner.opts.cache_dir = Some(cache.to_path_buf());
    let mut rec = Recorder::new(true);
    let mut cpu = vec![];
    let mut ok_runs = 0;
    for _ in 0..repeat {
        match warm_once(runner, image, runtime, payload, &mut rec, &mut r) {
            Ok(()) => ok_runs += 1,
            Err(e) => failed(&mut r, &e),
        }
        if let Some(c) = r.cpu_ms.take() {
            cpu.push(c);
        }
        tick();
    }
    r.repeats = repeat;
    if !rec.is_empty() {
        r.latency_ms = Some(rec.stats());
        r.warnings.extend(rec.warnings());
    }
    r.phases_ms = mean_phases(&r.phase_samples);
    if !cpu.is_empty() {
        r.cpu_ms = Some(cpu.iter().sum::<f64>() / cpu.len() as f64);
    }
    if ok_runs > 0 && r.status != "ok" {
        r.status = "errors".to_string();
    }
    finish(&mut r);
    r
}

fn warm_once(
    runner: &Runner,
    image: &str,
    runtime: Runtime,
    payload: &[u8],
    rec: &mut Recorder,
    r: &mut RunRow,
) -> lumos_runtimes::Result<()> {
    runtime
        .availability()
        .map_err(|msg| lumos_runtimes::Error::Unavailable {
            runtime: runtime.name().into(),
            msg,
        })?;
    let p = runner.prepare(image)?;
    let l = runner.launcher(&p, runtime)?;
    if r.image.reference.is_empty() {
        r.image = image_sizes(&p.artifact.image);
    }
    if r.sandbox.is_none() {
        r.sandbox = l.sandbox.map(|s| s.name().to_string());
    }
    let mut slot = Slot::new(l);
    if let Err(f) = slot.ensure() {
        slot.close(Duration::from_millis(500));
        return Err(lumos_runtimes::Error::Start(f));
    }
    let warmup = runner.opts.warmup;
    let requests = runner.opts.requests;
    for _ in 0..warmup {
        let _ = slot.call(payload);
    }
    for _ in 0..requests {
        let o = slot.call(payload);
        rec.record(o.latency);
        r.requests += 1;
        match &o.result {
            Ok(Reply::Ok { meta, .. }) => {
                r.ok_requests += 1;
                if let Some(m) = meta {
                    r.phase_samples.push(phases_of(m));
                }
            }
            _ => {
                let kind = o.error_class().unwrap_or_else(|| "error".into());
                r.errors += 1;
                *r.errors_by_kind.entry(kind).or_default() += 1;
                if r.error_samples.len() < 5 {
                    r.error_samples.push(match &o.result {
                        Ok(Reply::FunctionError { kind, message, .. }) => {
                            format!("{kind}: {message}")
                        }
                        Err(f) => f.to_string(),
                        Ok(Reply::Ok { .. }) => String::new(),
                    });
                }
            }
        }
    }
    slot.close(Duration::from_millis(500));
    r.cpu_ms = Some(slot.ended_usage.cpu_ms);
    r.peak_rss_bytes = Some(
        r.peak_rss_bytes
            .unwrap_or(0)
            .max(slot.ended_usage.peak_rss_bytes),
    );
    Ok(())
}

/// Throughput and latency at each concurrency level of `spec`.
pub fn load(
    runner: &mut Runner,
    image: &str,
    runtime: Runtime,
    payload: &[u8],
    spec: &LoadSpec,
    cache: &Path,
    mut r: RunRow,
) -> RunRow {
    runner.opts.cache_dir = Some(cache.to_path_buf());
    r.repeats = 1;
    match runner.run_load(image, runtime, payload, spec) {
        Ok(rr) => {
            add_result_errors(&mut r, &rr);
            if let Some(levels) = &rr.load {
                // The lowest level's latency stands for the row.
                if let Some(l) = levels.first() {
                    r.latency_ms = Some(l.latency_ms);
                }
            }
            r.load = rr.load;
        }
        Err(e) => failed(&mut r, &e),
    }
    finish(&mut r);
    r
}
