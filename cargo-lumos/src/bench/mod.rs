//! `cargo lumos bench`: builds and packs what is missing, pushes to
//! `--registry` (or to a throwaway local registry it starts and stops),
//! runs the matrix functions x runtimes x payload groups x modes with the
//! runner of `lumos-runtimes`, prints a summary table and writes `--json`,
//! `--csv` and a self-contained `--report` page.

mod csv;
mod matrix;
mod measure;
mod payloads;
mod progress;
mod quiet;
pub mod record;
mod registry;
mod report;
pub mod runner_host;
mod svg;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lumos_runtimes::{bounds, Arrival, LoadSpec, RunOpts, Runner, Runtime};

use crate::build::BuildOptions;
use crate::build_manifest::BuildManifest;
use crate::cargo_args::{absolute_path, CargoArgs};
use crate::image::ImageArgs;
use crate::push::PushArgs;
use crate::variant::{AotEngine, Arch, RuntimeFamily, Selection};
use crate::workspace::Workspace;
use matrix::Mode;
use record::{BenchOutput, RunRow, Settings};

/// Options of `cargo lumos bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    /// Runtimes (comma-separate or repeat): native, wasmtime-aot, wasmtime-jit,
    /// wasmi-interp, wasmedge-interp, wasmedge-aot. Default: all; one that is
    /// not available here is reported as unavailable.
    #[arg(long = "runtime", value_name = "NAME", value_delimiter = ',')]
    pub runtimes: Vec<String>,
    /// Payload groups: 1, 2, 3 (default: 1).
    #[arg(long = "group", value_name = "N", value_delimiter = ',')]
    pub groups: Vec<String>,
    /// Modes: cold, warm, load (default: cold,warm; `load` also when
    /// --concurrency or --load is given).
    #[arg(long = "mode", value_name = "MODE", value_delimiter = ',')]
    pub modes: Vec<String>,
    /// Cold starts, and warm runs (each on a new instance), per cell, 1..=10000 (default: 3).
    #[arg(long, value_name = "N", value_parser = bounds::usize_in(bounds::REPEAT))]
    pub repeat: Option<usize>,
    /// Warm: measured requests per run, 1..=1000000 (default: 50).
    #[arg(long, value_name = "N", value_parser = bounds::usize_in(bounds::REQUESTS))]
    pub requests: Option<usize>,
    /// Warm: requests sent and discarded before measuring, 0..=1000000 (default: 5).
    #[arg(long, value_name = "N", value_parser = bounds::usize_in(bounds::WARMUP))]
    pub warmup: Option<usize>,
    /// A small matrix that ends in a few minutes: every runtime, fibonacci
    /// (compute-bound) and encrypt-message (data-intensive), group 1, cold
    /// and warm, and a short load section on fibonacci. Explicit flags win.
    #[arg(long)]
    pub quick: bool,
    /// Push to and pull from this registry (`HOST[:PORT]/NAMESPACE`) instead
    /// of a throwaway local one.
    #[arg(long, value_name = "HOST[:PORT]/NAMESPACE", value_parser = crate::push::registry_arg)]
    pub registry: Option<String>,
    /// Plain HTTP (and unverified TLS) to a non-loopback registry.
    #[arg(long)]
    pub insecure: bool,
    /// Storage for data-intensive functions: `redis://HOST:PORT` (default:
    /// the runner's memory).
    #[arg(long, value_name = "URL")]
    pub baas: Option<String>,
    /// Base of native images (`scratch`, `debian-slim`, an image reference);
    /// default: each function's `base`.
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// Load: concurrency levels, each 1..=4096 (one instance and one client
    /// thread each; default: 1,10,50,100,200).
    #[arg(long, value_name = "N,N,…", value_delimiter = ',',
          value_parser = bounds::usize_in(bounds::CONCURRENCY))]
    pub concurrency: Vec<usize>,
    /// Load: arrivals: closed (default), constant, poisson, bursty or bursty:N.
    #[arg(long = "load", value_name = "ARRIVAL")]
    pub load: Option<String>,
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
    #[arg(long, value_name = "N", value_parser = bounds::u64_in(bounds::LEVEL_REQUESTS))]
    pub load_requests: Option<u64>,
    /// Load: only these functions (default: every selected function).
    #[arg(long = "load-function", value_name = "NAME", value_delimiter = ',')]
    pub load_functions: Vec<String>,
    /// Memory limit per instance, MiB, 0..=1048576 (0: none).
    #[arg(long, value_name = "MIB", default_value_t = 512,
          value_parser = bounds::u64_in(bounds::MEMORY_MIB))]
    pub memory_mib: u64,
    /// Per-request time limit, ms, 1..=3600000.
    #[arg(long, value_name = "MS", default_value_t = 60_000,
          value_parser = bounds::u64_in(bounds::TIMEOUT_MS))]
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
}

/// The resolved settings: explicit flags, else `--quick`'s, else defaults.
struct Plan {
    runtimes: Vec<Runtime>,
    groups: Vec<u8>,
    modes: Vec<Mode>,
    repeat: usize,
    requests: usize,
    warmup: usize,
    load: LoadSpec,
    load_functions: Vec<String>,
}

const QUICK_FUNCTIONS: [&str; 2] = ["fibonacci", "encrypt-message"];

fn plan(a: &BenchArgs) -> Result<Plan> {
    let runtimes = matrix::runtimes(&a.runtimes)?;
    let groups = matrix::groups(&a.groups)?;
    let mut modes = if a.modes.is_empty() {
        vec![Mode::Cold, Mode::Warm]
    } else {
        matrix::modes(&a.modes)?
    };
    let load_asked = !a.concurrency.is_empty() || a.load.is_some() || a.quick;
    if a.modes.is_empty() && load_asked {
        modes.push(Mode::Load);
    }
    let arrival: Arrival = match &a.load {
        Some(s) => s
            .parse()
            .map_err(|e: lumos_runtimes::Error| anyhow::anyhow!("--load: {e}"))?,
        None => Arrival::Closed,
    };
    let quick = a.quick;
    let concurrency = if !a.concurrency.is_empty() {
        a.concurrency.clone()
    } else if quick {
        vec![1, 10, 50]
    } else {
        vec![1, 10, 50, 100, 200]
    };
    // Each number is range-checked by clap (lumos_runtimes::bounds); what
    // depends on two flags (rate x duration) is checked here, before anything runs.
    let duration = a.load_duration.unwrap_or(if quick { 3.0 } else { 10.0 });
    let load = LoadSpec {
        concurrency,
        arrival,
        rate: a.rate,
        requests: a.load_requests,
        duration: Duration::from_secs_f64(duration),
        ..Default::default()
    };
    load.check()
        .map_err(|e| anyhow::anyhow!("--rate/--load-duration/--load-requests: {e}"))?;
    let load_functions = if !a.load_functions.is_empty() {
        a.load_functions.clone()
    } else if quick {
        vec!["fibonacci".to_string()]
    } else {
        vec![]
    };
    let repeat = a.repeat.unwrap_or(3);
    Ok(Plan {
        runtimes,
        groups,
        modes,
        repeat,
        requests: a.requests.unwrap_or(if quick { 20 } else { 50 }),
        warmup: a.warmup.unwrap_or(if quick { 3 } else { 5 }),
        load,
        load_functions,
    })
}

/// The variants to build for the runtimes asked.
fn selection(runtimes: &[Runtime], host: Arch, engines: &[AotEngine]) -> Selection {
    let mut families = vec![];
    if runtimes.contains(&Runtime::Native) {
        families.push(RuntimeFamily::Native);
    }
    if runtimes.iter().any(|r| {
        matches!(
            r,
            Runtime::WasmtimeJit | Runtime::WasmiInterp | Runtime::WasmedgeInterp
        )
    }) {
        families.push(RuntimeFamily::Wasm);
    }
    if !engines.is_empty() {
        families.push(RuntimeFamily::Aot);
    }
    Selection {
        all: false,
        runtimes: families,
        arches: vec![host],
        aot_engines: engines.to_vec(),
    }
}

/// Package directories by package name (for `payloads` files).
fn package_dirs(cargo: &CargoArgs) -> Result<BTreeMap<String, PathBuf>> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.cargo_path(CargoArgs::cargo_program()).no_deps();
    if let Some(p) = &cargo.manifest_path {
        cmd.manifest_path(p);
    }
    let md = cmd.exec().context("`cargo metadata` failed")?;
    Ok(md
        .workspace_packages()
        .iter()
        .filter_map(|p| {
            let dir: PathBuf = p.manifest_path.parent()?.into();
            Some((p.name.to_string(), dir))
        })
        .collect())
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let started = Instant::now();
    // Everything that can be refused is refused before anything is built.
    let mut plan = plan(args)?;
    let mut cargo = args.cargo.clone();
    if args.quick && cargo.packages.is_empty() && !cargo.workspace {
        cargo.packages = QUICK_FUNCTIONS.iter().map(|s| s.to_string()).collect();
    }
    let ws = Workspace::load(&cargo)?;
    if ws.functions.is_empty() {
        bail!(
            "no function in the workspace at {} (a function is a bin package with a [package.metadata.lumos] table)",
            ws.root.display()
        );
    }
    for f in &plan.load_functions {
        if !ws.functions.iter().any(|w| &w.name == f) {
            bail!("--load-function: `{f}` is not one of the functions benched");
        }
    }
    if plan.load_functions.is_empty() {
        plan.load_functions = ws.functions.iter().map(|f| f.name.clone()).collect();
    }
    let Some(host) = Arch::host() else {
        bail!("bench runs on x86_64 or aarch64 hosts only");
    };
    let dirs = package_dirs(&cargo)?;
    let mut payload_sets = BTreeMap::new();
    for f in &ws.functions {
        let src = payloads::source(
            &f.name,
            f.config.payloads.as_deref(),
            dirs.get(&f.package).map(PathBuf::as_path),
        )?;
        for &g in &plan.groups {
            payload_sets.insert((f.name.clone(), g), payloads::load(&src, &f.name, g)?);
        }
    }
    if let Some(url) = &args.baas {
        if !(url.starts_with("redis://") || url.starts_with("redis+unix://")) {
            bail!("--baas `{url}`: expected redis://HOST:PORT");
        }
    }

    // Which runtimes can run here.
    let mut unavailable: BTreeMap<Runtime, String> = BTreeMap::new();
    for &r in &plan.runtimes {
        if let Err(m) = r.availability() {
            unavailable.insert(r, m);
        }
    }

    // Build and pack what is missing (cargo and the AoT cache make the rest a no-op).
    let target_dir = ws.target_dir.clone();
    let names: Vec<String> = ws.functions.iter().map(|f| f.name.clone()).collect();
    let mut build_failed: BTreeMap<String, String> = BTreeMap::new();
    if !args.no_build {
        let wants = |r: Runtime| plan.runtimes.contains(&r) && !unavailable.contains_key(&r);
        let mut engines = vec![];
        if wants(Runtime::WasmtimeAot) {
            engines.push(AotEngine::Wasmtime);
        }
        let sel = selection(
            &plan
                .runtimes
                .iter()
                .copied()
                .filter(|r| wants(*r) && *r != Runtime::WasmedgeAot)
                .collect::<Vec<_>>(),
            host,
            &engines,
        );
        if !sel.runtimes.is_empty() {
            eprintln!("bench: building {} function(s)", names.len());
            build_step(&cargo, sel, &mut build_failed)?;
        }
        if wants(Runtime::WasmedgeAot) {
            let sel = selection(&[], host, &[AotEngine::Wasmedge]);
            if let Err(e) = build_step(&cargo, sel, &mut build_failed) {
                unavailable.insert(
                    Runtime::WasmedgeAot,
                    format!("its AoT images could not be built: {e:#}"),
                );
            }
        }
    }
    let manifest = BuildManifest::read(&BuildManifest::path_in(&target_dir))?;
    let packable: Vec<String> = names
        .iter()
        .filter(|n| manifest.functions.iter().any(|f| &f.name == *n))
        .cloned()
        .collect();
    if packable.is_empty() {
        bail!("nothing was built for {}", names.join(", "));
    }
    let image_args = ImageArgs {
        base: args.base.clone(),
        wasm_format: "compat".into(),
        namespace: "lumos".into(),
        functions: packable.clone(),
        ..Default::default()
    };
    quiet::stdout_to_stderr(|| crate::image::run(&image_args, &target_dir))?;

    // Registry: the one given, or a throwaway one.
    let local = match &args.registry {
        Some(_) => None,
        None => {
            let r = registry::LocalRegistry::start()?;
            eprintln!("bench: throwaway registry on {} (pid {})", r.addr, r.pid());
            Some(r)
        }
    };
    let registry = match (&args.registry, &local) {
        (Some(r), _) => r.trim_end_matches('/').to_string(),
        (None, Some(l)) => format!("{}/lumos", l.addr),
        (None, None) => unreachable!("a registry is given or started"),
    };
    let push_args = PushArgs {
        registry: registry.clone(),
        tag_prefix: String::new(),
        timeout: crate::push::DEFAULT_TIMEOUT_SECS,
        insecure: args.insecure,
        ca_cert: None,
        functions: packable.clone(),
        message_format: "human".into(),
    };
    quiet::stdout_to_stderr(|| crate::push::run(&push_args, &target_dir))?;
    let registry_ref = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_string();

    // The runner.
    let bench_dir = target_dir.join("lumos").join("bench");
    let mut opts = RunOpts {
        runner_exe: runner_host::runner_exe(&bench_dir.join("bin"))?,
        baas: args.baas.clone(),
        insecure: args.insecure,
        warmup: plan.warmup,
        requests: plan.requests,
        ..Default::default()
    };
    opts.limits.memory_bytes = (args.memory_mib > 0).then_some(args.memory_mib << 20);
    opts.limits.request_timeout = Duration::from_millis(args.timeout_ms);
    let mut runner = Runner::new(opts).context("starting the runner")?;
    let store = runner.store().describe();
    let warm_cache = tempfile::Builder::new()
        .prefix("lumos-bench-cache-")
        .tempdir()
        .context("image cache")?;
    let warm_cache_dir = warm_cache.path().to_path_buf();

    let cells: Vec<matrix::Cell> = matrix::cells(&names, &plan.runtimes, &plan.groups, &plan.modes)
        .into_iter()
        .filter(|c| c.mode != Mode::Load || plan.load_functions.contains(&c.function))
        .collect();
    let steps = |c: &matrix::Cell| -> u64 {
        match c.mode {
            Mode::Load => plan.load.concurrency.len() as u64,
            _ => plan.repeat as u64,
        }
    };
    let mut progress = progress::Progress::new(cells.iter().map(steps).sum());
    let mut rows: Vec<RunRow> = Vec::with_capacity(cells.len());
    for cell in &cells {
        let label = format!(
            "{} {} g{} {}",
            cell.function,
            cell.runtime,
            cell.group,
            cell.mode.name()
        );
        progress.message(&label);
        let mut row = measure::row(
            &cell.function,
            cell.runtime,
            cell.group,
            cell.mode.name(),
            &store,
        );
        let payload = &payload_sets[&(cell.function.clone(), cell.group)];
        row.payload_bytes = payload.request.len() as u64
            + payload
                .objects
                .iter()
                .map(|o| o.bytes.len() as u64)
                .sum::<u64>();
        let function = ws
            .functions
            .iter()
            .find(|f| f.name == cell.function)
            .expect("cells come from the workspace's functions");
        let family = match cell.runtime {
            Runtime::Native => RuntimeFamily::Native,
            Runtime::WasmtimeAot | Runtime::WasmedgeAot => RuntimeFamily::Aot,
            _ => RuntimeFamily::Wasm,
        };
        let built_variant = matrix::build_variant_for(cell.runtime, host.as_str());
        let have_variant = manifest.functions.iter().any(|f| {
            f.name == cell.function && f.artifacts.iter().any(|a| a.variant == built_variant)
        });
        let refusal = if let Some(m) = unavailable.get(&cell.runtime) {
            Some(("unavailable", m.clone()))
        } else if !function.config.runtimes.contains(&family) {
            Some((
                "unavailable",
                format!(
                    "{} does not support this runtime family (metadata `runtimes`)",
                    cell.function
                ),
            ))
        } else if let Some(e) = build_failed.get(&function.package) {
            Some(("failed", format!("build failed: {e}")))
        } else if !have_variant {
            Some((
                "failed",
                format!("no {built_variant} artifact in build.json (run `cargo lumos build`)"),
            ))
        } else {
            None
        };
        if let Some((status, msg)) = refusal {
            row.status = status.to_string();
            row.error = Some(msg);
            if status == "failed" {
                row.errors = plan.repeat as u64;
            }
            progress.step(steps(cell));
            progress.println(&format!("{label}: {}", row.status));
            rows.push(row);
            continue;
        }
        for o in &payload.objects {
            runner
                .store()
                .put(&o.key, &o.bytes)
                .map_err(|e| anyhow::anyhow!("preloading {} into {store}: {e}", o.key))?;
        }
        let image = format!(
            "{registry_ref}/{}:{}",
            cell.function,
            matrix::variant_for(cell.runtime, host.as_str())
        );
        // Images do not carry `dev.lumos.protocol` (lumos-oci writes no such
        // label yet), so the runner is told the protocol the metadata declares.
        runner.opts.protocol = Some(
            function
                .config
                .protocol
                .as_str()
                .parse()
                .map_err(|e: lumos_runtimes::Error| anyhow::anyhow!("{}: {e}", cell.function))?,
        );
        let req = &payload.request;
        let row = match cell.mode {
            Mode::Cold => {
                let p = &mut progress;
                measure::cold(
                    &mut runner,
                    &image,
                    cell.runtime,
                    req,
                    plan.repeat,
                    || p.step(1),
                    row,
                )
            }
            Mode::Warm => {
                let p = &mut progress;
                measure::warm(
                    &mut runner,
                    &image,
                    cell.runtime,
                    req,
                    plan.repeat,
                    &warm_cache_dir,
                    || p.step(1),
                    row,
                )
            }
            Mode::Load => {
                let r = measure::load(
                    &mut runner,
                    &image,
                    cell.runtime,
                    req,
                    &plan.load,
                    &warm_cache_dir,
                    row,
                );
                progress.step(steps(cell));
                r
            }
        };
        progress.println(&summary_line(&label, &row));
        rows.push(row);
    }
    progress.finish();
    drop(runner);
    drop(local);

    let mut runtimes_note = BTreeMap::new();
    for r in &plan.runtimes {
        runtimes_note.insert(r.name().to_string(), unavailable.get(r).cloned());
    }
    let out = BenchOutput {
        machine: lumos_runtimes::machine::machine(),
        versions: lumos_runtimes::machine::versions(),
        settings: Settings {
            registry: if args.registry.is_some() {
                registry.clone()
            } else {
                "throwaway local docker-registry".into()
            },
            store,
            repeat: plan.repeat,
            warmup: plan.warmup,
            requests: plan.requests,
            native_base: args.base.clone().unwrap_or_else(|| {
                let bases: std::collections::BTreeSet<&str> = ws
                    .functions
                    .iter()
                    .map(|f| f.config.base.as_str())
                    .collect();
                bases.into_iter().collect::<Vec<_>>().join(",")
            }),
            runtimes: runtimes_note,
        },
        runs: rows,
    };
    print!("{}", table::render(&out.runs));
    for (r, why) in out
        .settings
        .runtimes
        .iter()
        .filter_map(|(r, w)| Some((r, w.as_ref()?)))
    {
        let why = why
            .strip_prefix(&format!("{r} is not available: "))
            .unwrap_or(why);
        println!("note: {r} is unavailable: {why}");
    }
    let errors: u64 = out.runs.iter().map(|r| r.errors).sum();
    if errors > 0 {
        println!(
            "note: {errors} error(s) in {} row(s); see `errors` and `error_samples` in --json",
            out.runs.iter().filter(|r| r.errors > 0).count()
        );
    }
    if let Some(p) = &args.json {
        write_file(p, &serde_json::to_vec_pretty(&out)?)?;
    }
    if let Some(p) = &args.csv {
        write_file(p, csv::render(&out.runs).as_bytes())?;
    }
    if let Some(p) = &args.report {
        write_file(p, report::render(&out).as_bytes())?;
    }
    eprintln!(
        "bench: {} rows in {:.1}s",
        out.runs.len(),
        started.elapsed().as_secs_f64()
    );
    if !out.runs.iter().any(|r| r.ok_requests > 0) {
        bail!(
            "the bench measured nothing: no request of its {} row(s) answered OK (see the table{})",
            out.runs.len(),
            if args.json.is_some() {
                " and `error_samples` in --json"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn build_step(
    cargo: &CargoArgs,
    selection: Selection,
    failed: &mut BTreeMap<String, String>,
) -> Result<()> {
    let opts = BuildOptions {
        selection,
        aot_opt_level: "2".into(),
        json: false,
    };
    if let Some(report) = crate::build::run(cargo, &opts)? {
        for (p, why) in report.failures {
            failed.entry(p).or_insert(why);
        }
    }
    Ok(())
}

fn summary_line(label: &str, r: &RunRow) -> String {
    let mut s = format!("{label}: {}", r.status);
    if let Some(c) = r.cold_start_ms {
        s += &format!(", cold {} ms", table::fmt_ms(c.total));
    }
    if let Some(l) = r.latency_ms.filter(|l| l.n > 0) {
        s += &format!(", p50 {} ms", table::fmt_ms(l.p50));
    }
    if r.errors > 0 {
        s += &format!(", {} error(s)", r.errors);
        if let Some(e) = r.error_samples.first().or(r.error.as_ref()) {
            s += &format!(" ({})", e.lines().next().unwrap_or(""));
        }
    }
    s
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}
