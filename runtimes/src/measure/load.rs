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
use std::sync::{Arc, Barrier, Mutex};
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

/// Runs one level.
pub fn run_level(
    launcher: &Arc<Launcher>,
    body: &Arc<Vec<u8>>,
    spec: &LoadSpec,
    c: usize,
) -> LoadLevel {
    let c = c.max(1);
    let open = spec.arrival != Arrival::Closed;
    let rate = spec.rate.unwrap_or(100.0).max(1e-3);
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
    let barrier = Barrier::new(c + 1);
    let go = Barrier::new(c + 1);
    let t0 = Mutex::new(Instant::now());
    // Past this, unsent requests are counted as timeouts.
    let horizon = spec.duration * 2 + launcher.limits.request_timeout;
    let mut started = 0usize;
    let mut replaced = 0u32;
    let elapsed = std::thread::scope(|s| {
        let mut hs = vec![];
        for _ in 0..c {
            let (next, tally, barrier, go, t0, plan) = (&next, &tally, &barrier, &go, &t0, &plan);
            let launcher = launcher.clone();
            let body = body.clone();
            hs.push(s.spawn(move || {
                let mut slot = Slot::new(launcher);
                // Instances are started before the clock starts; a failure here shows up per request.
                let _ = slot.ensure();
                barrier.wait();
                go.wait();
                let start = *t0.lock().unwrap();
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
                    let o = slot.call(&body);
                    // Open loop: from the intended start; closed loop: the round trip.
                    let lat = if open { intended.elapsed() } else { o.latency };
                    local.all.record(lat);
                    match o.error_class() {
                        None => {
                            local.ok_n += 1;
                            local.ok.record(lat);
                        }
                        Some(k) => local.error(&k),
                    }
                }
                slot.close(Duration::from_millis(500));
                let mut t = tally.lock().unwrap();
                t.ok.merge(&local.ok);
                t.all.merge(&local.all);
                t.ok_n += local.ok_n;
                t.errors += local.errors;
                t.timeouts += local.timeouts;
                for (k, v) in local.by_kind {
                    *t.by_kind.entry(k).or_default() += v;
                }
                (slot.instances.len(), slot.replaced)
            }));
        }
        barrier.wait();
        let begin = Instant::now();
        *t0.lock().unwrap() = begin;
        go.wait();
        let mut last = begin;
        for h in hs {
            let (st, rp) = h.join().expect("load worker");
            started += st;
            replaced += rp;
            last = Instant::now();
        }
        last - begin
    });
    let t = tally.into_inner().unwrap();
    let sent = next.load(Ordering::Relaxed).min(n);
    let secs = elapsed.as_secs_f64().max(1e-9);
    LoadLevel {
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
    }
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
