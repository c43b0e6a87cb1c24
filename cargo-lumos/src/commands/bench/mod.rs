//! `cargo lumos bench`: the flags, turned into a `lumos_bench::BenchRequest`;
//! the engine's events shown as progress; the result printed as a table and
//! written as JSON, CSV and HTML (lumos-report).

mod outputs;
mod progress;

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lumos_bench::{BenchRequest, Event, LoadRequest, WorkflowRequest};
use lumos_build::cargo_args::absolute_path;
use lumos_build::CargoArgs;
use lumos_model::{Arrival, ChainData, Mode, Runtime};
use lumos_runtimes::bounds;

/// A clap parser for a `usize` flag in `range` (lumos_runtimes::bounds).
fn usize_in(range: RangeInclusive<u64>) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(range)
}

/// A clap parser for a `u64` flag in `range` (lumos_runtimes::bounds).
fn u64_in(range: RangeInclusive<u64>) -> clap::builder::RangedU64ValueParser<u64> {
    clap::builder::RangedU64ValueParser::<u64>::new().range(range)
}

/// `--placement FUNCTION=RUNTIME`.
fn placement(s: &str) -> Result<(String, Runtime), String> {
    let (f, r) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FUNCTION=RUNTIME, got `{s}`"))?;
    if f.trim().is_empty() {
        return Err(format!("no function before `=` in `{s}`"));
    }
    let r: Runtime = r
        .trim()
        .parse()
        .map_err(|e: lumos_model::UnknownName| e.to_string())?;
    Ok((f.trim().to_string(), r))
}

/// `--node NAME[:RATE]`.
fn node_spec(s: &str) -> Result<lumos_model::NodeSpec, String> {
    s.parse()
        .map_err(|e: lumos_model::NodeSpecError| lumos_model::error_chain(&e))
}

/// `--place FUNCTION=NODE`.
fn place(s: &str) -> Result<(String, String), String> {
    let (f, n) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FUNCTION=NODE, got `{s}`"))?;
    let (f, n) = (f.trim(), n.trim());
    if f.is_empty() {
        return Err(format!("no function before `=` in `{s}`"));
    }
    if !lumos_model::is_node_name(n) {
        return Err(format!(
            "`{n}` is not a node name (letters, digits, `-`, `_`)"
        ));
    }
    Ok((f.to_string(), n.to_string()))
}

/// `--neighbour FUNCTION[@RUNTIME][:RPS]`.
fn neighbour(s: &str) -> Result<lumos_model::Neighbour, String> {
    s.parse()
        .map_err(|e: lumos_model::NeighbourSpecError| e.to_string())
}

/// `--skip FUNCTION@RUNTIME`.
fn skip(s: &str) -> Result<lumos_model::Skip, String> {
    s.parse()
        .map_err(|e: lumos_model::SkipSpecError| e.to_string())
}

/// Options of `cargo lumos bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    /// Runtimes (comma-separate or repeat). Default: all; one that is not
    /// available here is reported as unavailable.
    #[arg(long = "runtime", value_name = "NAME", value_delimiter = ',')]
    pub runtimes: Vec<Runtime>,
    /// Leave a function out on one runtime, FUNCTION@RUNTIME (comma-separate
    /// or repeat): none of its cells run there (a runtime every function
    /// skips is not built for); the results list what was skipped.
    #[arg(long = "skip", value_name = "FUNCTION@RUNTIME", value_delimiter = ',', value_parser = skip)]
    pub skip: Vec<lumos_model::Skip>,
    /// Payload groups: 1, 2, 3 (default: 1).
    #[arg(long = "group", value_name = "N", value_delimiter = ',',
          value_parser = clap::value_parser!(u8).range(1..=3))]
    pub groups: Vec<u8>,
    /// Modes: cold-cached, cold, cold-node (root only), warm, load (default:
    /// cold-cached,cold,warm; `load` also when --concurrency or --load is given).
    #[arg(long = "mode", value_name = "MODE", value_delimiter = ',')]
    pub modes: Vec<Mode>,
    /// Cold starts, and warm runs (each on a new instance), per cell, 1..=10000 (default: 3).
    #[arg(long, value_name = "N", value_parser = usize_in(bounds::REPEAT))]
    pub repeat: Option<usize>,
    /// Warm: measured requests per run, 1..=1000000 (default: 50).
    #[arg(long, value_name = "N", value_parser = usize_in(bounds::REQUESTS))]
    pub requests: Option<usize>,
    /// Warm: requests sent and discarded before measuring, 0..=1000000 (default: 5).
    #[arg(long, value_name = "N", value_parser = usize_in(bounds::WARMUP))]
    pub warmup: Option<usize>,
    /// A small matrix that ends in a few minutes: group 1, 20 requests, 3
    /// warm-ups, and a short load section (levels 1,10,50 for 3 s). Explicit
    /// flags win; functions are chosen with -p as always.
    #[arg(long)]
    pub quick: bool,
    /// Push to and pull from this registry (`HOST[:PORT]/NAMESPACE`) instead
    /// of a throwaway local one.
    #[arg(long, value_name = "HOST[:PORT]/NAMESPACE", value_parser = crate::commands::push::registry_arg)]
    pub registry: Option<String>,
    /// Plain HTTP (and unverified TLS) to a non-loopback registry.
    #[arg(long)]
    pub insecure: bool,
    /// Where instances run: runc | crun | chroot | process for native
    /// (default: probe), or containerd: every cell under a private
    /// containerd that pulls the image itself, native with runc and
    /// wasmedge-interp/-aot with crun built with WasmEdge (root; scripts/setup).
    #[arg(long, value_enum)]
    pub sandbox: Option<lumos_model::Sandbox>,
    /// Storage for data-intensive functions: `redis://HOST:PORT` (default:
    /// the runner's memory).
    #[arg(long, value_name = "URL")]
    pub baas: Option<String>,
    /// Limit the link to the storage server (memory or --baas) to RATE in
    /// each direction, in tc's syntax: 100mbit, 10mbit, 1mbit (8kbit to
    /// 10gbit; a network namespace, a veth pair and tc tbf; root).
    #[arg(long, value_name = "RATE", value_parser = baas_bandwidth)]
    pub baas_bandwidth: Option<lumos_model::Rate>,
    /// Delay each direction of the link to the storage server by DURATION
    /// (0ms to 1s, e.g. 20ms: a round trip gets twice it), by a relay on
    /// the path (root).
    #[arg(long, value_name = "DURATION", value_parser = baas_delay)]
    pub baas_delay: Option<Duration>,
    /// A node to place functions on (repeatable): a network namespace
    /// joined to the runner's by a veth pair; with RATE (tc's syntax, as
    /// --baas-bandwidth: 100mbit, 10mbit, 1mbit) its link is limited to
    /// RATE each way (tc tbf). Instances placed there run inside it, and an
    /// http function is reached at the node's address, so requests and
    /// responses cross its link. Every cell runs on each node in turn unless
    /// --place pins its function (root).
    #[arg(long = "node", value_name = "NAME[:RATE]", value_parser = node_spec)]
    pub nodes: Vec<lumos_model::NodeSpec>,
    /// Pin a function to one --node, FUNCTION=NODE (repeatable).
    #[arg(long = "place", value_name = "FUNCTION=NODE", value_parser = place)]
    pub place: Vec<(String, String)>,
    /// Base of native images (`scratch`, `debian-slim`, an image reference);
    /// default: each function's `base`.
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// Load: concurrency levels, each 1..=4096 (one instance and one client
    /// thread each; default: 1,10,50,100,200).
    #[arg(long, value_name = "N,N,…", value_delimiter = ',',
          value_parser = usize_in(bounds::CONCURRENCY))]
    pub concurrency: Vec<usize>,
    /// Load: arrivals: closed (default), constant, poisson, bursty or bursty:N.
    #[arg(long = "load", value_name = "ARRIVAL", value_parser = clap::value_parser!(Arrival))]
    pub load: Option<Arrival>,
    /// Load, open loop: mean arrival rate, requests per second, above 0 and
    /// at most 1000000 (default 100).
    #[arg(long, value_name = "RPS", value_parser = bounds::rate)]
    pub rate: Option<f64>,
    /// Load: seconds per level, above 0 and at most 86400 (closed: at most;
    /// open: the schedule's length; default 10).
    #[arg(long, value_name = "SECS", value_parser = bounds::seconds)]
    pub load_duration: Option<f64>,
    /// Load: requests per level, 1..=10000000 (default: closed 20 x
    /// concurrency, at least 200; open rate x duration).
    #[arg(long, value_name = "N", value_parser = u64_in(bounds::LEVEL_REQUESTS))]
    pub load_requests: Option<u64>,
    /// Load: only these functions (default: every selected function).
    #[arg(long = "load-function", value_name = "NAME", value_delimiter = ',')]
    pub load_functions: Vec<String>,
    /// A workflow instead of the matrix: these functions chained in order,
    /// each step's response the next step's request (two steps at least;
    /// the first step's payload group starts it). Modes: cold-cached, cold
    /// (every step a new instance) and warm (one ready instance per step).
    #[arg(
        long,
        value_name = "A,B[,C…]",
        value_delimiter = ',',
        conflicts_with = "workflow"
    )]
    pub chain: Vec<String>,
    /// A named workflow: `[workspace.metadata.lumos.workflows.NAME] steps =
    /// ["A", "B"]` in the workspace's Cargo.toml, run as --chain.
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,
    /// How a step's response reaches the next step: inline (as it is; the
    /// default) or storage (put into the runner's store, memory or --baas,
    /// and fetched from it as the next request).
    #[arg(long, value_enum, value_name = "inline|storage")]
    pub chain_data: Option<ChainData>,
    /// Steps pinned to a runtime, FUNCTION=RUNTIME (comma-separate or
    /// repeat); the other steps run on each --runtime in turn (default: every step).
    #[arg(long, value_name = "FUNCTION=RUNTIME", value_delimiter = ',', value_parser = placement)]
    pub placement: Vec<(String, Runtime)>,
    /// Co-located load: another function of the workspace kept busy on this
    /// machine while each cell is measured: one instance in RUNTIME
    /// (default: native), started before the cell and stopped after it,
    /// sent its own payload of the cell's group at RPS requests per second
    /// (open loop), or without RPS one request after the other (closed loop,
    /// concurrency 1). Each cell is measured without it, then with it; the
    /// results record its achieved rate over the cell's measured window.
    #[arg(long, value_name = "FUNCTION[@RUNTIME][:RPS]", value_parser = neighbour)]
    pub neighbour: Option<lumos_model::Neighbour>,
    /// With --neighbour: also measure each cell without it (the default).
    #[arg(long, requires = "neighbour", overrides_with = "no_neighbour_baseline")]
    pub neighbour_baseline: bool,
    /// With --neighbour: measure each cell with it only (no baseline row).
    #[arg(long, requires = "neighbour", overrides_with = "neighbour_baseline")]
    pub no_neighbour_baseline: bool,
    /// Memory limit per instance, MiB, 0..=1048576 (0: none).
    #[arg(long, value_name = "MIB", default_value_t = 512,
          value_parser = u64_in(bounds::MEMORY_MIB))]
    pub memory_mib: u64,
    /// CPUs per instance, fractional (0.5: half a CPU), at most this
    /// machine's: a CFS quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us) for
    /// containers and wasm shims alike (default: no limit).
    #[arg(long, value_name = "N", value_parser = bounds::cpus)]
    pub cpus: Option<f64>,
    /// A device profile: FILE[:NAME], a TOML table `[NAME]` with `cpus` and
    /// `memory_mib`; every instance gets its limits and the results name it.
    #[arg(long, value_name = "FILE[:NAME]", conflicts_with_all = ["cpus", "memory_mib"])]
    pub device: Option<String>,
    /// Warm: measured requests a cell reaches at least, 1..=10000000 (more
    /// runs are made until it does; default 10).
    #[arg(long, value_name = "N", value_parser = u64_in(bounds::LEVEL_REQUESTS))]
    pub min_requests: Option<u64>,
    /// Warm: seconds a cell measures at least (default 3; --quick 0).
    #[arg(long, value_name = "SECS", value_parser = bounds::seconds)]
    pub min_time: Option<f64>,
    /// Warm: no new run of a cell starts after this many seconds; a cell
    /// it stops before its minimum is `partial` (default 120).
    #[arg(long, value_name = "SECS", value_parser = bounds::seconds)]
    pub max_time: Option<f64>,
    /// Per-request time limit, ms, 1..=3600000 (default 5 minutes: an
    /// interpreter's slow request ends, a real hang still does).
    #[arg(long, value_name = "MS", default_value_t = 300_000,
          value_parser = u64_in(bounds::TIMEOUT_MS))]
    pub timeout_ms: u64,
    /// Use what `<target-dir>/lumos/build.json` lists; do not build.
    #[arg(long)]
    pub no_build: bool,
    /// Write the results as JSON.
    #[arg(long, value_name = "FILE", value_parser = absolute_path())]
    pub json: Option<PathBuf>,
    /// Write the results as CSV.
    #[arg(long, value_name = "FILE", value_parser = absolute_path())]
    pub csv: Option<PathBuf>,
    /// Write a self-contained HTML page with the paper's figures.
    #[arg(long, value_name = "FILE.html", value_parser = absolute_path())]
    pub report: Option<PathBuf>,
    /// Measure deployed services over HTTP instead of instances started
    /// here: requests go to URL (an ingress such as Knative's Kourier/Envoy
    /// gateway) with the Host header `<service>.<namespace>.<domain>`,
    /// `<service>` being the Knative Service `cargo lumos deploy` names
    /// (`<function>-<variant>`). Nothing is built, pushed or started.
    #[arg(long, value_name = "URL", conflicts_with = "endpoints")]
    pub endpoint: Option<String>,
    /// With --endpoint: the Knative namespace in each Host header.
    #[arg(
        long,
        value_name = "NAMESPACE",
        default_value = "default",
        requires = "endpoint"
    )]
    pub endpoint_namespace: String,
    /// With --endpoint: the cluster's domain in each Host header (Knative's
    /// default `example.com`).
    #[arg(
        long,
        value_name = "DOMAIN",
        default_value = "example.com",
        requires = "endpoint"
    )]
    pub endpoint_domain: String,
    /// Measure deployed services listed in FILE (TOML): `[[endpoint]]`
    /// entries with `function`, `runtime` (or `variant`), `url` and an
    /// optional `host` header.
    #[arg(long, value_name = "FILE", value_parser = absolute_path())]
    pub endpoints: Option<PathBuf>,
    /// With --endpoint(s): run `sh -c CMD` before each cold request (it must
    /// exit 0) to bring the service to zero, instead of --cold-wait.
    #[arg(long, value_name = "CMD", conflicts_with = "cold_wait")]
    pub cold_command: Option<String>,
    /// With --cold-command: its deadline, seconds (default 120).
    #[arg(long, value_name = "SECS", value_parser = bounds::seconds, requires = "cold_command")]
    pub cold_command_timeout: Option<f64>,
    /// With --endpoint(s): seconds to wait with no request before each cold
    /// request, for the service to scale to zero (default 90: Knative's 60 s
    /// stable window and 30 s scale-to-zero grace period). Given, or with
    /// --cold-command, cold rows are made by default.
    #[arg(long, value_name = "SECS", value_parser = bounds::seconds)]
    pub cold_wait: Option<f64>,
    /// Print each runtime, whether it is available here and the executable
    /// its instances run in (or the one command that makes it available); bench nothing.
    #[arg(long)]
    pub list_runtimes: bool,
}

impl BenchArgs {
    /// `--endpoint` / `--endpoints` and the cold flags that go with them.
    fn endpoint_request(&self) -> anyhow::Result<Option<lumos_bench::EndpointRequest>> {
        let target = match (&self.endpoint, &self.endpoints) {
            (Some(url), _) => lumos_bench::EndpointTarget::Ingress {
                url: url.clone(),
                namespace: self.endpoint_namespace.clone(),
                domain: self.endpoint_domain.clone(),
            },
            (None, Some(file)) => lumos_bench::EndpointTarget::File(file.clone()),
            (None, None) => {
                if self.cold_command.is_some() || self.cold_wait.is_some() {
                    anyhow::bail!(
                        "--cold-command/--cold-wait: only with --endpoint URL or --endpoints FILE"
                    );
                }
                return Ok(None);
            }
        };
        Ok(Some(lumos_bench::EndpointRequest {
            target,
            cold_command: self.cold_command.clone(),
            cold_command_timeout: Duration::from_secs_f64(
                self.cold_command_timeout.unwrap_or(120.0),
            ),
            cold_wait: self.cold_wait.map(Duration::from_secs_f64),
        }))
    }

    /// The engine's request.
    fn request(&self) -> anyhow::Result<BenchRequest> {
        let mut req = BenchRequest {
            cargo: self.cargo.clone(),
            runtimes: self.runtimes.clone(),
            groups: self.groups.clone(),
            skip: self.skip.clone(),
            modes: self.modes.clone(),
            repeat: self.repeat,
            requests: self.requests,
            warmup: self.warmup,
            min_requests: self.min_requests,
            min_time: self.min_time.map(Duration::from_secs_f64),
            max_time: self.max_time.map(Duration::from_secs_f64),
            quick: self.quick,
            registry: self.registry.clone(),
            insecure: self.insecure,
            sandbox: self.sandbox,
            baas: self.baas.clone(),
            baas_link: (self.baas_bandwidth.is_some() || self.baas_delay.is_some()).then(|| {
                lumos_model::BaasLinkSpec {
                    bandwidth: self.baas_bandwidth,
                    delay: self.baas_delay.unwrap_or_default(),
                }
            }),
            nodes: self.nodes.clone(),
            place: self.place.clone(),
            base: self.base.clone(),
            load: LoadRequest {
                concurrency: self.concurrency.clone(),
                arrival: self.load,
                rate: self.rate,
                duration: self.load_duration.map(Duration::from_secs_f64),
                requests: self.load_requests,
                functions: self.load_functions.clone(),
            },
            workflow: WorkflowRequest {
                chain: self.chain.clone(),
                name: self.workflow.clone(),
                chain_data: self.chain_data,
                placement: self.placement.clone(),
            },
            neighbour: self
                .neighbour
                .clone()
                .map(|neighbour| lumos_bench::NeighbourRequest {
                    neighbour,
                    baseline: !self.no_neighbour_baseline,
                }),
            memory_mib: self.memory_mib,
            cpus: self.cpus,
            device: None,
            timeout: Duration::from_millis(self.timeout_ms),
            no_build: self.no_build,
            runner_exe: None,
            endpoint: self.endpoint_request()?,
        };
        if let Some(spec) = &self.device {
            let d = lumos_bench::device::load(spec)?;
            req.cpus = d.cpus;
            if let Some(m) = d.memory_mib {
                req.memory_mib = m;
            }
            req.device = Some(d);
        }
        // What the flags say is checked before the workspace is read.
        lumos_bench::plan::check(&req)?;
        req.runner_exe = crate::runner_host::runner_exe()?;
        Ok(req)
    }
}

/// Runs `cargo lumos bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    if args.list_runtimes {
        print!("{}", list_runtimes()?);
        return Ok(ExitCode::SUCCESS);
    }
    let req = args.request()?;
    let mut progress = progress::Progress::default();
    let out = lumos_bench::run(&req, &mut |e: Event| progress.show(&e))?;
    progress.finish();
    print!("{}", lumos_report::table::render(&out));
    outputs::write(args, &out)?;
    if !lumos_bench::execute::measured_anything(&out) {
        anyhow::bail!(
            "the bench measured nothing: no request of its {} row(s) answered OK (see the table{})",
            out.runs.len(),
            if args.json.is_some() {
                " and `error_samples` in --json"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--list-runtimes`: one line per runtime, `NAME available EXECUTABLE` or
/// `NAME unavailable WHY-AND-FIX`.
fn list_runtimes() -> anyhow::Result<String> {
    let runner = crate::runner_host::runner_exe()?
        .or_else(|| std::env::var_os("LUMOS_RUNNER").map(PathBuf::from));
    let mut out = String::new();
    for &r in Runtime::ALL {
        let line = match lumos_runtimes::runtime::find_shim(r, runner.as_deref()) {
            Ok(Some(shim)) => format!("available    {}", shim.display()),
            // Native: no shim.
            Ok(None) => "available    the image's own executable (runc, crun, chroot or process)"
                .to_string(),
            Err(e) => format!("unavailable  {}", e.reason),
        };
        out.push_str(&format!("{:<16} {line}\n", r.name()));
    }
    Ok(out)
}

/// `--baas-bandwidth`: tc's rate syntax, 8kbit..=10gbit.
fn baas_bandwidth(s: &str) -> Result<lumos_model::Rate, String> {
    s.parse()
        .map_err(|e: lumos_model::BadLinkValue| e.to_string())
}

/// `--baas-delay`: a number and ms, s or us, at most 1 s.
fn baas_delay(s: &str) -> Result<Duration, String> {
    lumos_model::parse_delay(s).map_err(|e| e.to_string())
}
