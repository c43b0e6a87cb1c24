//! Co-located load (`--neighbour FUNCTION[@RUNTIME][:RPS]`): one instance of
//! another function, kept busy on this machine while a cell is measured.
//!
//! The neighbour is a real instance of a pushed image, started the way every
//! cell's instances are ([`Runner::prepare`] once into the shared image
//! cache, [`Runner::start`] per cell, [`Ready::call`], [`Ready::stop`]); this
//! module only drives it. Per cell:
//!
//! 1. [`Host::start`]: a new instance, and a thread sending it requests:
//!    open loop (a request due every `1/rate` s; when a request outlasts its
//!    period the next one goes as soon as it answers, without a burst to
//!    catch up, so the achieved rate says what one instance managed) or
//!    closed loop (one request after the
//!    other, concurrency 1). The cell waits for its first OK answer, so the
//!    neighbour is busy before anything is measured.
//! 2. [`Running::open_window`] as the cell's measurement starts,
//!    [`Running::finish`] as it ends: the requests sent, answered OK and
//!    failed between the two, and the OK answers per second over the window;
//!    then the thread is told to stop and the instance is stopped.
//!
//! Every wait has a deadline: the first answer and the thread's end (the
//! request time limit plus a margin), each tick of the schedule (a stop
//! interrupts it), each request (the runner's request time limit).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lumos_build::Workspace;
use lumos_model::{Neighbour, NeighbourRecord, Protocol};
use lumos_runtimes::{Job, Ready, Runner};

use crate::error::bail;
use crate::payloads::Payloads;

/// Consecutive failed requests after which a neighbour gives up.
const MAX_CONSECUTIVE_FAILURES: u32 = 10;
/// Beyond the request time limit: how long the first answer and the
/// thread's end may take (an instance's start, a stop's grace).
const MARGIN: Duration = Duration::from_secs(30);

/// Why a neighbour could not be made busy.
#[derive(Debug, thiserror::Error)]
pub enum NeighbourError {
    #[error("pulling its image")]
    Prepare(#[source] lumos_runtimes::Error),
    #[error("starting its instance")]
    Start(#[source] lumos_runtimes::Error),
    #[error("starting the thread that drives it")]
    Spawn(#[source] std::io::Error),
    #[error("its first request failed: {0}")]
    FirstRequest(String),
    #[error("no answer to its first request within {} s", .0.as_secs())]
    NoAnswer(Duration),
}

/// Adds the neighbour's function (each twin package of it) to `ws` when the
/// selection (`-p`) left it out, so it is built, packed, pushed and given
/// payloads with the rest; refuses an unknown function or a runtime family
/// it does not support, before anything is built.
pub fn include(ws: &mut Workspace, n: &Neighbour) -> crate::Result<()> {
    if ws.function(&n.function).is_none() {
        let found: Vec<_> = ws
            .all_functions
            .iter()
            .filter(|f| f.name == n.function)
            .cloned()
            .collect();
        if found.is_empty() {
            bail!(
                "--neighbour {n}: `{}` is not a function of the workspace (functions: {})",
                n.function,
                ws.all_names()
            );
        }
        ws.functions.extend(found);
        ws.functions
            .sort_by(|a, b| (&a.name, &a.package).cmp(&(&b.name, &b.package)));
    }
    let f = ws
        .function_for(&n.function, n.runtime.family())
        .expect("just checked");
    if let Some(why) = f.config.protocol.refuses_runtime(n.runtime) {
        bail!("--neighbour {n}: {why}");
    }
    if !f.config.runtimes.contains(&n.runtime.family()) {
        bail!(
            "--neighbour {n}: {} does not support the {} runtime family (metadata `runtimes`)",
            n.function,
            n.runtime.family()
        );
    }
    Ok(())
}

/// What starts the neighbour beside each cell: its image (prepared once,
/// into the shared cache) and its payloads.
pub struct Host<'a> {
    pub spec: &'a Neighbour,
    image: String,
    protocol: Protocol,
    payloads: Option<&'a Payloads>,
    cache: &'a Path,
    prepared: Option<lumos_runtimes::run::Prepared>,
    /// The runner's per-request time limit.
    timeout: Duration,
}

impl<'a> Host<'a> {
    pub fn new(
        spec: &'a Neighbour,
        image: String,
        protocol: Protocol,
        payloads: Option<&'a Payloads>,
        cache: &'a Path,
        timeout: Duration,
    ) -> Self {
        Host {
            spec,
            image,
            protocol,
            payloads,
            cache,
            prepared: None,
            timeout,
        }
    }

    /// A new instance, busy: its thread has sent its first request and had
    /// an OK answer. The neighbour is sent its own payload of `group`.
    pub fn start(&mut self, runner: &Runner, group: u8) -> Result<Running, NeighbourError> {
        let payload = self.payloads.map(|p| p.group(group)).unwrap_or_default();
        for o in &payload.objects {
            // A failed preload shows as the neighbour's failing requests.
            let _ = runner.store().put(&o.key, &o.bytes);
        }
        let g = group.to_string();
        let job = Job {
            image: &self.image,
            runtime: self.spec.runtime,
            payload: &payload.request,
            args: &payload.args,
            protocol: Some(self.protocol),
            cache: Some(self.cache),
            group: Some(&g),
            // The neighbour shares the runner's network.
            node: None,
        };
        if self.prepared.is_none() {
            self.prepared = Some(runner.prepare(&job).map_err(NeighbourError::Prepare)?);
        }
        let prepared = self.prepared.as_ref().expect("prepared above");
        let ready = runner
            .start(prepared, &job)
            .map_err(NeighbourError::Start)?;
        let counters = Arc::new(Counters::default());
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (first_tx, first_rx) = mpsc::channel::<Result<(), String>>();
        let (done_tx, done_rx) = mpsc::channel::<Option<String>>();
        let drive = Drive {
            body: payload.request.clone(),
            period: self.spec.rate.map(|r| 1.0 / r),
            counters: counters.clone(),
            stop: stop_rx,
            first: Some(first_tx),
        };
        std::thread::Builder::new()
            .name("lumos-neighbour".into())
            .spawn(move || {
                let error = drive.run(ready);
                let _ = done_tx.send(error);
            })
            .map_err(NeighbourError::Spawn)?;
        let deadline = self.timeout + MARGIN;
        let mut running = Running {
            spec: self.spec.clone(),
            counters,
            stop: Some(stop_tx),
            done: done_rx,
            deadline,
            window: None,
        };
        match first_rx.recv_timeout(deadline) {
            Ok(Ok(())) => Ok(running),
            Ok(Err(why)) => {
                running.stop();
                Err(NeighbourError::FirstRequest(why))
            }
            Err(_) => {
                running.stop();
                Err(NeighbourError::NoAnswer(deadline))
            }
        }
    }
}

/// What the driving thread counts; read by the cell at its window's edges.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
}

#[derive(Clone, Copy)]
struct Snapshot {
    at: Instant,
    sent: u64,
    ok: u64,
    failed: u64,
}

impl Counters {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            sent: self.sent.load(Ordering::SeqCst),
            ok: self.ok.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
        }
    }
}

/// The driving thread's state.
struct Drive {
    body: Vec<u8>,
    /// Open loop: seconds between requests; None: closed loop.
    period: Option<f64>,
    counters: Arc<Counters>,
    stop: mpsc::Receiver<()>,
    /// Told of the first answer, then dropped.
    first: Option<mpsc::Sender<Result<(), String>>>,
}

impl Drive {
    /// Whether a stop came (or the cell went away) within `wait`.
    fn stopped_within(&self, wait: Duration) -> bool {
        match self.stop.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        }
    }

    /// Sends requests until told to stop; stops the instance; returns why it
    /// stopped early, if it did.
    fn run(mut self, mut ready: Ready) -> Option<String> {
        let period = self.period.map(Duration::from_secs_f64);
        // When the next request is due. Open loop: a period after the last
        // one was due, or now when that has passed (no burst to catch up);
        // closed loop: always now.
        let mut next = Instant::now();
        let mut consecutive = 0u32;
        let mut error = None;
        loop {
            if self.stopped_within(next.saturating_duration_since(Instant::now())) {
                break;
            }
            self.counters.sent.fetch_add(1, Ordering::SeqCst);
            let o = ready.call(&self.body);
            next = match period {
                Some(p) => (next + p).max(Instant::now()),
                None => Instant::now(),
            };
            if o.is_ok() {
                consecutive = 0;
                self.counters.ok.fetch_add(1, Ordering::SeqCst);
                if let Some(tx) = self.first.take() {
                    let _ = tx.send(Ok(()));
                }
                continue;
            }
            self.counters.failed.fetch_add(1, Ordering::SeqCst);
            consecutive += 1;
            let why = match &o.result {
                Ok(lumos_runtimes::host::Reply::FunctionError { kind, message, .. }) => {
                    format!("{kind}: {message}")
                }
                Err(f) => f.to_string(),
                Ok(_) => unreachable!("not ok"),
            };
            if let Some(tx) = self.first.take() {
                let _ = tx.send(Err(why.clone()));
                error = Some(why);
                break;
            }
            if consecutive >= MAX_CONSECUTIVE_FAILURES {
                error = Some(format!(
                    "stopped after {consecutive} failed requests in a row: {why}"
                ));
                break;
            }
        }
        ready.stop(Duration::from_millis(500));
        error
    }
}

/// A neighbour at work beside a cell.
pub struct Running {
    spec: Neighbour,
    counters: Arc<Counters>,
    stop: Option<mpsc::Sender<()>>,
    done: mpsc::Receiver<Option<String>>,
    deadline: Duration,
    window: Option<Snapshot>,
}

impl Running {
    /// The cell's measurement starts now.
    pub fn open_window(&mut self) {
        self.window = Some(self.counters.snapshot());
    }

    /// Tells the thread to stop and waits (with the deadline) for it to end;
    /// why it stopped early, if it did.
    fn stop(&mut self) -> Option<String> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.done.recv_timeout(self.deadline) {
            Ok(e) => e,
            Err(_) => Some(format!(
                "did not stop within {} s of being told to (left to the runner's guard)",
                self.deadline.as_secs()
            )),
        }
    }

    /// The cell's measurement ended now: what the neighbour did in the
    /// window; then it is stopped.
    pub fn finish(mut self) -> NeighbourRecord {
        let end = self.counters.snapshot();
        let start = self.window.unwrap_or(end);
        let error = self.stop();
        let window = end.at.duration_since(start.at).as_secs_f64();
        let ok = end.ok - start.ok;
        NeighbourRecord {
            function: self.spec.function.clone(),
            runtime: self.spec.runtime,
            rate: self.spec.rate,
            window_ms: window * 1e3,
            requests: end.sent - start.sent,
            ok,
            failed: end.failed - start.failed,
            achieved_rps: if window > 0.0 {
                ok as f64 / window
            } else {
                0.0
            },
            before_window: start.sent,
            error,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
