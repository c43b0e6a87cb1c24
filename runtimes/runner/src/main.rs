//! `lumos-runner`: runs a function image the way a serverless node does and
//! times every step. Prints a JSON result on stdout, a summary on stderr.
//! A thin command line over lumos-runtimes; errors are one line on stderr
//! (`error: …`, the error and its causes) and a non-zero exit.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use lumos_model::{Arch, Mode};
use lumos_runtimes::bounds;
use lumos_runtimes::{Arrival, LoadSpec, Protocol, RunOpts, RunResult, Runner, Runtime, Sandbox};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// A clap parser for a `usize` flag in `range` (lumos_runtimes::bounds).
fn usize_in(range: RangeInclusive<u64>) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(range)
}

/// A clap parser for a `u64` flag in `range` (lumos_runtimes::bounds).
fn u64_in(range: RangeInclusive<u64>) -> clap::builder::RangedU64ValueParser<u64> {
    clap::builder::RangedU64ValueParser::<u64>::new().range(range)
}

/// `--target` of `precompile`: a CPU by name (`aarch64`, `arm64`, …) or by
/// the target triple wasmtime compiles for (`aarch64-unknown-linux-gnu`).
fn precompile_target(s: &str) -> Result<Arch, lumos_model::UnknownName> {
    match Arch::ALL.iter().find(|a| a.wasmtime_triple() == s) {
        Some(a) => Ok(*a),
        None => s.parse(),
    }
}

/// Precompiles with the one wasmtime configuration the shim loads with
/// (with epoch interruption: the one its `wasmtime-pooled` host loads first).
#[cfg(feature = "precompile")]
fn precompile(wasm: &[u8], target: Option<Arch>, epoch: bool) -> Result<Vec<u8>> {
    use lumos_wasm::wasmtime::{precompile, precompile_interruptible, OPT_LEVEL};
    Ok(if epoch {
        precompile_interruptible(wasm, target, OPT_LEVEL)?
    } else {
        precompile(wasm, target, OPT_LEVEL)?
    })
}

/// This runner was built without a compiler (an AoT-only edge runner).
#[cfg(not(feature = "precompile"))]
fn precompile(_: &[u8], _: Option<Arch>, _: bool) -> Result<Vec<u8>> {
    bail!("precompile: this lumos-runner was built without its `precompile` feature (no cranelift)")
}

/// `--mode` of `cold`: one of the cold kinds.
fn cold_kind(s: &str) -> Result<Mode, String> {
    let m: Mode = s
        .parse()
        .map_err(|e: lumos_model::UnknownName| e.to_string())?;
    if !m.is_cold() {
        return Err(format!(
            "`{m}` is not a cold kind (cold-cached, cold, cold-node); use the `{m}` command"
        ));
    }
    Ok(m)
}

#[derive(Parser)]
#[command(
    name = "lumos-runner",
    version,
    about = "Run and measure a lumos function image"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Cold start: a new instance, timed to its first response. `--mode`:
    /// cold (empty image cache: pull, unpack, start, ready, first response),
    /// cold-cached (image pulled first, untimed; no pull), cold-node (as cold
    /// after dropping the page cache; root only).
    Cold {
        #[command(flatten)]
        run: RunArgs,
        /// Cold kinds, comma-separated, run in this order: cold-cached, cold,
        /// cold-node. Several print a JSON array, one result each.
        #[arg(long = "mode", value_name = "MODE", value_delimiter = ',', default_value = "cold",
              value_parser = cold_kind)]
        modes: Vec<Mode>,
    },
    /// Warm latency on one ready instance.
    Warm(RunArgs),
    /// Throughput and latency at concurrency levels.
    Load {
        #[command(flatten)]
        run: RunArgs,
        /// Concurrency levels (instances, one client thread each), comma-separated; each 1..=4096.
        #[arg(long, value_delimiter = ',', default_value = "1,10,50,100,200",
              value_parser = usize_in(bounds::CONCURRENCY))]
        concurrency: Vec<usize>,
        /// closed | constant | poisson | bursty[:N]
        #[arg(long, default_value = "closed", value_parser = str::parse::<Arrival>)]
        arrival: Arrival,
        /// Open loop: requests per second, above 0 and at most 1000000.
        #[arg(long, value_parser = bounds::rate)]
        rate: Option<f64>,
        /// Seconds per level (closed: at most; open: schedule length), above 0 and at most 86400.
        #[arg(long, default_value_t = 10.0, value_parser = bounds::seconds)]
        duration: f64,
        /// Requests per level, 1..=10000000 (default: closed 20 x concurrency, open rate x duration).
        #[arg(long = "level-requests", value_parser = u64_in(bounds::LEVEL_REQUESTS))]
        level_requests: Option<u64>,
        #[arg(long, default_value_t = 0x1005)]
        seed: u64,
    },
    /// Print the sandbox probe, the machine and the versions.
    Probe,
    /// Precompile a wasm module or component to a wasmtime .cwasm.
    Precompile {
        module: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Target CPU (default: this CPU): x86_64 or aarch64, or its triple,
        /// e.g. aarch64-unknown-linux-gnu.
        #[arg(long, value_parser = precompile_target)]
        target: Option<Arch>,
        /// Compile in epoch interruption checks: a .cwasm for
        /// wasmtime-pooled, whose host can then interrupt one instance
        /// whose request timed out (wasmtime-aot does not load it; the
        /// checks cost call-heavy code up to a quarter of its run time).
        #[arg(long)]
        epoch_interruption: bool,
    },
    /// (internal) Clean up after the runner when it exits.
    Guard,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// HOST[:PORT]/REPO:TAG, oci:DIR[:NAME] or file:PATH
    image: String,
    #[arg(long, short, value_enum)]
    runtime: Runtime,
    /// Request body from a file.
    #[arg(long, conflicts_with = "body")]
    payload: Option<PathBuf>,
    /// Request body inline.
    #[arg(long)]
    body: Option<String>,
    /// Native: runc | crun | chroot | process (default: probe); containerd:
    /// every runtime under a private containerd that pulls the image itself
    /// (native with runc, wasmedge-interp/-aot with crun+WasmEdge).
    #[arg(long, value_enum)]
    sandbox: Option<Sandbox>,
    /// Memory limit per instance, MiB, 0..=1048576 (0: none).
    #[arg(long = "memory-mib", default_value_t = 512, value_parser = u64_in(bounds::MEMORY_MIB))]
    memory_mib: u64,
    /// CPUs per instance, fractional (0.5: half a CPU), at most this
    /// machine's: a CFS quota (cgroup v2 cpu.max / v1 cpu.cfs_quota_us) for
    /// containers and wasm shims alike (default: no limit).
    #[arg(long, value_parser = bounds::cpus)]
    cpus: Option<f64>,
    /// Per-request time limit, ms, 1..=3600000.
    #[arg(long = "timeout-ms", default_value_t = 300_000, value_parser = u64_in(bounds::TIMEOUT_MS))]
    timeout_ms: u64,
    /// Keep the image cache here (default: a new empty one per run).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Storage: redis://HOST:PORT (default: the runner's memory).
    #[arg(long)]
    baas: Option<String>,
    /// Storage behind a link of this bandwidth each way, tc's syntax
    /// (10mbit; 8kbit..=10gbit; a network namespace, veth, tc tbf; root).
    #[arg(long = "baas-bandwidth", value_name = "RATE",
          value_parser = |s: &str| s.parse::<lumos_model::Rate>().map_err(|e| e.to_string()))]
    baas_bandwidth: Option<lumos_model::Rate>,
    /// Storage behind a link with this delay each way (20ms; 0..=1s), added
    /// by a relay on the path (root).
    #[arg(long = "baas-delay", value_name = "DURATION",
          value_parser = |s: &str| lumos_model::parse_delay(s).map_err(|e| e.to_string()))]
    baas_delay: Option<Duration>,
    /// Plain HTTP to a non-loopback registry.
    #[arg(long)]
    insecure: bool,
    /// Overall deadline of each registry operation, seconds: the /v2/ probe,
    /// a manifest, a token (retries included); a blob gets 2 s per MiB more.
    #[arg(long = "registry-timeout", value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    registry_timeout: u64,
    /// Most bytes an image may unpack to, MiB (all layers together).
    #[arg(long = "unpack-max-mib", value_name = "MIB", default_value_t = lumos_oci::unpack::DEFAULT_MAX_BYTES >> 20,
          value_parser = clap::value_parser!(u64).range(1..=(1 << 30)))]
    unpack_max_mib: u64,
    /// Most entries (files, dirs, links) an image may unpack.
    #[arg(long = "unpack-max-entries", value_name = "N", default_value_t = lumos_oci::unpack::DEFAULT_MAX_ENTRIES,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    unpack_max_entries: u64,
    /// Override the image's protocol: lumos | stdio | http | wasi-http.
    #[arg(long, value_enum)]
    protocol: Option<Protocol>,
    /// http: the fixed port the function listens on (default: the image's
    /// dev.lumos.port label; else a free port, given in $PORT).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,
    /// Payload group name, recorded.
    #[arg(long)]
    group: Option<String>,
    /// Warm: requests sent and discarded before measuring, 0..=1000000.
    #[arg(long, default_value_t = 5, value_parser = usize_in(bounds::WARMUP))]
    warmup: usize,
    /// Warm: measured requests, 1..=1000000.
    #[arg(long, short = 'n', default_value_t = 50, value_parser = usize_in(bounds::REQUESTS))]
    requests: usize,
    /// Copy instances' stderr to ours.
    #[arg(long)]
    show_stderr: bool,
    /// Write the JSON result here instead of stdout.
    #[arg(long)]
    json: Option<PathBuf>,
}

impl RunArgs {
    fn opts(&self) -> RunOpts {
        let mut o = RunOpts {
            cache_dir: self.cache.clone(),
            sandbox: self.sandbox,
            baas: self.baas.clone(),
            baas_link: (self.baas_bandwidth.is_some() || self.baas_delay.is_some()).then(|| {
                lumos_model::BaasLinkSpec {
                    bandwidth: self.baas_bandwidth,
                    delay: self.baas_delay.unwrap_or_default(),
                }
            }),
            insecure: self.insecure,
            registry_timeout: Some(Duration::from_secs(self.registry_timeout)),
            unpack_limits: lumos_oci::unpack::UnpackLimits {
                max_bytes: self.unpack_max_mib << 20,
                max_entries: self.unpack_max_entries,
            },
            protocol: self.protocol,
            port: self.port,
            group: self.group.clone(),
            warmup: self.warmup,
            requests: self.requests,
            stderr_passthrough: self.show_stderr,
            ..Default::default()
        };
        o.limits.memory_bytes = (self.memory_mib > 0).then_some(self.memory_mib << 20);
        o.limits.cpus = self.cpus;
        o.limits.request_timeout = Duration::from_millis(self.timeout_ms);
        o
    }
    fn payload(&self) -> Result<Vec<u8>> {
        Ok(match (&self.payload, &self.body) {
            (Some(p), _) => {
                std::fs::read(p).with_context(|| format!("read payload {}", p.display()))?
            }
            (None, Some(b)) => b.clone().into_bytes(),
            (None, None) => b"{}".to_vec(),
        })
    }
}

fn emit(r: &RunResult, args: &RunArgs) -> Result<()> {
    let s = serde_json::to_string_pretty(r)?;
    match &args.json {
        Some(p) => std::fs::write(p, s).with_context(|| format!("write {}", p.display()))?,
        None => println!("{s}"),
    }
    summary(r);
    Ok(())
}

/// The one-line summary of a result (and its warnings and errors) on stderr.
fn summary(r: &RunResult) {
    let mut line = format!("{} {} {}", r.function, r.runtime, r.mode);
    if let Some(sb) = &r.sandbox {
        line += &format!(" [{sb}]");
    }
    if let Some(c) = &r.cold_start_ms {
        let opt = |v: Option<f64>| v.map_or_else(|| "none".into(), |v| format!("{v:.2}"));
        line += &format!(
            ": {} {:.2} ms (pull {}, unpack {}, start {:.2}, ready {:.2}, first response {:.2})",
            r.mode,
            c.total,
            opt(c.pull),
            opt(c.unpack),
            c.start,
            c.ready,
            c.first_response
        );
    }
    if let Some(e) = &r.cold_evidence {
        let pages = |x: &lumos_model::Residency| format!("{}/{}", x.resident_pages, x.pages);
        line += &format!(
            "; before start: image cache {}, pulled {} B, page cache {}, resident pages runtime {} image {}",
            if e.image_cache_was_empty { "empty" } else { "held the image" },
            e.pulled_bytes,
            if e.page_cache_dropped { "dropped" } else { "as found" },
            e.runtime_binary.as_ref().map_or_else(|| "-".into(), pages),
            pages(&e.image_files)
        );
    }
    if let Some(l) = &r.latency_ms {
        line += &format!(
            ": n={} mean {:.3} ± {:.3} ms, p50 {:.3}, p99 {:.3}, min {:.3}, max {:.3}",
            l.n, l.mean, l.stddev, l.p50, l.p99, l.min, l.max
        );
    }
    if let Some(o) = &r.overhead_ms {
        line += &format!(", host overhead p50 {:.1} us", o.p50 * 1e3);
    }
    eprintln!("{line}; errors {}", r.errors);
    for lv in r.load.iter().flatten() {
        eprintln!(
            "  c={:<4} {:<14} sent {:<6} ok {:<6} errors {:<4} timeouts {:<4} {:>9.1} req/s  p50 {:.3} ms p99 {:.3} ms",
            lv.concurrency, lv.mode, lv.sent, lv.ok, lv.errors, lv.timeouts, lv.throughput_rps, lv.latency_ms.p50, lv.latency_ms.p99
        );
    }
    for w in &r.warnings {
        eprintln!("Warning: {w}");
    }
    for e in &r.error_samples {
        eprintln!("error: {e}");
    }
}

/// Why a run measured nothing (not one request answered OK), if so: such a
/// run still prints its result, then exits non-zero.
fn measured_nothing(r: &RunResult) -> Option<String> {
    let ok: u64 = match &r.load {
        Some(levels) => levels.iter().map(|l| l.ok).sum(),
        None => r.requests.saturating_sub(r.errors),
    };
    (ok == 0).then(|| {
        format!(
            "the {} run measured nothing: {} of {} request(s) failed (see `error_samples`)",
            r.mode, r.errors, r.requests
        )
    })
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line: the error and its causes.
            eprintln!("error: {}", lumos_model::error_chain(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints a result, then fails if it measured nothing.
fn finish(r: &RunResult, args: &RunArgs) -> Result<std::process::ExitCode> {
    emit(r, args)?;
    if let Some(why) = measured_nothing(r) {
        bail!(why);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn run(cli: Cli) -> Result<std::process::ExitCode> {
    match cli.cmd {
        Cmd::Guard => std::process::exit(lumos_runtimes::guard::guard_main()),
        Cmd::Precompile {
            module,
            output,
            target,
            epoch_interruption,
        } => {
            let wasm =
                std::fs::read(&module).with_context(|| format!("read {}", module.display()))?;
            let cwasm = precompile(&wasm, target, epoch_interruption)?;
            // Temp file + rename: an interrupted precompile leaves no half .cwasm.
            lumos_oci::layout::write_atomic(&output, &cwasm)?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Cmd::Probe => {
            let v = serde_json::json!({
                "sandbox": lumos_runtimes::container::probe(),
                "machine": lumos_runtimes::machine::machine(),
                "versions": lumos_runtimes::machine::versions(None),
                "runtimes": Runtime::ALL.iter().map(|r| (r.name(), lumos_runtimes::runtime::availability(*r).err().map(|e| e.to_string()))).collect::<std::collections::BTreeMap<_, _>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(std::process::ExitCode::SUCCESS)
        }
        Cmd::Cold { run: a, mut modes } => {
            modes.sort_unstable();
            modes.dedup();
            // Refused before anything runs (no guard, no pull).
            if modes.contains(&Mode::ColdNode) {
                if let Some(why) = lumos_runtimes::node::cold_node_refusal() {
                    bail!(why);
                }
            }
            let payload = a.payload()?;
            let runner = Runner::new(a.opts())?;
            let mut results = vec![];
            for m in modes {
                let job =
                    lumos_runtimes::Job::from_opts(&runner.opts, &a.image, a.runtime, &payload);
                results.push(runner.cold_as(&job, m)?);
            }
            match results.as_slice() {
                [one] => finish(one, &a),
                many => {
                    let s = serde_json::to_string_pretty(many)?;
                    match &a.json {
                        Some(p) => std::fs::write(p, s)
                            .with_context(|| format!("write {}", p.display()))?,
                        None => println!("{s}"),
                    }
                    many.iter().for_each(summary);
                    if let Some(why) = many.iter().find_map(measured_nothing) {
                        bail!(why);
                    }
                    Ok(std::process::ExitCode::SUCCESS)
                }
            }
        }
        Cmd::Warm(a) => {
            let r = Runner::new(a.opts())?.run_warm(&a.image, a.runtime, &a.payload()?)?;
            finish(&r, &a)
        }
        Cmd::Load {
            run,
            concurrency,
            arrival,
            rate,
            duration,
            level_requests,
            seed,
        } => {
            if arrival != Arrival::Closed && rate.is_none() {
                bail!(
                    "--arrival {} is open loop: give --rate REQUESTS_PER_SECOND",
                    arrival.mode()
                );
            }
            let spec = LoadSpec {
                concurrency,
                arrival,
                rate,
                requests: level_requests,
                duration: Duration::from_secs_f64(duration),
                seed,
            };
            // Cross-flag bounds (rate x duration) before anything starts.
            spec.check()?;
            let r = Runner::new(run.opts())?.run_load(
                &run.image,
                run.runtime,
                &run.payload()?,
                &spec,
            )?;
            finish(&r, &run)
        }
    }
}
