//! What a bench run writes: `{"machine":{…},"versions":{…},"runs":[…]}`, one
//! row per (function, runtime, group, mode), aggregated over `--repeat`.

use lumos_runtimes::machine::{Machine, Versions};
use lumos_runtimes::measure::latency::LatencyStats;
use lumos_runtimes::run::ColdStart;
use lumos_runtimes::LoadLevel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole `--json` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchOutput {
    pub machine: Machine,
    pub versions: Versions,
    /// What was asked for, for the record.
    pub settings: Settings,
    pub runs: Vec<RunRow>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    pub registry: String,
    /// `memory` or the `--baas` URL.
    pub store: String,
    pub repeat: usize,
    pub warmup: usize,
    pub requests: usize,
    /// `scratch`, `debian-slim`, … (the base of native images as packed).
    pub native_base: String,
    pub runtimes: BTreeMap<String, Option<String>>,
}

/// Image sizes, bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageSizes {
    pub reference: String,
    pub digest: Option<String>,
    pub compressed_bytes: u64,
    pub unpacked_bytes: u64,
}

/// Means of the SDK's per-request phases, milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Phases {
    pub io: f64,
    pub deserialize: f64,
    pub compute: f64,
    pub serialize: f64,
}

/// One row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunRow {
    pub function: String,
    pub runtime: String,
    pub group: u8,
    /// `cold`, `warm` or `load`.
    pub mode: String,
    /// `ok`, `failed` (the run could not be made; see `error`) or
    /// `unavailable` (the runtime cannot run here; see `error`).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The native sandbox used (runc, crun, chroot, process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    pub image: ImageSizes,
    /// Cold: means over the repeats.
    pub cold_start_ms: Option<ColdStart>,
    /// Warm: every measured request of every repeat; cold: the first
    /// response of each repeat.
    pub latency_ms: Option<LatencyStats>,
    pub phases_ms: Option<Phases>,
    /// CPU time of the instance(s), mean per repeat (cold: start + one
    /// request; warm: start, warm-up and measured requests).
    pub cpu_ms: Option<f64>,
    /// Largest peak RSS over the repeats.
    pub peak_rss_bytes: Option<u64>,
    pub repeats: usize,
    pub requests: u64,
    /// Requests that did not answer OK, plus runs that failed outright.
    pub errors: u64,
    /// Requests that answered OK; a bench in which no row has one measured
    /// nothing and exits non-zero. Not written (`requests` and `errors` say it).
    #[serde(skip)]
    pub ok_requests: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub error_samples: Vec<String>,
    pub warnings: Vec<String>,
    pub payload_bytes: u64,
    pub store: String,
    /// Per-request phases of the warm requests, milliseconds (for the CDFs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phase_samples: Vec<Phases>,
    /// Load: one entry per concurrency level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<Vec<LoadLevel>>,
}
