//! `cargo lumos deploy --registry HOST[:PORT]/NAMESPACE`: Knative Services
//! for the pushed images, as YAML on stdout or in `--out FILE|DIR`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lumos_build::cargo_args::absolute_path;
use lumos_build::deploy::quantity::quantity;
use lumos_build::deploy::render::{self, Output};
use lumos_build::deploy::request::{DEFAULT_PORT, DEFAULT_RUNTIME_CLASS};
use lumos_build::deploy::{check_pushed, plan, DeployRequest, LocalImages};
use lumos_build::images::layout_dir;
use lumos_build::{CargoArgs, Workspace};
use lumos_model::Variant;
use lumos_oci::registry::ClientOptions;

use super::push::registry_arg;

/// `cargo lumos deploy`.
#[derive(Debug, clap::Args)]
pub struct DeployCmd {
    /// Path to Cargo.toml of the workspace.
    #[arg(long, value_name = "PATH", value_parser = absolute_path())]
    pub manifest_path: Option<PathBuf>,
    /// Directory of the build output (its `lumos/oci` image layout gives the digests).
    #[arg(long, value_name = "DIR", value_parser = absolute_path())]
    pub target_dir: Option<PathBuf>,
    /// Function package(s) to deploy (default: every function of the workspace).
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub packages: Vec<String>,
    /// Every function of the workspace (the default; accepted for cargo's sake).
    #[arg(long)]
    pub workspace: bool,
    /// Leave out these packages.
    #[arg(long, value_name = "SPEC", requires = "workspace")]
    pub exclude: Vec<String>,
    /// Where `cargo lumos push` put the images: `HOST[:PORT]/NAMESPACE`.
    #[arg(long, value_name = "HOST[:PORT]/NAMESPACE", value_parser = registry_arg)]
    pub registry: String,
    /// Only these variants (repeat or comma-separate): native-x86_64,
    /// native-aarch64, wasm, aot-wasmedge-x86_64, aot-wasmedge-aarch64;
    /// default: every variant whose image was packed.
    #[arg(long = "variant", value_name = "VARIANT", value_delimiter = ',',
          value_parser = clap::builder::ValueParser::new(parse_variant))]
    pub variants: Vec<Variant>,
    /// Write the YAML here: a file (every Service in one stream) or a
    /// directory (existing, or ending in `/`: one `<service>.yaml` each);
    /// default: standard output.
    #[arg(long = "out", short = 'o', value_name = "FILE|DIR", value_parser = absolute_path())]
    pub out: Option<PathBuf>,
    /// `runtimeClassName` of wasm and AoT Services (Kwasm's class for crun
    /// built with WasmEdge is `wasmedge`).
    #[arg(long, value_name = "NAME", default_value = DEFAULT_RUNTIME_CLASS)]
    pub runtime_class: String,
    /// Kubernetes namespace of the Services (default: kubectl's current one).
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The port the function listens on (Knative sets `$PORT` to it).
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_PORT,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// `containerConcurrency`: most requests one instance serves at once
    /// (0: no limit; Knative allows at most 1000).
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub concurrency: u32,
    /// Memory limit of each instance, a Kubernetes quantity (`128Mi`).
    #[arg(long, value_name = "QUANTITY", value_parser = quantity)]
    pub memory: Option<String>,
    /// CPU limit of each instance, a Kubernetes quantity (`1`, `500m`).
    #[arg(long, value_name = "QUANTITY", value_parser = quantity)]
    pub cpus: Option<String>,
    /// `autoscaling.knative.dev/min-scale`: 0 scales to zero when idle (cold
    /// starts), 1 keeps an instance warm.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub min_scale: u32,
    /// `autoscaling.knative.dev/max-scale` (default: no limit).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_scale: Option<u32>,
    /// `autoscaling.knative.dev/target`: concurrent requests per instance the
    /// autoscaler aims at (default: Knative's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub target: Option<u32>,
    /// Also write what the cluster needs for these Services: the
    /// RuntimeClass (handler of the same name) and the keys of Knative's
    /// `config-features` that allow `runtimeClassName` and `nodeSelector`
    /// (apply with `kubectl apply --server-side`).
    #[arg(long)]
    pub cluster_setup: bool,
    /// Ask the registry (HEAD, by digest) that every image is there before
    /// writing anything: an image built but never pushed is an error.
    #[arg(long)]
    pub check_pushed: bool,
    /// With --check-pushed: plain HTTP (and unverified TLS) to a non-loopback registry.
    #[arg(long, requires = "check_pushed")]
    pub insecure: bool,
    /// With --check-pushed: a CA certificate (PEM) to trust for the registry.
    #[arg(long, value_name = "PEM", env = "LUMOS_REGISTRY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// With --check-pushed: overall deadline of each registry request, seconds.
    #[arg(long, value_name = "SECS", default_value_t = super::push::DEFAULT_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

fn parse_variant(s: &str) -> Result<Variant, lumos_model::UnknownName> {
    s.parse()
}

/// Runs `cargo lumos deploy`.
pub fn run(cmd: DeployCmd) -> anyhow::Result<ExitCode> {
    let cargo = CargoArgs {
        manifest_path: cmd.manifest_path,
        packages: cmd.packages,
        workspace: cmd.workspace,
        exclude: cmd.exclude,
        target_dir: cmd.target_dir,
        ..Default::default()
    };
    let req = DeployRequest {
        variants: cmd.variants,
        runtime_class: cmd.runtime_class,
        namespace: cmd.namespace,
        port: cmd.port,
        container_concurrency: cmd.concurrency,
        memory: cmd.memory,
        cpus: cmd.cpus,
        min_scale: cmd.min_scale,
        max_scale: cmd.max_scale,
        target: cmd.target,
        ..DeployRequest::new(cmd.registry)
    };
    // Settings first: a bad flag is refused before the workspace is read.
    lumos_build::deploy::plan::check(&req)?;
    let ws = Workspace::load(&cargo)?;
    if ws.functions.is_empty() {
        anyhow::bail!("no function in the workspace at {}", ws.root.display());
    }
    let images = LocalImages::open(&layout_dir(&ws.target_dir))?;
    let plan = plan(&ws.functions, &images, &req)?;
    if cmd.check_pushed {
        let (host, _) = lumos_oci::reference::split_registry(&req.registry)?;
        let opts = ClientOptions {
            insecure: cmd.insecure,
            ca_cert: cmd.ca_cert,
            timeout: Duration::from_secs(cmd.timeout),
            ..Default::default()
        };
        check_pushed(&plan.deployments, &host, opts)?;
    }
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let docs = render::documents(&plan, &req.runtime_class, cmd.cluster_setup)?;
    let out = Output::from_arg(cmd.out);
    if out == Output::Stdout {
        print!("{}", render::stream(&docs));
    } else {
        let files = render::write(&docs, &out)?;
        let place = match &out {
            Output::Dir(dir) => format!("{} ({} files)", dir.display(), files.len()),
            _ => files.iter().map(|f| f.display().to_string()).collect(),
        };
        eprintln!(
            "wrote {} Knative Service(s){} to {place}",
            plan.deployments.len(),
            if docs.len() > plan.deployments.len() {
                " and the cluster setup"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
