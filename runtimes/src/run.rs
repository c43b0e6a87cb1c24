//! What a bench orchestrator calls: cold, warm and load runs of one function
//! image in one runtime, each returning a serde-serialisable `RunResult`.

use crate::artifact::Artifact;
use crate::container::{self, Sandbox};
use crate::fetch::{self, ImageRef};
use crate::guard::{Guard, GuardedDir};
use crate::host::Reply;
use crate::launch::{Launcher, Limits, Slot, StartTimes};
use crate::machine::{Machine, Versions};
use crate::measure::latency::Recorder;
use crate::measure::load::{self, LoadSpec};
use crate::runtime::{Protocol, Runtime};
use crate::store::Store;
pub use lumos_model::{CacheInfo, ColdStart, Mode, Overhead, PayloadInfo, Phases, RunResult};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of a run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunOpts {
    /// The `lumos-runner` executable (hosts the wasm shims and the guard).
    /// None: `$LUMOS_RUNNER`, else this executable if it is lumos-runner,
    /// else `lumos-runner` next to it.
    pub runner_exe: Option<PathBuf>,
    /// A command put before the runner executable when it starts itself as a
    /// shim or guard, e.g. `qemu-aarch64-static -L /usr/aarch64-linux-gnu`
    /// for a foreign-arch runner (default: `$LUMOS_RUNNER_PREFIX`, split on spaces).
    pub runner_prefix: Vec<String>,
    /// Image cache. None: a new empty directory per run (a cold run starts
    /// with an empty cache) removed afterwards. Some: kept and reused, so a
    /// second run starts from the local cache.
    pub cache_dir: Option<PathBuf>,
    /// Native sandbox; None: probe (runc, crun, chroot, process).
    /// `containerd` (or `containerd-runc` / `containerd-crun-wasmedge`):
    /// every runtime under a private containerd that pulls the image itself
    /// (native with runc, wasmedge-interp and wasmedge-aot with crun built
    /// with WasmEdge; see [`crate::container::containerd`]).
    pub sandbox: Option<Sandbox>,
    pub limits: Limits,
    /// Warm: requests sent and discarded before measuring.
    pub warmup: usize,
    /// Warm: measured requests.
    pub requests: usize,
    /// Storage for the functions: `redis://HOST:PORT`, or None for memory.
    pub baas: Option<String>,
    /// Put the storage server behind a link with this bandwidth and delay
    /// (a network namespace, a veth pair, tc tbf, a delaying relay; root).
    #[serde(default)]
    pub baas_link: Option<lumos_model::BaasLinkSpec>,
    /// Nodes to place instances on (a job names one in [`Job::node`]):
    /// each a network namespace with a veth pair to the runner's, limited
    /// to its rate both ways (tc tbf), made by [`Runner::new`] and removed
    /// when the runner drops; root.
    #[serde(default)]
    pub nodes: Vec<lumos_model::NodeSpec>,
    /// Plain HTTP to a non-loopback registry.
    pub insecure: bool,
    /// The overall deadline of each registry operation; None: lumos-oci's
    /// default (60 s, plus 2 s per MiB of a blob).
    #[serde(default)]
    pub registry_timeout: Option<Duration>,
    /// Bounds on unpacking an image (bytes, entries).
    #[serde(default)]
    pub unpack_limits: lumos_oci::unpack::UnpackLimits,
    /// Override the protocol the image declares.
    pub protocol: Option<Protocol>,
    /// `http`: the fixed port the program listens on, overriding the
    /// image's `dev.lumos.port`.
    #[serde(default)]
    pub port: Option<u16>,
    /// Payload group name, recorded.
    pub group: Option<String>,
    /// Copy instance stderr to ours.
    pub stderr_passthrough: bool,
}

impl Default for RunOpts {
    fn default() -> Self {
        RunOpts {
            runner_exe: None,
            runner_prefix: std::env::var("LUMOS_RUNNER_PREFIX")
                .map(|p| p.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            cache_dir: None,
            sandbox: None,
            limits: Limits::default(),
            warmup: 5,
            requests: 50,
            baas: None,
            baas_link: None,
            nodes: vec![],
            insecure: false,
            registry_timeout: None,
            unpack_limits: Default::default(),
            protocol: None,
            port: None,
            group: None,
            stderr_passthrough: false,
        }
    }
}

/// What one run runs: an image in a runtime with a request. Everything that
/// varies from run to run is here; [`RunOpts`] holds what a series shares.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// `HOST[:PORT]/REPO:TAG`, `oci:DIR[:NAME]` or `file:PATH`.
    pub image: &'a str,
    pub runtime: Runtime,
    /// The request body.
    pub payload: &'a [u8],
    /// Command-line arguments of each instance, after the image's own.
    pub args: &'a [String],
    /// Override the protocol the image declares.
    pub protocol: Option<Protocol>,
    /// Image cache: None, a new empty one for this run (removed afterwards);
    /// Some, kept and reused, so a later run starts from the local cache.
    pub cache: Option<&'a Path>,
    /// Payload group name, recorded.
    pub group: Option<&'a str>,
    /// The node (one of [`RunOpts::nodes`]) whose network namespace the
    /// instances run in; None: the runner's network.
    pub node: Option<&'a str>,
}

impl<'a> Job<'a> {
    /// A job with the per-run settings of `opts` (cache, protocol, group).
    pub fn from_opts(
        opts: &'a RunOpts,
        image: &'a str,
        runtime: Runtime,
        payload: &'a [u8],
    ) -> Self {
        Job {
            image,
            runtime,
            payload,
            args: &[],
            protocol: opts.protocol,
            cache: opts.cache_dir.as_deref(),
            group: opts.group.as_deref(),
            node: None,
        }
    }
}

/// A warm run with its raw samples, for callers that fold several runs.
#[derive(Debug, Clone)]
pub struct WarmRun {
    pub result: RunResult,
    /// Round trip of every measured request, in order (failed ones included).
    pub latencies: Vec<Duration>,
    /// The SDK's phases of every measured request that reported them.
    pub phases: Vec<Phases>,
}

pub(crate) fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Finds the lumos-runner executable.
pub fn find_runner_exe(explicit: Option<&PathBuf>) -> crate::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("LUMOS_RUNNER") {
        return Ok(p.into());
    }
    let me = std::env::current_exe()
        .map_err(|e| crate::Error::io("current_exe", "/proc/self/exe", e))?;
    if me.file_name().and_then(|n| n.to_str()) == Some("lumos-runner") {
        return Ok(me);
    }
    let sib = me.with_file_name("lumos-runner");
    if sib.exists() {
        return Ok(sib);
    }
    Err(crate::Error::Usage(
        "cannot find the lumos-runner executable: set RunOpts::runner_exe or $LUMOS_RUNNER".into(),
    ))
}

/// Shared state of a series of runs: guard, store, machine facts.
pub struct Runner {
    pub opts: RunOpts,
    runner_exe: PathBuf,
    guard: Arc<Guard>,
    store: Arc<dyn Store>,
    /// The storage server's link, when one was asked for (kept up until the
    /// runner drops).
    linked: Option<crate::link::LinkedStore>,
    /// The nodes of [`RunOpts::nodes`], up until the runner drops.
    placed: Vec<(lumos_model::NodeRecord, Arc<crate::netns::Netns>)>,
    machine: Machine,
    versions: Versions,
    /// The containerd sandbox: one private containerd per kept image cache
    /// (its root in `<cache>/containerd`), started on first use; stopped
    /// before `work` is removed.
    nodes: std::sync::Mutex<std::collections::HashMap<PathBuf, Arc<lumos_services::Containerd>>>,
    work: GuardedDir,
}

/// An image made ready to start (pulled, unpacked).
pub struct Prepared {
    pub artifact: Arc<Artifact>,
    pub pull: Option<Duration>,
    pub unpack: Option<Duration>,
    pub cache: CacheInfo,
    /// Bytes pulled (or copied from a layout) into the cache by this prepare.
    pub pulled_bytes: u64,
    /// The image cache the image is in (kept or throwaway).
    pub cache_root: PathBuf,
    /// Time prepare spent on bookkeeping that is no phase of a cold start
    /// (containerd: reading the image it pulled and mounting it for the
    /// runner), left out of the timings.
    pub untimed: Duration,
    // Keeps a throwaway cache alive while instances use its rootfs; the
    // guard removes it if the runner dies first.
    _tmp: Option<GuardedDir>,
}

impl Runner {
    pub fn new(opts: RunOpts) -> crate::Result<Runner> {
        let runner_exe = find_runner_exe(opts.runner_exe.as_ref())?;
        let guard = Arc::new(
            Guard::start(&runner_exe, &opts.runner_prefix)
                .map_err(|e| crate::Error::io("start guard", &runner_exe, e))?,
        );
        let (store, linked) = match &opts.baas_link {
            None => (crate::store::open(opts.baas.as_deref())?, None),
            Some(spec) => {
                let l = crate::link::open_store(opts.baas.as_deref(), spec, &guard)?;
                (l.store.clone(), Some(l))
            }
        };
        let work = GuardedDir::new("lumos-run-", &guard)
            .map_err(|e| crate::Error::io("temp dir", std::env::temp_dir(), e))?;
        let placed = make_nodes(&opts.nodes, &guard)?;
        let versions = crate::machine::versions(Some(&runner_exe));
        Ok(Runner {
            opts,
            runner_exe,
            guard,
            store,
            linked,
            placed,
            machine: crate::machine::machine(),
            versions,
            work,
            nodes: Default::default(),
        })
    }

    /// Whether runs go through a private containerd (`--sandbox containerd`).
    fn under_containerd(&self) -> bool {
        self.opts.sandbox.is_some_and(Sandbox::is_containerd)
    }

    /// The runtime's own program is needed unless containerd runs the image
    /// (then runc or crun+WasmEdge, checked by [`Launcher::validate`]).
    fn require(&self, runtime: Runtime) -> crate::Result<()> {
        if self.under_containerd() {
            return Ok(());
        }
        crate::runtime::require(runtime, Some(&self.runner_exe))
    }

    /// Sandbox containerd: the image pulled by containerd itself into a new
    /// private containerd (a throwaway cache: a node that never held it) or
    /// the one of the job's kept cache (`<cache>/containerd`).
    fn prepare_containerd(&self, job: &Job) -> crate::Result<Prepared> {
        let reference = match ImageRef::parse(job.image)? {
            ImageRef::Registry(s) => s,
            _ => {
                return Err(crate::Error::Usage(format!(
                "image {}: the containerd sandbox pulls from a registry: give HOST[:PORT]/REPO:TAG",
                job.image
            )))
            }
        };
        // A node's containerd runs before any pull: starting one is no phase.
        let started = Instant::now();
        let ctrd = match job.cache {
            None => container::containerd::start(None)?,
            Some(dir) => {
                let root = dir.join("containerd");
                let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
                match nodes.get(&root) {
                    Some(c) => c.clone(),
                    None => {
                        let c = container::containerd::start(Some(&root))?;
                        nodes.insert(root, c.clone());
                        c
                    }
                }
            }
        };
        let start_time = started.elapsed();
        let mut p = container::containerd::pull(
            &ctrd,
            job.cache.is_none(),
            &reference,
            self.opts.insecure,
            self.work.path(),
            job.protocol,
        )?;
        if self.opts.port.is_some() {
            p.artifact.port = self.opts.port;
        }
        Ok(Prepared {
            pulled_bytes: if p.was_empty {
                p.artifact.image.compressed_bytes
            } else {
                0
            },
            cache_root: ctrd.root.clone(),
            artifact: Arc::new(p.artifact),
            pull: Some(p.pull),
            unpack: None,
            cache: CacheInfo {
                dir: job.cache.map(Path::to_path_buf),
                was_empty: p.was_empty,
            },
            untimed: p.untimed + start_time,
            _tmp: None,
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The link to the storage server (settings and the relay's measured
    /// overhead), when the run has one.
    pub fn baas_link(&self) -> Option<&lumos_model::BaasLink> {
        self.linked.as_ref().map(|l| l.link.record())
    }

    /// The nodes of [`RunOpts::nodes`] as made (name, address, rate).
    pub fn nodes(&self) -> Vec<lumos_model::NodeRecord> {
        self.placed.iter().map(|(r, _)| r.clone()).collect()
    }

    /// The network namespace of node `name` (removed when the runner drops).
    pub fn node_namespace(&self, name: &str) -> Option<&str> {
        self.placed
            .iter()
            .find(|(r, _)| r.name == name)
            .map(|(_, n)| n.name())
    }

    /// Node `name` of [`RunOpts::nodes`], or a refusal naming the nodes there are.
    fn node(
        &self,
        name: Option<&str>,
    ) -> crate::Result<Option<&(lumos_model::NodeRecord, Arc<crate::netns::Netns>)>> {
        let Some(name) = name else { return Ok(None) };
        match self.placed.iter().find(|(r, _)| r.name == name) {
            Some(n) => Ok(Some(n)),
            None => Err(crate::Error::Usage(format!(
                "node {name}: not one of this run's nodes ({})",
                if self.placed.is_empty() {
                    "none: give --node NAME[:RATE]".to_string()
                } else {
                    self.placed
                        .iter()
                        .map(|(r, _)| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))),
        }
    }

    /// The network namespace the storage server is reached through (removed
    /// when the runner drops).
    pub fn baas_namespace(&self) -> Option<&str> {
        self.linked.as_ref().map(|l| l.link.namespace())
    }

    /// Pulls and unpacks (timed), into the job's cache or a new empty one.
    pub fn prepare(&self, job: &Job) -> crate::Result<Prepared> {
        if self.under_containerd() {
            return self.prepare_containerd(job);
        }
        let r = ImageRef::parse(job.image)?;
        let (dir, tmp) = match job.cache {
            Some(d) => (d.to_path_buf(), None),
            None => {
                let t = GuardedDir::new("lumos-cache-", &self.guard)
                    .map_err(|e| crate::Error::io("temp dir", std::env::temp_dir(), e))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io("create cache", &dir, e))?;
        let mut f = fetch::fetch(&r, &dir, &self.opts, job.protocol)?;
        if self.opts.port.is_some() {
            f.artifact.port = self.opts.port;
        }
        // A pull into a cache without the image transfers every blob; from the
        // cache, or a bare file, nothing.
        let pulled_bytes = if f.was_empty && f.pull.is_some() {
            f.artifact.image.compressed_bytes
        } else {
            0
        };
        Ok(Prepared {
            pulled_bytes,
            untimed: Duration::ZERO,
            cache_root: dir.clone(),
            artifact: Arc::new(f.artifact),
            pull: f.pull,
            unpack: f.unpack,
            cache: CacheInfo {
                dir: job.cache.map(Path::to_path_buf),
                was_empty: f.was_empty,
            },
            _tmp: tmp,
        })
    }

    /// A launcher for a prepared image in `runtime`, its instances given
    /// `args`, on the runner's network.
    pub fn launcher(
        &self,
        p: &Prepared,
        runtime: Runtime,
        args: &[String],
    ) -> crate::Result<Arc<Launcher>> {
        self.launcher_on(p, runtime, args, None)
    }

    /// [`Runner::launcher`] with its instances run on `node` (one of
    /// [`RunOpts::nodes`]; None: the runner's network).
    pub fn launcher_on(
        &self,
        p: &Prepared,
        runtime: Runtime,
        args: &[String],
        node: Option<&str>,
    ) -> crate::Result<Arc<Launcher>> {
        let network = self.node(node)?.map(|(_, n)| n.clone());
        let containerd = self
            .opts
            .sandbox
            .and_then(|s| Some((s, s.under_containerd(runtime)?)));
        let sandbox = if let Some((asked, fits)) = containerd {
            Some(fits.map_err(|reason| crate::Error::SandboxUnusable {
                sandbox: asked,
                reason,
            })?)
        } else if runtime == Runtime::Native {
            let probe = container::probe();
            let sb = self.opts.sandbox.unwrap_or(probe.chosen);
            probe
                .check(sb)
                .map_err(|reason| crate::Error::SandboxUnusable {
                    sandbox: sb,
                    reason,
                })?;
            Some(sb)
        } else {
            None
        };
        let l = Launcher {
            artifact: p.artifact.clone(),
            args: args.to_vec(),
            runtime,
            sandbox,
            limits: self.opts.limits,
            shim: crate::runtime::find_shim(runtime, Some(&self.runner_exe)),
            runner_prefix: self.opts.runner_prefix.clone(),
            guard: Some(self.guard.clone()),
            store: self.store.clone(),
            work: self.work.path().to_path_buf(),
            stderr_passthrough: self.opts.stderr_passthrough,
            pool: Default::default(),
            network,
        };
        l.validate()?;
        Ok(Arc::new(l))
    }

    fn base(&self, p: &Prepared, l: &Launcher, mode: Mode, job: &Job) -> RunResult {
        let payload = job.payload;
        RunResult {
            function: p.artifact.function.clone(),
            schema_version: lumos_model::SCHEMA_VERSION,
            runtime: l.runtime,
            sandbox: l.sandbox,
            group: job.group.map(str::to_string),
            mode,
            protocol: p.artifact.protocol,
            image: p.artifact.image.clone(),
            cache: p.cache.clone(),
            payload: PayloadInfo {
                bytes: payload.len() as u64,
                sha256: sha256_hex(payload),
            },
            store: self.store.describe(),
            baas_link: self.baas_link().cloned(),
            node: self.node(job.node).ok().flatten().map(|(r, _)| r.clone()),
            limits: Some(l.limits),
            machine: self.machine.clone(),
            versions: self.versions.clone(),
            sandbox_probe: l.sandbox.map(|_| container::probe().clone()),
            ..Default::default()
        }
    }

    /// Cold: pull (into an empty cache unless the job keeps one), unpack,
    /// start a new instance, wait until ready, send one request
    /// ([`Runner::cold_as`] with [`Mode::Cold`]).
    pub fn cold(&self, job: &Job) -> crate::Result<RunResult> {
        self.cold_as(job, Mode::Cold)
    }

    /// One cold start of the kind `mode` (README "Cold starts"):
    /// - `cold`: as [`Runner::cold`];
    /// - `cold-cached`: the image is pulled and unpacked first, untimed (into
    ///   the job's cache, or a new one), then a brand-new instance is started
    ///   from the cache and timed, with no registry contact: no pull or unpack
    ///   phase, nothing pulled;
    /// - `cold-node`: `sync` and the page cache dropped, then as `cold` from a
    ///   new empty cache (whatever the job's cache); root only.
    ///
    /// Each records [`lumos_model::ColdEvidence`]: the residency of the
    /// runtime's program and of the image's files is probed after the image
    /// is ready and before the instance starts, and the probe's own time is
    /// left out of `start` and `total`.
    pub fn cold_as(&self, job: &Job, mode: Mode) -> crate::Result<RunResult> {
        let (runtime, payload) = (job.runtime, job.payload);
        if !mode.is_cold() {
            return Err(crate::Error::Usage(format!(
                "mode {mode} is not a cold start (cold-cached, cold, cold-node)"
            )));
        }
        self.require(runtime)?;
        let (job, before) = match mode {
            Mode::ColdCached => {
                // Untimed: the node already holds the image.
                let before = self.prepare(job)?;
                (*job, Some(before))
            }
            Mode::ColdNode => {
                crate::node::drop_page_cache()?;
                (
                    Job {
                        cache: None,
                        ..*job
                    },
                    None,
                )
            }
            _ => (*job, None),
        };
        let job = &job;
        // wasmtime-pooled on a node that holds the image: the host (the
        // node's running daemon, as Spin's or wasmCloud's) has the module
        // loaded before any request, so a new instance is instantiate + first
        // response (issue 11): the lookup and the launcher come before the
        // clock. Every other runtime's node looks the image up per start.
        let (before, held, held_launcher) = match before {
            Some(before) if runtime.is_pooled() => {
                let p = self.reopen_cached(before, job.protocol)?;
                let l = self.launcher_on(&p, runtime, job.args, job.node)?;
                l.pool_host().map_err(crate::Error::Start)?;
                (None, Some(p), Some(l))
            }
            before => (before, None, None),
        };
        // One clock, phase boundaries back to back: the phases partition the total.
        let t0 = Instant::now();
        let (p, pull, unpack, boundary) = match (before, held) {
            (_, Some(p)) => (p, None, None, t0),
            (Some(before), None) => {
                // The node's own lookup of the image it holds counts as start.
                let p = self.reopen_cached(before, job.protocol)?;
                (p, None, None, t0)
            }
            (None, None) => {
                let p = self.prepare(job)?;
                let prepared_at = Instant::now();
                if p.artifact.node.is_some() {
                    // containerd: its pull (fetch and unpack are one step
                    // there) until the image is ready, or its lookup of an
                    // image it holds; reading and mounting it for the runner
                    // are left out.
                    let pull = (prepared_at - t0).saturating_sub(p.untimed);
                    (p, Some(pull), None, prepared_at)
                } else if p.cache.was_empty {
                    let pull = p.pull.unwrap_or_default();
                    let unpack = (prepared_at - t0).saturating_sub(pull);
                    (p, Some(pull), Some(unpack), prepared_at)
                } else {
                    // From the local cache: nothing unpacked; `pull` is the registry's
                    // answer for the tag's current digest (0 for a layout or a digest
                    // reference); the local lookup counts as start.
                    let check = p.pull.unwrap_or_default();
                    (p, Some(check), Some(Duration::ZERO), t0 + check)
                }
            }
        };
        let untimed = p.untimed;
        let l = match held_launcher {
            Some(l) => l,
            None => self.launcher_on(&p, runtime, job.args, job.node)?,
        };
        // Evidence, untimed: what of the runtime and the image is in memory now.
        let probe_at = Instant::now();
        // wasmtime-pooled: the host is a node's running daemon, started
        // before the timed instance start (its own start is recorded).
        let pool_host_start_ms = if runtime.is_pooled() {
            Some(ms(l.pool_host().map_err(crate::Error::Start)?.start))
        } else {
            None
        };
        let mut evidence = lumos_model::ColdEvidence {
            pool_host_start_ms,
            instance: None,
            image_cache_was_empty: p.cache.was_empty,
            pulled_bytes: p.pulled_bytes,
            page_cache_dropped: mode == Mode::ColdNode,
            runtime_binary: l
                .runtime_binary()
                .and_then(|b| crate::node::file_residency(&b).ok()),
            image_files: crate::node::tree_residency(&p.artifact.rootfs),
        };
        let probed = probe_at.elapsed();
        let mut slot = Slot::new(l.clone());
        let now = Instant::now();
        let instant = StartTimes {
            spawned_at: now,
            ready_at: now,
            untimed: Duration::ZERO,
        };
        let times = if p.artifact.protocol == Protocol::Stdio {
            // One instance per request: start, ready and response are one step.
            instant
        } else {
            slot.ensure()
                .map_err(crate::Error::Start)?
                .unwrap_or(instant)
        };
        let o = slot.call(payload);
        let done = Instant::now();
        // The result's description (payload digest, machine, versions, …)
        // is the harness's bookkeeping: made after the clock stopped.
        let mut r = self.base(&p, &l, mode, job);
        let left_out = probed + times.untimed;
        r.cold_start_ms = Some(ColdStart {
            pull: pull.map(ms),
            unpack: unpack.map(ms),
            start: ms(times
                .spawned_at
                .saturating_duration_since(boundary)
                .saturating_sub(left_out)),
            ready: ms(times.ready_at.saturating_duration_since(times.spawned_at)),
            first_response: ms(done.saturating_duration_since(times.ready_at)),
            total: ms((done - t0).saturating_sub(left_out + untimed)),
        });
        r.requests = 1;
        self.tally(&mut r, std::slice::from_ref(&o));
        if let Ok(reply) = &o.result {
            if let Some(m) = reply.meta() {
                r.phases_ms = Some(phases_mean(std::slice::from_ref(m)));
            }
        }
        let u = slot.close(Duration::from_millis(500));
        r.cpu_ms = u.map(|u| u.cpu_ms);
        r.peak_rss_bytes = u.map(|u| u.peak_rss_bytes);
        r.instances = slot.instances.clone();
        r.instances_replaced = slot.replaced;
        evidence.instance = r.instances.first().cloned();
        r.cold_evidence = Some(evidence);
        Ok(r)
    }

    /// The image `before` prepared, looked up again in its cache with no
    /// registry or layout contact (a bare file has nothing to look up).
    fn reopen_cached(
        &self,
        before: Prepared,
        protocol: Option<Protocol>,
    ) -> crate::Result<Prepared> {
        if before.artifact.node.is_some() {
            // containerd holds it: nothing to look up but its name.
            return Ok(Prepared {
                pull: None,
                unpack: None,
                cache: CacheInfo {
                    was_empty: false,
                    ..before.cache.clone()
                },
                pulled_bytes: 0,
                untimed: Duration::ZERO,
                ..before
            });
        }
        let artifact = match before.artifact.image.digest.as_deref() {
            Some(digest) => match fetch::load_cached(&before.cache_root, digest, protocol) {
                Some(a) => Arc::new(a?),
                None => before.artifact.clone(),
            },
            _ => before.artifact.clone(),
        };
        Ok(Prepared {
            artifact,
            pull: None,
            unpack: None,
            cache: CacheInfo {
                dir: before.cache.dir.clone(),
                was_empty: false,
            },
            pulled_bytes: 0,
            untimed: Duration::ZERO,
            cache_root: before.cache_root,
            _tmp: before._tmp,
        })
    }

    /// Warm: one instance made ready, `warmup` requests discarded, then
    /// `requests` measured (an instance that fails is replaced; its errors count).
    pub fn warm(&self, job: &Job) -> crate::Result<WarmRun> {
        let (runtime, payload) = (job.runtime, job.payload);
        self.require(runtime)?;
        let p = self.prepare(job)?;
        let l = self.launcher_on(&p, runtime, job.args, job.node)?;
        let mut r = self.base(&p, &l, Mode::Warm, job);
        let mut slot = Slot::new(l.clone());
        slot.ensure().map_err(crate::Error::Start)?;
        let mut first_ok = None;
        for _ in 0..self.opts.warmup {
            let o = slot.call(payload);
            if let (None, Ok(Reply::Ok { body, .. })) = (&first_ok, &o.result) {
                first_ok = Some(sha256_hex(body));
            }
        }
        let mut rec = Recorder::new(true);
        let mut fun = Recorder::new(true);
        let mut outcomes = Vec::with_capacity(self.opts.requests);
        let mut metas = vec![];
        let mut latencies = Vec::with_capacity(self.opts.requests);
        for _ in 0..self.opts.requests {
            let o = slot.call(payload);
            rec.record(o.latency);
            latencies.push(o.latency);
            if let Ok(Reply::Ok { body, meta }) = &o.result {
                if first_ok.is_none() {
                    first_ok = Some(sha256_hex(body));
                }
                if let Some(m) = meta {
                    fun.record(Duration::from_nanos(m.total_ns));
                    metas.push(m.clone());
                }
            }
            outcomes.push(o);
        }
        r.requests = outcomes.len() as u64;
        self.tally(&mut r, &outcomes);
        r.response_sha256 = first_ok;
        let stats = rec.stats();
        r.latency_ms = Some(stats);
        r.warnings = rec.warnings();
        if !metas.is_empty() {
            let ph = phases_mean(&metas);
            let f = fun.stats();
            r.overhead_ms = Some(Overhead {
                p50: stats.p50 - f.p50,
                mean: stats.mean - f.mean,
            });
            r.phases_ms = Some(ph);
        }
        slot.close(Duration::from_millis(500));
        // All instances of the run: CPU summed, RSS the largest.
        r.cpu_ms = Some(slot.ended_usage.cpu_ms);
        r.peak_rss_bytes = Some(slot.ended_usage.peak_rss_bytes);
        r.instances = slot.instances.clone();
        r.instances_replaced = slot.replaced;
        Ok(WarmRun {
            result: r,
            latencies,
            phases: metas.iter().map(phases_of).collect(),
        })
    }

    /// One instance of the image `prepared` holds ([`Runner::prepare`]),
    /// in `job`'s runtime with its arguments, started and ready for
    /// requests. The caller times what it needs; nothing is recorded here.
    pub fn start(&self, prepared: &Prepared, job: &Job) -> crate::Result<Ready> {
        self.require(job.runtime)?;
        let l = self.launcher_on(prepared, job.runtime, job.args, job.node)?;
        let (sandbox, protocol) = (l.sandbox, prepared.artifact.protocol);
        let mut slot = Slot::new(l);
        slot.ensure().map_err(crate::Error::Start)?;
        Ok(Ready {
            slot,
            image: prepared.artifact.image.clone(),
            sandbox,
            protocol,
        })
    }

    /// Load: throughput and latency at each concurrency level of `spec`
    /// (refused unless [`LoadSpec::check`] passes). A level whose client
    /// threads cannot all be spawned ends the run with [`crate::Error::ThreadSpawn`].
    pub fn load(&self, job: &Job, spec: &LoadSpec) -> crate::Result<RunResult> {
        spec.check()?;
        self.require(job.runtime)?;
        let p = self.prepare(job)?;
        // Under containerd each instance has a network namespace of its
        // own, unless it runs on a node (whose namespace they share).
        let shared_network = !self.under_containerd() || job.node.is_some();
        if let (Protocol::Http, Some(port), true) =
            (p.artifact.protocol, p.artifact.port, shared_network)
        {
            if let Some(c) = spec.concurrency.iter().find(|c| **c > 1) {
                return Err(crate::Error::Usage(format!(
                    "load at concurrency {c} needs {c} instances at once, but {} listens on the fixed port {port} \
                     and instances share the host's network: they would collide; load it at concurrency 1, \
                     or let it listen on $PORT",
                    p.artifact.function
                )));
            }
        }
        let l = self.launcher_on(&p, job.runtime, job.args, job.node)?;
        let mut r = self.base(&p, &l, Mode::Load, job);
        let body = Arc::new(job.payload.to_vec());
        let mut levels = vec![];
        for &c in &spec.concurrency {
            let lvl = load::run_level(&l, &body, spec, c)?;
            r.requests += lvl.sent;
            r.errors += lvl.errors;
            for (k, v) in &lvl.errors_by_kind {
                *r.errors_by_kind.entry(k.clone()).or_default() += v;
            }
            r.instances_replaced += lvl.instances_replaced;
            levels.push(lvl);
        }
        r.load = Some(levels);
        Ok(r)
    }

    /// [`Runner::cold`] of a job made from [`RunOpts`]' per-run settings.
    pub fn run_cold(
        &self,
        image: &str,
        runtime: Runtime,
        payload: &[u8],
    ) -> crate::Result<RunResult> {
        self.cold(&Job::from_opts(&self.opts, image, runtime, payload))
    }

    /// [`Runner::warm`] of a job made from [`RunOpts`]' per-run settings.
    pub fn run_warm(
        &self,
        image: &str,
        runtime: Runtime,
        payload: &[u8],
    ) -> crate::Result<RunResult> {
        Ok(self
            .warm(&Job::from_opts(&self.opts, image, runtime, payload))?
            .result)
    }

    /// [`Runner::load`] of a job made from [`RunOpts`]' per-run settings.
    pub fn run_load(
        &self,
        image: &str,
        runtime: Runtime,
        payload: &[u8],
        spec: &LoadSpec,
    ) -> crate::Result<RunResult> {
        self.load(&Job::from_opts(&self.opts, image, runtime, payload), spec)
    }

    fn tally(&self, r: &mut RunResult, outcomes: &[crate::launch::Outcome]) {
        for o in outcomes {
            if let Some(k) = o.error_class() {
                r.errors += 1;
                *r.errors_by_kind.entry(k).or_default() += 1;
                if r.error_samples.len() < 5 {
                    let msg = match &o.result {
                        Ok(Reply::FunctionError { kind, message, .. }) => {
                            format!("{kind}: {message}")
                        }
                        Err(f) => f.to_string(),
                        Ok(Reply::Ok { .. }) => unreachable!(),
                    };
                    r.error_samples.push(msg);
                }
            } else if r.response_sha256.is_none() {
                if let Ok(Reply::Ok { body, .. }) = &o.result {
                    r.response_sha256 = Some(sha256_hex(body));
                }
            }
        }
    }
}

/// One instance of a job's image, started and ready: requests go to it one
/// at a time and each reply, body included, comes back to the caller, who
/// may use it (a workflow sends each step's response on as the next step's
/// request). Made by [`Runner::start`]; stopped by [`Ready::stop`], or when
/// dropped. An instance that fails a request is replaced on the next call
/// (as in a warm run); `stdio` programs start a new process per call.
pub struct Ready {
    slot: Slot,
    /// The image as prepared, for the record.
    pub image: lumos_model::ImageInfo,
    /// The sandbox a native instance runs in.
    pub sandbox: Option<Sandbox>,
    pub protocol: Protocol,
}

impl Ready {
    /// Sends one request and returns the reply with its round trip.
    pub fn call(&mut self, body: &[u8]) -> crate::launch::Outcome {
        self.slot.call(body)
    }

    /// Where the instance takes HTTP requests (`http` and `wasi-http`
    /// instances), for a client of its own (an ingress in front of it, say).
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.slot.http_addr()
    }

    /// The instances this started, in order (a replaced one too).
    pub fn instances(&self) -> &[String] {
        &self.slot.instances
    }

    /// Stops the instance (SHUTDOWN, a kill after `grace`); returns the CPU
    /// time and peak RSS of every instance it ran.
    pub fn stop(mut self, grace: Duration) -> crate::instance::Usage {
        self.slot.close(grace);
        self.slot.ended_usage
    }
}

/// Makes the nodes of [`RunOpts::nodes`]: one network namespace each, its
/// veth pair limited to the node's rate both ways.
fn make_nodes(
    specs: &[lumos_model::NodeSpec],
    guard: &Arc<Guard>,
) -> crate::Result<Vec<(lumos_model::NodeRecord, Arc<crate::netns::Netns>)>> {
    if specs.is_empty() {
        return Ok(vec![]);
    }
    if let Some(why) = crate::netns::refusal("--node") {
        return Err(crate::Error::Usage(why));
    }
    let mut made: Vec<(lumos_model::NodeRecord, Arc<crate::netns::Netns>)> = vec![];
    for spec in specs {
        if made.iter().any(|(r, _)| r.name == spec.name) {
            return Err(crate::Error::Usage(format!(
                "--node {spec}: node {} is given twice (node names are unique)",
                spec.name
            )));
        }
        let node_err = |source| crate::Error::Node {
            name: spec.name.clone(),
            source,
        };
        let mut ns = crate::netns::Netns::create("node", 'n', guard).map_err(node_err)?;
        if let Some(rate) = spec.rate {
            ns.limit(rate).map_err(node_err)?;
        }
        made.push((
            lumos_model::NodeRecord {
                name: spec.name.clone(),
                address: ns.addr().to_string(),
                rate: spec.rate,
                rate_bits_per_sec: spec.rate.map(|r| r.bits_per_sec()),
            },
            Arc::new(ns),
        ));
    }
    Ok(made)
}

/// The SDK's phases of one request, milliseconds.
pub(crate) fn phases_of(m: &crate::host::Meta) -> Phases {
    let ms = |ns: u64| ns as f64 / 1e6;
    Phases {
        io: ms(m.phases_ns.io),
        deserialize: ms(m.phases_ns.deserialize),
        compute: ms(m.phases_ns.compute),
        serialize: ms(m.phases_ns.serialize),
        total: ms(m.total_ns),
    }
}

pub(crate) fn phases_mean(metas: &[crate::host::Meta]) -> Phases {
    let n = metas.len().max(1) as f64;
    let sum =
        |f: fn(&crate::host::Meta) -> u64| metas.iter().map(|m| f(m) as f64).sum::<f64>() / n / 1e6;
    Phases {
        io: sum(|m| m.phases_ns.io),
        deserialize: sum(|m| m.phases_ns.deserialize),
        compute: sum(|m| m.phases_ns.compute),
        serialize: sum(|m| m.phases_ns.serialize),
        total: sum(|m| m.total_ns),
    }
}

/// `Runner::new(opts)?.run_cold(image, runtime, payload)`.
pub fn run_cold(
    image: &str,
    runtime: Runtime,
    payload: &[u8],
    opts: &RunOpts,
) -> crate::Result<RunResult> {
    Runner::new(opts.clone())?.run_cold(image, runtime, payload)
}

/// `Runner::new(opts)?.run_warm(image, runtime, payload)`.
pub fn run_warm(
    image: &str,
    runtime: Runtime,
    payload: &[u8],
    opts: &RunOpts,
) -> crate::Result<RunResult> {
    Runner::new(opts.clone())?.run_warm(image, runtime, payload)
}

/// `Runner::new(opts)?.run_load(image, runtime, payload, spec)`.
pub fn run_load(
    image: &str,
    runtime: Runtime,
    payload: &[u8],
    spec: &LoadSpec,
    opts: &RunOpts,
) -> crate::Result<RunResult> {
    Runner::new(opts.clone())?.run_load(image, runtime, payload, spec)
}
