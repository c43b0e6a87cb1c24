//! Throughput and latency at a concurrency level, closed loop or open loop.
//!
//! Closed loop: `c` instances, each with one client that sends its next
//! request as soon as the previous one is answered.
//!
//! Open loop: requests have intended start times from an arrival process
//! (constant rate, Poisson, bursty), fixed before the level starts. `c`
//! instances take them in order; a request's latency is measured from its
//! intended start, not from when an instance got free, so waiting behind a
//! slow request counts (no coordinated omission). Requests still unsent when
//! the level's deadline passes are counted as timeouts, never dropped.

use crate::launch::{Launcher, Slot};
use crate::measure::latency::Recorder;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub use lumos_model::{Arrival, LoadLevel, LoadMode};

/// What one load run does.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoadSpec {
    pub concurrency: Vec<usize>,
    pub arrival: Arrival,
    /// Open loop: the mean arrival rate, requests per second.
    pub rate: Option<f64>,
    /// Requests per level (closed loop: default 20 x concurrency, at least 200;
    /// open loop: default rate x duration).
    pub requests: Option<u64>,
    /// Closed loop: stop sending after this long. Open loop: the schedule's length.
    pub duration: Duration,
    /// Seed of the arrival process.
    pub seed: u64,
}

impl Default for LoadSpec {
    fn default() -> Self {
        LoadSpec {
            concurrency: vec![1, 10, 50, 100, 200],
            arrival: Arrival::Closed,
            rate: None,
            requests: None,
            duration: Duration::from_secs(10),
            seed: 0x10_05,
        }
    }
}

/// A small seeded PRNG (splitmix64) for arrival processes.
struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

/// Intended start offsets for an open-loop level.
pub fn schedule(arrival: Arrival, rate: f64, n: u64, seed: u64) -> Vec<Duration> {
    let mut rng = Rng(seed);
    let mut t = 0.0f64;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        match arrival {
            Arrival::Closed | Arrival::Constant => t = i as f64 / rate,
            Arrival::Poisson => {
                if i > 0 {
                    t += -rng.next_f64().ln() / rate;
                }
            }
            Arrival::Bursty { burst } => t = (i / burst as u64) as f64 * burst as f64 / rate,
        }
        out.push(Duration::from_secs_f64(t));
    }
    out
}

struct Tally {
    ok: Recorder,
    all: Recorder,
    ok_n: u64,
    errors: u64,
    timeouts: u64,
    by_kind: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            ok: Recorder::new(false),
            all: Recorder::new(false),
            ok_n: 0,
            errors: 0,
            timeouts: 0,
            by_kind: BTreeMap::new(),
        }
    }
    fn error(&mut self, kind: &str) {
        self.errors += 1;
        if kind == "timeout" {
            self.timeouts += 1;
        }
        *self.by_kind.entry(kind.to_string()).or_default() += 1;
    }
}

/// The start line of a level's client threads. Hand-written rather than a
/// `std::sync::Barrier`: a barrier for c + 1 parties never opens when one of
/// the c threads fails to spawn, and the spawned ones would wait on it
/// forever. Here the coordinator waits only for the threads that exist, then
/// either starts the clock for all of them or calls the level off.
struct Gate {
    state: Mutex<GateState>,
    cv: Condvar,
}

struct GateState {
    /// Threads that reached the line (or left without reaching it).
    arrived: usize,
    /// `Some(Some(t0))`: go, the level's clock started at t0; `Some(None)`: called off.
    decision: Option<Option<Instant>>,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            state: Mutex::new(GateState {
                arrived: 0,
                decision: None,
            }),
            cv: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one thread in; a thread that unwinds before [`Ticket::arrive`]
    /// is still counted, so the coordinator never waits for it.
    fn ticket(&self) -> Ticket<'_> {
        Ticket {
            gate: self,
            counted: false,
        }
    }

    fn wait_for(&self, n: usize) {
        let mut s = self.lock();
        while s.arrived < n {
            s = self.cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn decide(&self, start: Option<Instant>) {
        self.lock().decision = Some(start);
        self.cv.notify_all();
    }
}

struct Ticket<'a> {
    gate: &'a Gate,
    counted: bool,
}

impl Ticket<'_> {
    fn count(&mut self) {
        if !self.counted {
            self.counted = true;
            self.gate.lock().arrived += 1;
            self.gate.cv.notify_all();
        }
    }

    /// Waits at the line: the level's start, or `None` when it was called off.
    fn arrive(mut self) -> Option<Instant> {
        self.count();
        let mut s = self.gate.lock();
        loop {
            if let Some(d) = s.decision {
                return d;
            }
            s = self.gate.cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.count();
    }
}

/// What a thread that panicked said.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

impl LoadSpec {
    /// Refuses a spec outside [`crate::bounds`]: no level, a level of 0 or
    /// above the bound, a rate or duration that is not finite and positive,
    /// or more requests per level (given, or rate x duration) than the bound.
    pub fn check(&self) -> crate::Result<()> {
        use crate::bounds;
        let usage = |m: String| Err(crate::Error::Usage(m));
        if self.concurrency.is_empty() {
            return usage("no concurrency level".into());
        }
        for &c in &self.concurrency {
            if !bounds::CONCURRENCY.contains(&(c as u64)) {
                return usage(format!(
                    "concurrency {c} is not in {:?} (one client thread and one instance each)",
                    bounds::CONCURRENCY
                ));
            }
        }
        if let Some(r) = self.rate {
            if !(r > 0.0 && r <= bounds::MAX_RATE) {
                return usage(format!(
                    "rate {r} is not in (0, {}] requests per second",
                    bounds::MAX_RATE
                ));
            }
        }
        let secs = self.duration.as_secs_f64();
        if !(secs > 0.0 && secs <= bounds::MAX_DURATION_S) {
            return usage(format!(
                "duration {secs} s is not in (0, {}] seconds",
                bounds::MAX_DURATION_S
            ));
        }
        match self.requests {
            Some(n) if !bounds::LEVEL_REQUESTS.contains(&n) => {
                return usage(format!(
                    "{n} requests per level is not in {:?}",
                    bounds::LEVEL_REQUESTS
                ))
            }
            None if self.arrival != Arrival::Closed => {
                let n = (self.rate_or_default() * secs).ceil();
                if n > *bounds::LEVEL_REQUESTS.end() as f64 {
                    return usage(format!(
                        "{} requests per second for {secs} s schedules {n} requests per level, \
                         more than {}: shorten the level, lower the rate or give a request count",
                        self.rate_or_default(),
                        bounds::LEVEL_REQUESTS.end()
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The open-loop rate: the one given, else 100 per second.
    fn rate_or_default(&self) -> f64 {
        self.rate.unwrap_or(100.0)
    }
}

/// What a level's client threads send requests to: each thread opens its
/// own connection (an instance of its own, or a connection to a deployed
/// service) before the clock starts, sends on it, and closes it.
pub trait Target: Sync {
    type Conn;
    /// One client's connection, made before the level's clock starts (a
    /// failure shows up per request).
    fn open(&self) -> Self::Conn;
    /// One request: its round trip and its error class, if it failed.
    fn call(&self, conn: &mut Self::Conn, body: &[u8]) -> (Duration, Option<String>);
    /// Closes the connection: instances started and replaced.
    fn close(&self, conn: Self::Conn) -> (usize, u32);
    /// The per-request time limit (past the level's horizon by this much,
    /// unsent requests are timeouts).
    fn request_timeout(&self) -> Duration;
}

/// Instances the runner starts: one slot (instance) per client thread.
impl Target for Arc<Launcher> {
    type Conn = Slot;
    fn open(&self) -> Slot {
        let mut slot = Slot::new(self.clone());
        let _ = slot.ensure();
        slot
    }
    fn call(&self, slot: &mut Slot, body: &[u8]) -> (Duration, Option<String>) {
        let o = slot.call(body);
        (o.latency, o.error_class())
    }
    fn close(&self, mut slot: Slot) -> (usize, u32) {
        slot.close(Duration::from_millis(500));
        (slot.instances.len(), slot.replaced)
    }
    fn request_timeout(&self) -> Duration {
        self.limits.request_timeout
    }
}

/// Runs one level: `c` client threads, each with its own instance. When a
/// thread cannot be spawned (a process or thread limit), the level is called
/// off: the threads already started close their instances and the error
/// names how many had started and the OS error. Nothing waits forever.
pub fn run_level(
    launcher: &Arc<Launcher>,
    body: &Arc<Vec<u8>>,
    spec: &LoadSpec,
    c: usize,
) -> crate::Result<LoadLevel> {
    run_level_with(launcher, body, spec, c)
}

/// [`run_level`] against any [`Target`]: `c` client threads, each with a
/// connection of its own.
pub fn run_level_with<T: Target>(
    target: &T,
    body: &Arc<Vec<u8>>,
    spec: &LoadSpec,
    c: usize,
) -> crate::Result<LoadLevel> {
    LoadSpec {
        concurrency: vec![c],
        ..spec.clone()
    }
    .check()?;
    let open = spec.arrival != Arrival::Closed;
    let rate = spec.rate_or_default();
    let n = match (open, spec.requests) {
        (_, Some(n)) => n,
        (false, None) => (20 * c as u64).max(200),
        (true, None) => (rate * spec.duration.as_secs_f64()).ceil().max(1.0) as u64,
    };
    let plan = if open {
        schedule(spec.arrival, rate, n, spec.seed)
    } else {
        vec![]
    };
    let next = AtomicU64::new(0);
    let tally = Mutex::new(Tally::new());
    let gate = Gate::new();
    // Past this, unsent requests are counted as timeouts.
    let horizon = spec.duration * 2 + target.request_timeout();
    let mut started = 0usize;
    let mut replaced = 0u32;
    let mut panicked: Option<String> = None;
    let mut spawn_error: Option<(usize, std::io::Error)> = None;
    let elapsed = std::thread::scope(|s| {
        let mut hs = Vec::with_capacity(c);
        for i in 0..c {
            let (next, tally, gate, plan) = (&next, &tally, &gate, &plan);
            let body = body.clone();
            let worker = move || {
                let ticket = gate.ticket();
                // Instances are started before the clock starts; a failure here shows up per request.
                let mut conn = target.open();
                let Some(start) = ticket.arrive() else {
                    return target.close(conn);
                };
                let mut local = Tally::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let intended = if open {
                        let at = start + plan[i as usize];
                        if at.saturating_duration_since(start) > horizon
                            || Instant::now() > start + horizon
                        {
                            local.error("timeout");
                            continue;
                        }
                        let now = Instant::now();
                        if at > now {
                            std::thread::sleep(at - now);
                        }
                        at
                    } else {
                        if start.elapsed() > spec.duration {
                            // Closed loop: stop claiming; the rest were never sent.
                            next.fetch_sub(1, Ordering::Relaxed);
                            break;
                        }
                        Instant::now()
                    };
                    let (round_trip, error) = target.call(&mut conn, &body);
                    // Open loop: from the intended start; closed loop: the round trip.
                    let lat = if open { intended.elapsed() } else { round_trip };
                    local.all.record(lat);
                    match error {
                        None => {
                            local.ok_n += 1;
                            local.ok.record(lat);
                        }
                        Some(k) => local.error(&k),
                    }
                }
                let closed = target.close(conn);
                let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                t.ok.merge(&local.ok);
                t.all.merge(&local.all);
                t.ok_n += local.ok_n;
                t.errors += local.errors;
                t.timeouts += local.timeouts;
                for (k, v) in local.by_kind {
                    *t.by_kind.entry(k).or_default() += v;
                }
                closed
            };
            match std::thread::Builder::new()
                .name(format!("load-{c}-{i}"))
                .spawn_scoped(s, worker)
            {
                Ok(h) => hs.push(h),
                Err(e) => {
                    spawn_error = Some((i, e));
                    break;
                }
            }
        }
        gate.wait_for(hs.len());
        let begin = Instant::now();
        gate.decide(spawn_error.is_none().then_some(begin));
        let mut last = begin;
        for h in hs {
            match h.join() {
                Ok((st, rp)) => {
                    started += st;
                    replaced += rp;
                }
                Err(p) => {
                    panicked.get_or_insert_with(|| panic_message(p.as_ref()));
                }
            }
            last = Instant::now();
        }
        last - begin
    });
    if let Some((spawned, source)) = spawn_error {
        return Err(crate::Error::ThreadSpawn {
            concurrency: c,
            started: spawned,
            source,
        });
    }
    if let Some(message) = panicked {
        return Err(crate::Error::WorkerPanic {
            concurrency: c,
            message,
        });
    }
    let t = tally.into_inner().unwrap_or_else(|p| p.into_inner());
    let sent = next.load(Ordering::Relaxed).min(n);
    let secs = elapsed.as_secs_f64().max(1e-9);
    Ok(LoadLevel {
        concurrency: c,
        mode: spec.arrival.mode(),
        rate_rps: open.then_some(rate),
        sent: if open { n } else { sent },
        ok: t.ok_n,
        errors: t.errors,
        timeouts: t.timeouts,
        errors_by_kind: t.by_kind,
        duration_s: secs,
        throughput_rps: t.ok_n as f64 / secs,
        latency_ms: t.ok.stats(),
        latency_all_ms: t.all.stats(),
        instances_started: started,
        instances_replaced: replaced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let c = schedule(Arrival::Constant, 100.0, 5, 1);
        assert_eq!(c[4], Duration::from_millis(40));
        let b = schedule(Arrival::Bursty { burst: 10 }, 100.0, 25, 1);
        assert_eq!(b[9], Duration::ZERO);
        assert_eq!(b[10], Duration::from_millis(100));
        let p = schedule(Arrival::Poisson, 1000.0, 20_000, 7);
        let mean_gap = p.last().unwrap().as_secs_f64() / 19_999.0;
        assert!((mean_gap - 0.001).abs() < 0.0001, "{mean_gap}");
    }
}
