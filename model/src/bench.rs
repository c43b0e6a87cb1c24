//! What `cargo lumos bench --json` writes: `{"schema_version":1,"machine":…,
//! "versions":…,"settings":…,"runs":[…]}`, one row per (function, runtime,
//! group, mode), aggregated over `--repeat`.

use std::collections::BTreeMap;

use crate::{
    ColdEvidence, ColdStart, Device, EndpointRecord, ImageInfo, LatencyStats, Limits, LoadLevel,
    Machine, Mode, Neighbour, NeighbourRecord, Phases, Protocol, Runtime, Sandbox, Status,
    Versions, WorkflowRecord,
};

pub(crate) fn schema_version() -> u32 {
    crate::SCHEMA_VERSION
}

/// The whole `--json` document.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BenchOutput {
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    pub machine: Machine,
    pub versions: Versions,
    /// What was asked for, for the record.
    pub settings: Settings,
    pub runs: Vec<RunRow>,
}

/// The settings of a bench run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub registry: String,
    /// `memory` or the `--baas` URL.
    pub store: String,
    pub repeat: usize,
    pub warmup: usize,
    pub requests: usize,
    /// `scratch`, `debian-slim`, … (the base of native images as packed).
    pub native_base: String,
    /// Each runtime asked for: None when available, else why not.
    pub runtimes: BTreeMap<Runtime, Option<String>>,
    /// The limits every instance ran under (memory, CPUs, time limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// The device profile the limits came from (`--device`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    /// The link between the functions and their storage server
    /// (`--baas-bandwidth`, `--baas-delay`) and the relay's measured overhead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baas_link: Option<crate::BaasLink>,
    /// `--neighbour`: the function kept busy beside every measured cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbour: Option<Neighbour>,
    /// With `--neighbour`: whether each cell was also measured without it
    /// (the default; `--no-neighbour-baseline` turns it off).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub neighbour_baseline: bool,
    /// `--node`: the nodes functions were placed on (each row names its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<crate::NodeRecord>,
    /// `--skip`: functions left out on a runtime (no row stands for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<crate::Skip>,
}

/// One row of a bench: a cell of the matrix, over its repeats.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRow {
    pub function: String,
    pub runtime: Runtime,
    pub group: u8,
    pub mode: Mode,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The sandbox used (native runs, and every run under containerd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
    /// How the runner talked to the function (`stdio`: a new process per
    /// request, so warm rows are process-per-request).
    #[serde(default)]
    pub protocol: Protocol,
    pub image: ImageInfo,
    /// Cold: means over the repeats.
    pub cold_start_ms: Option<ColdStart>,
    /// Cold kinds: the evidence of each repeat, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cold_evidence: Vec<ColdEvidence>,
    /// Warm: every measured request of every repeat; cold: the first
    /// response of each repeat; workflow: the makespan of each chain.
    pub latency_ms: Option<LatencyStats>,
    /// Cold: the end-to-end total of each repeat, as statistics (median
    /// with its 95% interval; `cold_start_ms` keeps the phases' means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_total_ms: Option<LatencyStats>,
    pub phases_ms: Option<Phases>,
    /// CPU time of the instance(s), mean per repeat.
    pub cpu_ms: Option<f64>,
    /// Largest peak RSS over the repeats.
    pub peak_rss_bytes: Option<u64>,
    pub repeats: usize,
    pub requests: u64,
    /// Requests that answered OK.
    #[serde(default)]
    pub ok: u64,
    /// Requests that did not answer OK, plus runs that failed outright.
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub error_samples: Vec<String>,
    /// SHA-256 (hex) of the first response body that answered OK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_sha256: Option<String>,
    pub warnings: Vec<String>,
    pub payload_bytes: u64,
    pub store: String,
    /// Per-request phases of the warm requests (for the CDFs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phase_samples: Vec<Phases>,
    /// Load: one entry per concurrency level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<Vec<LoadLevel>>,
    /// Mode `workflow`: the chain, where each step ran, how data passed,
    /// each step's latency and hand-over (the row's `latency_ms` is the
    /// makespan; `function` names the workflow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowRecord>,
    /// `--neighbour`: what the neighbour did while this row was measured;
    /// None for a row measured without one (the baseline of a cell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbour: Option<NeighbourRecord>,
    /// `--endpoint` / `--endpoints`: the deployed service measured (its
    /// URL and Host header) instead of an instance the runner started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointRecord>,
    /// `--node`: the node whose namespace the instances ran in (requests
    /// and responses of `http` functions crossed its link); None: the
    /// runner's own network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<crate::NodeRecord>,
}
