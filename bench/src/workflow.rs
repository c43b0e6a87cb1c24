//! Workflows: a chain of functions run step by step, each step's response
//! the next step's request, folded into one row of mode `workflow`.
//!
//! Every instance is lumos-runtimes' ([`Runner::prepare`], [`Runner::start`],
//! [`lumos_runtimes::Ready::call`]); this module only chains them and keeps
//! the clock. Per chain, one clock:
//!
//! - a step's latency runs from its request being ready to its response
//!   read: the request's round trip, plus (cold) the pull and unpack of the
//!   step's image into an empty cache and (cold, cold-cached) its new
//!   instance's start until ready;
//! - a hand-over runs from a step's response read to the next request
//!   ready: `inline`, nothing but passing the bytes on; `storage`, a put of
//!   the response into the runner's store (memory or the `--baas` Redis)
//!   and a get of it back as the next request;
//! - the makespan runs from the first step's start to the last response
//!   read, so it holds every step and every hand-over (and is at least
//!   their sum).
//!
//! `cold` and `cold-cached` start a new instance for every step of every
//! chain (`--repeat` chains); `warm` starts one instance per step, sends
//! `--warmup` chains and then `--requests` measured chains through them, a
//! new set of instances for each of `--repeat` runs. Instances are stopped
//! after their chain, outside the clock.

use std::time::{Duration, Instant};

use lumos_model::{ChainData, LatencyStats, Mode, RunRow, Status, WorkflowRecord, WorkflowStep};
use lumos_runtimes::host::Reply;
use lumos_runtimes::measure::latency::Recorder;
use lumos_runtimes::run::Prepared;
use lumos_runtimes::{Job, Ready, Runner};
use sha2::Digest as _;

/// How a chain's steps are run.
pub struct Chain<'a> {
    /// What the row calls the workflow (keys in the store start with it).
    pub label: &'a str,
    /// One job per step: its image, runtime and arguments; the first step's
    /// payload is the chain's request (the others' payloads are unused).
    pub steps: Vec<Job<'a>>,
    /// Each step's function name.
    pub functions: Vec<&'a str>,
    pub chain_data: ChainData,
    /// `cold-cached`, `cold` or `warm`.
    pub start: Mode,
    pub repeat: usize,
    pub warmup: usize,
    pub requests: usize,
}

/// One chain's timings, or where it stopped.
struct Sample {
    makespan: Duration,
    steps: Vec<Duration>,
    /// Before step i (index 0 unused).
    handovers: Vec<Duration>,
    last: Vec<u8>,
}

/// Why a chain stopped, counted once in the row.
struct Stop {
    /// `start`, `handover`, or the step's error class.
    kind: String,
    message: String,
    /// The runner could not run the step's runtime at all.
    unavailable: bool,
}

fn stop(step: usize, function: &str, kind: &str, message: impl std::fmt::Display) -> Stop {
    Stop {
        kind: format!("step {} {kind}", step + 1),
        message: format!("step {} ({function}): {message}", step + 1),
        unavailable: false,
    }
}

/// A step whose image or instance could not be made ready.
fn start_error(step: usize, function: &str, e: &lumos_runtimes::Error) -> Stop {
    Stop {
        unavailable: matches!(e, lumos_runtimes::Error::Unavailable { .. }),
        ..stop(step, function, "start", lumos_model::error_chain(e))
    }
}

/// The instances of a chain: started as it goes (cold kinds) or before it
/// (warm), kept until it ends.
enum Instances<'p> {
    /// Cold kinds: the image of each step, prepared untimed beforehand
    /// (`cold-cached`), or None to pull it into an empty cache in the step
    /// (`cold`).
    New(&'p [Option<Prepared>]),
    /// Warm: one ready instance per step.
    Ready(&'p mut [Ready]),
}

impl Chain<'_> {
    /// Passes `body` on through the store (`storage`) or as it is (`inline`).
    fn hand_over(&self, runner: &Runner, step: usize, body: Vec<u8>) -> Result<Vec<u8>, Stop> {
        match self.chain_data {
            ChainData::Inline => Ok(body),
            ChainData::Storage => {
                let key = format!("lumos/workflow/{}/step{}", self.label, step + 1);
                let store = runner.store();
                let err = |e: &dyn std::error::Error| {
                    stop(
                        step,
                        self.functions[step],
                        "handover",
                        format!("through the store {key}: {}", lumos_model::error_chain(e)),
                    )
                };
                store.put(&key, &body).map_err(|e| err(&e))?;
                match store.get(&key) {
                    Ok(Some(b)) => Ok(b),
                    Ok(None) => Err(stop(
                        step,
                        self.functions[step],
                        "handover",
                        format!("the store lost {key} between put and get"),
                    )),
                    Err(e) => Err(err(&e)),
                }
            }
        }
    }

    /// One chain, the first request through every step.
    /// Cold kinds keep what they start in `started` and the images they
    /// pulled in `pulled` (a throwaway cache lives while its instance does).
    fn once(
        &self,
        runner: &Runner,
        instances: &mut Instances,
        started: &mut Vec<Ready>,
        pulled: &mut Vec<Prepared>,
    ) -> Result<Sample, Stop> {
        let n = self.steps.len();
        let mut steps = Vec::with_capacity(n);
        let mut handovers = vec![Duration::ZERO; n];
        let mut body = self.steps[0].payload.to_vec();
        let t0 = Instant::now();
        for (i, job) in self.steps.iter().enumerate() {
            let f = self.functions[i];
            let ts = Instant::now();
            let outcome = match instances {
                Instances::Ready(ready) => ready[i].call(&body),
                Instances::New(prepared) => {
                    let p = match &prepared[i] {
                        Some(p) => p,
                        None => {
                            let p = runner.prepare(job).map_err(|e| start_error(i, f, &e))?;
                            pulled.push(p);
                            pulled.last().expect("just pushed")
                        }
                    };
                    let mut ready = runner.start(p, job).map_err(|e| start_error(i, f, &e))?;
                    let o = ready.call(&body);
                    started.push(ready);
                    o
                }
            };
            let done = Instant::now();
            steps.push(done - ts);
            let reply = match outcome.result {
                Ok(Reply::Ok { body, .. }) => body,
                Ok(Reply::FunctionError { kind, message, .. }) => {
                    return Err(stop(i, f, &kind, format!("{kind}: {message}")))
                }
                Err(failure) => return Err(stop(i, f, failure.class(), failure)),
            };
            if i + 1 == n {
                return Ok(Sample {
                    makespan: done - t0,
                    steps,
                    handovers,
                    last: reply,
                });
            }
            let th = Instant::now();
            body = self.hand_over(runner, i, reply)?;
            handovers[i + 1] = th.elapsed();
        }
        unreachable!("a chain has at least two steps")
    }
}

/// Statistics of `samples` with their 95% intervals; None without samples.
fn stats(samples: &[Duration]) -> Option<LatencyStats> {
    if samples.is_empty() {
        return None;
    }
    let mut rec = Recorder::new(true);
    for d in samples {
        rec.record(*d);
    }
    let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    Some(crate::fold::with_intervals(rec.stats(), &ms))
}

/// Runs `chain` and folds its chains into `row` (mode `workflow`): the
/// makespan as `latency_ms`, the steps and hand-overs in `workflow`.
pub fn run(runner: &Runner, chain: &Chain, mut tick: impl FnMut(), mut row: RunRow) -> RunRow {
    let n = chain.steps.len();
    let mut samples: Vec<Sample> = vec![];
    let mut attempts = 0u64;
    let mut unavailable = false;
    let mut record = WorkflowRecord {
        start: chain.start,
        chain_data: chain.chain_data,
        steps: (0..n)
            .map(|i| WorkflowStep {
                function: chain.functions[i].to_string(),
                runtime: chain.steps[i].runtime,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut failed = |row: &mut RunRow, s: Stop| {
        row.errors += 1;
        *row.errors_by_kind.entry(s.kind).or_default() += 1;
        if row.error_samples.len() < 5 {
            row.error_samples.push(s.message.clone());
        }
        row.error.get_or_insert(s.message);
        unavailable |= s.unavailable;
    };
    let sandboxes = |record: &mut WorkflowRecord, ready: &[Ready]| {
        for (i, r) in ready.iter().enumerate().take(n) {
            let s = &mut record.steps[i];
            s.sandbox = s.sandbox.or(r.sandbox);
            if s.image_digest.is_none() {
                s.image_digest = r.image.digest.clone();
            }
        }
    };
    for _ in 0..chain.repeat {
        match chain.start {
            Mode::Warm => {
                let mut ready = Vec::with_capacity(n);
                let mut start_failed = None;
                for (i, job) in chain.steps.iter().enumerate() {
                    let f = chain.functions[i];
                    match runner.prepare(job).and_then(|p| runner.start(&p, job)) {
                        Ok(r) => ready.push(r),
                        Err(e) => {
                            start_failed = Some(start_error(i, f, &e));
                            break;
                        }
                    }
                }
                if let Some(s) = start_failed {
                    attempts += 1;
                    failed(&mut row, s);
                    tick();
                    continue;
                }
                sandboxes(&mut record, &ready);
                let mut instances = Instances::Ready(&mut ready);
                let (mut none, mut nothing) = (vec![], vec![]);
                for _ in 0..chain.warmup {
                    // Discarded; a failure shows again when measured.
                    let _ = chain.once(runner, &mut instances, &mut none, &mut nothing);
                }
                for _ in 0..chain.requests {
                    attempts += 1;
                    match chain.once(runner, &mut instances, &mut none, &mut nothing) {
                        Ok(s) => samples.push(s),
                        Err(s) => failed(&mut row, s),
                    }
                }
                for r in ready {
                    r.stop(Duration::from_millis(500));
                }
            }
            _ => {
                // cold-cached: the node holds every step's image (pulled
                // untimed into the shared cache); cold: each step pulls its
                // image into an empty cache, inside the clock.
                let prepared: Result<Vec<Option<Prepared>>, Stop> = chain
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, job)| match chain.start {
                        Mode::Cold => Ok(None),
                        _ => runner
                            .prepare(job)
                            .map(Some)
                            .map_err(|e| start_error(i, chain.functions[i], &e)),
                    })
                    .collect();
                attempts += 1;
                let (mut started, mut pulled) = (Vec::with_capacity(n), vec![]);
                let outcome = prepared.and_then(|p| {
                    let cold_steps: Vec<Job> = chain
                        .steps
                        .iter()
                        .map(|j| Job { cache: None, ..*j })
                        .collect();
                    let cold = Chain {
                        steps: cold_steps,
                        functions: chain.functions.clone(),
                        ..*chain
                    };
                    cold.once(runner, &mut Instances::New(&p), &mut started, &mut pulled)
                });
                sandboxes(&mut record, &started);
                for r in started {
                    r.stop(Duration::from_millis(500));
                }
                drop(pulled);
                match outcome {
                    Ok(s) => samples.push(s),
                    Err(s) => failed(&mut row, s),
                }
            }
        }
        tick();
    }
    row.repeats = chain.repeat;
    row.requests = attempts;
    row.ok = samples.len() as u64;
    if let Some(first) = samples.first() {
        record.final_response_sha256 = Some(hex::encode(sha2::Sha256::digest(&first.last)));
        let head = &first.last[..first.last.len().min(WorkflowRecord::FINAL_RESPONSE_HEAD)];
        record.final_response = Some(String::from_utf8_lossy(head).into_owned());
    }
    let makespans: Vec<Duration> = samples.iter().map(|s| s.makespan).collect();
    row.latency_ms = stats(&makespans);
    for (i, step) in record.steps.iter_mut().enumerate() {
        let lat: Vec<Duration> = samples.iter().map(|s| s.steps[i]).collect();
        step.latency_ms = stats(&lat);
        if i > 0 {
            let h: Vec<Duration> = samples.iter().map(|s| s.handovers[i]).collect();
            step.handover_ms = stats(&h);
        }
    }
    row.sandbox = record.steps.iter().find_map(|s| s.sandbox);
    row.workflow = Some(record);
    row.status = match (samples.is_empty(), row.errors) {
        (false, 0) => Status::Ok,
        (false, _) => Status::Errors,
        (true, _) if unavailable => Status::Unavailable,
        (true, _) => Status::Failed,
    };
    row
}
