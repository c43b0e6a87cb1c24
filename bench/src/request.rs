//! What a bench is asked to do: typed settings, no command line (the
//! `cargo-lumos` binary turns its flags into a [`BenchRequest`]).

use std::time::Duration;

use lumos_build::CargoArgs;
use lumos_model::{Arrival, ChainData, Mode, Runtime};

/// Everything a bench run takes. `None` and empty lists mean "the default"
/// (which `--quick` makes smaller); see [`crate::Plan`].
#[derive(Debug, Clone, Default)]
pub struct BenchRequest {
    /// Which workspace and functions (`-p`), and cargo's flags for building.
    pub cargo: CargoArgs,
    /// Runtimes; empty: all.
    pub runtimes: Vec<Runtime>,
    /// Payload groups (1, 2, 3); empty: group 1.
    pub groups: Vec<u8>,
    /// `--skip FUNCTION@RUNTIME`: functions left out on a runtime (every
    /// mode); empty: none.
    pub skip: Vec<lumos_model::Skip>,
    /// Modes; empty: cold-cached, cold and warm (and load when a load
    /// setting is given). `cold-node` needs root.
    pub modes: Vec<Mode>,
    /// Cold starts, and warm runs (each on a new instance), per cell.
    pub repeat: Option<usize>,
    /// Warm: measured requests per run.
    pub requests: Option<usize>,
    /// Warm: requests sent and discarded before measuring.
    pub warmup: Option<usize>,
    /// Warm: measured requests a cell reaches at least (more runs are made
    /// until it does); None: 10.
    pub min_requests: Option<u64>,
    /// Warm: time a cell measures at least; None: 3 s (`--quick`: 0).
    pub min_time: Option<Duration>,
    /// Warm: no new run of a cell starts after this; a cell it stops before
    /// its minimum is `partial`. None: 120 s.
    pub max_time: Option<Duration>,
    /// A small matrix that ends in a few minutes: group 1, fewer requests
    /// and repeats, a short load section. Explicit settings win.
    pub quick: bool,
    /// `HOST[:PORT]/NAMESPACE` to push to and pull from; None: a throwaway
    /// local registry.
    pub registry: Option<String>,
    /// Plain HTTP (and unverified TLS) to a non-loopback registry.
    pub insecure: bool,
    /// The sandbox (lumos-runtimes' `RunOpts::sandbox`): None, native runs
    /// in the probed one; `containerd`, every cell under a private containerd
    /// that pulls the images itself (native with runc, wasmedge-interp and
    /// wasmedge-aot with crun+WasmEdge; other runtimes' cells fail).
    pub sandbox: Option<lumos_model::Sandbox>,
    /// Storage for data-intensive functions (`redis://HOST:PORT`); None: the runner's memory.
    pub baas: Option<String>,
    /// The link to the storage server (`--baas-bandwidth`, `--baas-delay`);
    /// None: reached directly.
    pub baas_link: Option<lumos_model::BaasLinkSpec>,
    /// `--node NAME[:RATE]`: nodes to place functions on, each a network
    /// namespace with a veth pair to the runner's (tc tbf at RATE both
    /// ways); empty: the runner's own network.
    pub nodes: Vec<lumos_model::NodeSpec>,
    /// `--place FUNCTION=NODE`: functions pinned to a node; the others run
    /// on each node in turn.
    pub place: Vec<(String, String)>,
    /// Base of native images; None: each function's `base`.
    pub base: Option<String>,
    pub load: LoadRequest,
    /// A workflow instead of the matrix of single functions.
    pub workflow: WorkflowRequest,
    /// Co-located load: a function kept busy beside every measured cell.
    pub neighbour: Option<NeighbourRequest>,
    /// Memory limit per instance, MiB (0: none).
    pub memory_mib: u64,
    /// CPUs per instance, fractional (a CFS quota); None: no limit.
    pub cpus: Option<f64>,
    /// The device profile `memory_mib` and `cpus` came from, for the record.
    pub device: Option<lumos_model::Device>,
    /// Per-request time limit.
    pub timeout: Duration,
    /// Use what build.json lists; do not build.
    pub no_build: bool,
    /// The executable that hosts the runner's wasm shims and guard (see
    /// lumos-runtimes' `RunOpts::runner_exe`); None: found by lumos-runtimes.
    pub runner_exe: Option<std::path::PathBuf>,
    /// `--endpoint URL` / `--endpoints FILE`: the matrix measured over HTTP
    /// against deployed services; nothing is built, packed, pushed or started.
    pub endpoint: Option<EndpointRequest>,
}

/// Deployed services to measure instead of instances the runner starts.
#[derive(Debug, Clone)]
pub struct EndpointRequest {
    pub target: EndpointTarget,
    /// `--cold-command`: `sh -c` before each cold request.
    pub cold_command: Option<String>,
    /// Its deadline (`--cold-command-timeout`).
    pub cold_command_timeout: Duration,
    /// `--cold-wait`: the wait before each cold request when no command is
    /// given; None: [`DEFAULT_COLD_WAIT`].
    pub cold_wait: Option<Duration>,
}

/// Knative's default time for an idle revision to reach zero: the
/// autoscaler's 60 s stable window with no request, then up to the 30 s
/// `scale-to-zero-grace-period` before the last pod is removed.
pub const DEFAULT_COLD_WAIT: Duration = Duration::from_secs(90);

/// Where each (function, runtime) is reached.
#[derive(Debug, Clone)]
pub enum EndpointTarget {
    /// `--endpoint URL`: an ingress routing by Host header, as Knative's
    /// Kourier/Envoy gateway does; each row's Host is
    /// `<service>.<namespace>.<domain>`, `<service>` being the Knative
    /// Service `cargo lumos deploy` names.
    Ingress {
        url: String,
        namespace: String,
        domain: String,
    },
    /// `--endpoints FILE`: `[[endpoint]]` entries (see [`crate::endpoint`]).
    File(std::path::PathBuf),
}

/// The load section's settings.
#[derive(Debug, Clone, Default)]
pub struct LoadRequest {
    /// Concurrency levels; empty: the default.
    pub concurrency: Vec<usize>,
    pub arrival: Option<Arrival>,
    /// Open loop: requests per second.
    pub rate: Option<f64>,
    /// Seconds per level.
    pub duration: Option<Duration>,
    /// Requests per level.
    pub requests: Option<u64>,
    /// Only these functions; empty: every selected function.
    pub functions: Vec<String>,
}

impl LoadRequest {
    /// Whether any load setting was given (then load runs by default).
    pub fn asked(&self) -> bool {
        !self.concurrency.is_empty() || self.arrival.is_some()
    }
}

/// `--neighbour FUNCTION[@RUNTIME][:RPS]`: one instance of another function
/// of the workspace, started before each cell is measured and stopped after
/// it, sent requests the whole time (open loop at the rate, or closed loop at
/// concurrency 1).
#[derive(Debug, Clone)]
pub struct NeighbourRequest {
    pub neighbour: lumos_model::Neighbour,
    /// Measure each cell twice: without the neighbour, then with it (the
    /// command line's default; `--no-neighbour-baseline`: with it only).
    pub baseline: bool,
}

/// A workflow: `--chain A,B,…` or `--workflow NAME`, with how data passes
/// and where steps run. Nothing asked: the usual matrix.
#[derive(Debug, Clone, Default)]
pub struct WorkflowRequest {
    /// `--chain`: the steps, function names in order.
    pub chain: Vec<String>,
    /// `--workflow`: a name from `[workspace.metadata.lumos.workflows]`.
    pub name: Option<String>,
    /// `--chain-data`; None: inline.
    pub chain_data: Option<ChainData>,
    /// `--placement FUNCTION=RUNTIME,…`: steps pinned to a runtime; the
    /// others run on each selected runtime in turn.
    pub placement: Vec<(String, Runtime)>,
}

impl WorkflowRequest {
    /// Whether a workflow was asked for.
    pub fn asked(&self) -> bool {
        !self.chain.is_empty() || self.name.is_some()
    }
}
