//! `lumos-runner`: runs a function image the way a serverless node does and
//! times every step. Prints a JSON result on stdout, a summary on stderr.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use lumos_runtimes::engine::shim_args::ShimArgs;
use lumos_runtimes::{Arrival, LoadSpec, Protocol, RunOpts, RunResult, Runner, Runtime, Sandbox};
use std::path::PathBuf;
use std::time::Duration;

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
    /// Cold start: pull into an empty cache, unpack, start, ready, first response.
    Cold(RunArgs),
    /// Warm latency on one ready instance.
    Warm(RunArgs),
    /// Throughput and latency at concurrency levels.
    Load {
        #[command(flatten)]
        run: RunArgs,
        /// Concurrency levels (instances), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,10,50,100,200")]
        concurrency: Vec<usize>,
        /// closed | constant | poisson | bursty[:N]
        #[arg(long, default_value = "closed")]
        arrival: String,
        /// Open loop: requests per second.
        #[arg(long)]
        rate: Option<f64>,
        /// Seconds per level (closed: at most; open: schedule length).
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Requests per level (default: closed 20 x concurrency, open rate x duration).
        #[arg(long = "level-requests")]
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
        /// Target triple (default: this CPU), e.g. aarch64-unknown-linux-gnu.
        #[arg(long)]
        target: Option<String>,
    },
    /// (internal) Host one wasm module in one engine on this process's stdio.
    Shim(ShimArgs),
    /// (internal) Clean up after the runner when it exits.
    Guard,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// HOST[:PORT]/REPO:TAG, oci:DIR[:NAME] or file:PATH
    image: String,
    #[arg(long, short)]
    runtime: String,
    /// Request body from a file.
    #[arg(long, conflicts_with = "body")]
    payload: Option<PathBuf>,
    /// Request body inline.
    #[arg(long)]
    body: Option<String>,
    /// Native: runc | crun | chroot | process (default: probe).
    #[arg(long)]
    sandbox: Option<String>,
    /// Memory limit per instance, MiB (0: none).
    #[arg(long = "memory-mib", default_value_t = 512)]
    memory_mib: u64,
    /// Per-request time limit, ms.
    #[arg(long = "timeout-ms", default_value_t = 30_000)]
    timeout_ms: u64,
    /// Keep the image cache here (default: a new empty one per run).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Storage: redis://HOST:PORT (default: the runner's memory).
    #[arg(long)]
    baas: Option<String>,
    /// Plain HTTP to a non-loopback registry.
    #[arg(long)]
    insecure: bool,
    /// Override the image's protocol: lumos | stdio | http | wasi-http.
    #[arg(long)]
    protocol: Option<String>,
    /// Payload group name, recorded.
    #[arg(long)]
    group: Option<String>,
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    #[arg(long, short = 'n', default_value_t = 50)]
    requests: usize,
    /// Copy instances' stderr to ours.
    #[arg(long)]
    show_stderr: bool,
    /// Write the JSON result here instead of stdout.
    #[arg(long)]
    json: Option<PathBuf>,
}

impl RunArgs {
    fn opts(&self) -> Result<RunOpts> {
        let mut o = RunOpts {
            cache_dir: self.cache.clone(),
            sandbox: self
                .sandbox
                .as_deref()
                .map(str::parse::<Sandbox>)
                .transpose()?,
            baas: self.baas.clone(),
            insecure: self.insecure,
            protocol: self
                .protocol
                .as_deref()
                .map(str::parse::<Protocol>)
                .transpose()?,
            group: self.group.clone(),
            warmup: self.warmup,
            requests: self.requests,
            stderr_passthrough: self.show_stderr,
            ..Default::default()
        };
        o.limits.memory_bytes = (self.memory_mib > 0).then_some(self.memory_mib << 20);
        o.limits.request_timeout = Duration::from_millis(self.timeout_ms);
        Ok(o)
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
    let mut line = format!("{} {} {}", r.function, r.runtime, r.mode);
    if let Some(sb) = &r.sandbox {
        line += &format!(" [{sb}]");
    }
    if let Some(c) = &r.cold_start_ms {
        line += &format!(
            ": cold {:.2} ms (pull {:.2}, unpack {:.2}, start {:.2}, ready {:.2}, first response {:.2})",
            c.total, c.pull, c.unpack, c.start, c.ready, c.first_response
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
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Shim(args) => std::process::exit(args.run()),
        Cmd::Guard => std::process::exit(lumos_runtimes::guard::guard_main()),
        Cmd::Precompile {
            module,
            output,
            target,
        } => {
            let wasm =
                std::fs::read(&module).with_context(|| format!("read {}", module.display()))?;
            let cwasm = lumos_runtimes::engine::wasmtime::precompile(&wasm, target.as_deref())
                .map_err(anyhow::Error::msg)?;
            // Temp file + rename: an interrupted precompile leaves no half .cwasm.
            lumos_oci::layout::write_atomic(&output, &cwasm)?;
            Ok(())
        }
        Cmd::Probe => {
            let v = serde_json::json!({
                "sandbox": lumos_runtimes::container::probe(),
                "machine": lumos_runtimes::machine::machine(),
                "versions": lumos_runtimes::machine::versions(),
                "runtimes": Runtime::ALL.iter().map(|r| (r.name(), r.availability().err())).collect::<std::collections::BTreeMap<_, _>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        Cmd::Cold(a) => {
            let runtime: Runtime = a.runtime.parse()?;
            let r = Runner::new(a.opts()?)?.run_cold(&a.image, runtime, &a.payload()?)?;
            emit(&r, &a)
        }
        Cmd::Warm(a) => {
            let runtime: Runtime = a.runtime.parse()?;
            let r = Runner::new(a.opts()?)?.run_warm(&a.image, runtime, &a.payload()?)?;
            emit(&r, &a)
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
            let runtime: Runtime = run.runtime.parse()?;
            let arrival: Arrival = arrival.parse()?;
            if arrival != Arrival::Closed && rate.is_none() {
                bail!(
                    "--arrival {} is open loop: give --rate REQUESTS_PER_SECOND",
                    arrival.mode_name()
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
            let r =
                Runner::new(run.opts()?)?.run_load(&run.image, runtime, &run.payload()?, &spec)?;
            emit(&r, &run)
        }
    }
}
