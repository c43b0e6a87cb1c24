//! Starting instances of one function in one runtime, and a `Slot` that
//! keeps one instance serving, replacing it after a failure.

use crate::artifact::Artifact;
use crate::container::{self, NativeLaunch, Sandbox};
use crate::guard::Guard;
use crate::host::{Failure, FrameConn, Instance, Reply};
use crate::http::HttpConn;
use crate::instance::{new_instance_id, Process, Spec, Usage, Workload};
use crate::netns::Netns;
use crate::pool::PoolHost;
use crate::runtime::{Protocol, Runtime};
use crate::store::Store;
use lumos_wasm::binary::Binary;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use lumos_model::Limits;

/// Everything needed to start instances of one function in one runtime.
pub struct Launcher {
    pub artifact: Arc<Artifact>,
    /// Command-line arguments after the image's own (a payload's `args`).
    pub args: Vec<String>,
    pub runtime: Runtime,
    /// The sandbox for native (None for wasm).
    pub sandbox: Option<Sandbox>,
    pub limits: Limits,
    /// The runtime's shim executable, looked up once when the launcher is
    /// made ([`crate::runtime::find_shim`], beside the runner first):
    /// `Ok(None)` for native, `Err` when it is missing.
    pub shim: Result<Option<PathBuf>, crate::runtime::NotAvailable>,
    /// Put before the shim (an emulator for a foreign-arch runner and its shims).
    pub runner_prefix: Vec<String>,
    pub guard: Option<Arc<Guard>>,
    pub store: Arc<dyn Store>,
    /// Per-instance scratch (bundles).
    pub work: PathBuf,
    pub stderr_passthrough: bool,
    /// `wasmtime-pooled`: the host process whose stores are the instances,
    /// started once ([`Launcher::pool_host`]; again only after it ended)
    /// and stopped when the launcher goes.
    pub pool: Mutex<Option<Result<Arc<PoolHost>, Failure>>>,
    /// The network namespace every instance runs in (a bench node: its
    /// `http` instances are reached at its address, across its link).
    /// None: the runner's network, except under containerd, where each
    /// instance has a namespace of its own.
    pub network: Option<Arc<Netns>>,
}

/// A ready instance.
pub enum Conn {
    Frames(FrameConn),
    Http(HttpConn),
}

impl Conn {
    fn usage(&mut self) -> Option<Usage> {
        match self {
            Conn::Frames(c) => c.inst.usage(),
            Conn::Http(c) => c.proc.usage(),
        }
    }
    fn workload_pid(&mut self) -> Option<u32> {
        match self {
            Conn::Frames(c) => c.inst.workload_pid(),
            Conn::Http(c) => c.proc.workload_pid(),
        }
    }
    fn pid(&self) -> u32 {
        match self {
            Conn::Frames(c) => c.inst.pid(),
            Conn::Http(c) => c.proc.pid(),
        }
    }
    fn has_ended(&mut self) -> bool {
        match self {
            Conn::Frames(c) => c.inst.has_ended(),
            Conn::Http(c) => c.proc.exited().is_some(),
        }
    }
}

/// An instance that became ready, with its start timings.
pub struct Started {
    pub conn: Conn,
    /// The instance's own network namespace (containerd), removed after
    /// the instance (declared after `conn`).
    pub netns: Option<Netns>,
    pub id: String,
    /// Spawn until the instance process had exec'd.
    pub start: Duration,
    /// From then until it answered `HELLO` (or opened its port).
    pub ready: Duration,
    pub times: StartTimes,
}

/// When a newly started instance had started and became ready, and how
/// much of the time before was the runner's bookkeeping.
#[derive(Debug, Clone, Copy)]
pub struct StartTimes {
    /// When the instance process had exec'd (pooled: connected).
    pub spawned_at: Instant,
    /// When it became ready.
    pub ready_at: Instant,
    /// The runner's own bookkeeping inside the start, before the instance's
    /// start began: for a pooled instance, finding its host and reading the
    /// host's CPU and RSS baseline (two /proc reads). A cold start's clock
    /// leaves it out, as it leaves out its residency probe.
    pub untimed: Duration,
}

impl Launcher {
    /// Checks the runtime fits the artifact before anything is started.
    pub fn validate(&self) -> crate::Result<()> {
        let entry = self.artifact.entry_path();
        // Parsing an ELF file to tell a .cwasm is needed for wasmtime-aot only.
        let binary = if matches!(self.runtime, Runtime::WasmtimeAot | Runtime::WasmtimePooled) {
            lumos_wasm::binary::detect_file(&entry)
        } else {
            lumos_wasm::binary::read_header(&entry)
        }
        .map_err(|source| crate::error::ImageError::Entry {
            path: entry.clone(),
            source,
        })?;
        let is_wasm = matches!(binary, Binary::Wasm(_));
        let is_elf = matches!(binary, Binary::Elf | Binary::Cwasm(_));
        let is_cwasm = matches!(binary, Binary::Cwasm(_));
        let bad = |m: &str| {
            Err(crate::Error::Unavailable {
                runtime: self.runtime,
                reason: m.into(),
            })
        };
        let wasi_http = self.artifact.protocol == Protocol::WasiHttp;
        // Said first: true whether or not the WasmEdge shim is found.
        if wasi_http || binary.is_component() {
            if let Some(why) = Protocol::WasiHttp
                .refuses_runtime(self.runtime)
                .filter(|_| self.runtime.is_wasm())
            {
                return bad(why);
            }
        }
        match self.sandbox.filter(|s| s.is_containerd()) {
            // containerd runs it with runc or crun+WasmEdge, not a Lumos shim.
            Some(sb) => container::containerd::validate(&self.artifact, sb, self.runtime)?,
            None => {
                if let Err(e) = &self.shim {
                    return Err(crate::Error::Unavailable {
                        runtime: self.runtime,
                        reason: e.to_string(),
                    });
                }
            }
        }
        match self.runtime {
            Runtime::Native if !is_elf => bad("the image's entry is not a native executable"),
            Runtime::WasmtimeAot if !is_elf => {
                bad("the image's entry is not a wasmtime .cwasm (use an aot-wasmtime-<arch> image)")
            }
            Runtime::WasmtimePooled if !is_wasm && !is_cwasm => bad(
                "the image's entry is neither a wasmtime .cwasm nor a wasm module \
                 (use an aot-wasmtime-<arch> or a wasm image)",
            ),
            Runtime::WasmtimePooled if self.artifact.protocol != Protocol::Lumos => bad(&format!(
                "wasmtime-pooled serves functions speaking frames (protocol lumos); \
                 the image says {}",
                self.artifact.protocol
            )),
            Runtime::WasmtimeJit
            | Runtime::WasmiInterp
            | Runtime::WasmedgeInterp
            | Runtime::WasmedgeAot
                if !is_wasm =>
            {
                bad("the image's entry is not a wasm module")
            }
            Runtime::WasmtimeJit | Runtime::WasmtimeAot if wasi_http && !binary.is_component() => {
                bad(
                    "protocol wasi-http needs a component (or a .cwasm precompiled from one); \
                     the image's entry is a core module",
                )
            }
            Runtime::WasmtimeJit | Runtime::WasmtimeAot if !wasi_http && binary.is_component() => {
                bad(&format!(
                    "the image's entry is a component: run it with protocol wasi-http \
                     (the image says {})",
                    self.artifact.protocol
                ))
            }
            r if r.is_wasm()
                && self.artifact.protocol == Protocol::Http
                && !matches!(r, Runtime::WasmedgeInterp | Runtime::WasmedgeAot) =>
            {
                bad(&format!(
                    "the http protocol needs sockets, which {} does not give a wasm32-wasip1 module: \
                     serve it with native, wasmedge-interp or wasmedge-aot",
                    self.runtime.name()
                ))
            }
            _ => Ok(()),
        }
    }

    /// The program an instance start executes, whose pages a cold start
    /// needs: the wasm runtime's shim or the native sandbox's
    /// runtime (runc, crun, unshare); None for sandbox `process`, whose
    /// program is the image's own executable (counted with the image's files).
    pub fn runtime_binary(&self) -> Option<PathBuf> {
        match self.sandbox {
            None => self.shim_program().ok(),
            Some(Sandbox::Runc) => crate::node::which("runc"),
            Some(Sandbox::Crun) => crate::node::which("crun"),
            Some(Sandbox::Chroot) => crate::node::which("unshare"),
            Some(Sandbox::Process) => None,
            Some(s) => container::containerd::runtime_binary(s),
        }
    }

    /// The wasm runtime's shim executable ([`Launcher::validate`] has
    /// checked it was found).
    fn shim_program(&self) -> crate::Result<PathBuf> {
        match &self.shim {
            Ok(Some(exe)) => Ok(exe.clone()),
            Ok(None) => Err(crate::Error::Unavailable {
                runtime: self.runtime,
                reason: "native runs no shim".into(),
            }),
            Err(e) => Err(crate::Error::Unavailable {
                runtime: self.runtime,
                reason: e.to_string(),
            }),
        }
    }

    fn spec(&self, id: &str, port: Option<u16>, netns: Option<&Path>) -> crate::Result<Spec> {
        self.spec_with(id, port, None, netns)
    }

    /// The path of the node's namespace every instance joins, if any.
    fn node_netns(&self) -> Option<PathBuf> {
        self.network.as_ref().map(|n| n.path())
    }

    /// Puts the instance in a CPU-limited cgroup of its own when `--cpus` is
    /// set and no OCI runtime applies the limit itself (crate::cgroup).
    fn limit_cpus(&self, id: &str, spec: &mut Spec) -> crate::Result<()> {
        let by_runtime = matches!(
            self.sandbox,
            Some(
                Sandbox::Runc
                    | Sandbox::Crun
                    | Sandbox::Containerd
                    | Sandbox::ContainerdRunc
                    | Sandbox::ContainerdCrunWasmedge
            )
        );
        if let (Some(cpus), false) = (self.limits.cpus, by_runtime) {
            let group = crate::cgroup::create_cpu(id, cpus)?;
            spec.stop.push(crate::guard::Step::RemoveCgroup(group.dir));
            spec.cgroup_procs = Some(group.procs);
        }
        Ok(())
    }

    /// The spec of an instance process, or (`pool_socket`) of the
    /// `wasmtime-pooled` host listening there, with its CPU limit.
    fn spec_with(
        &self,
        id: &str,
        port: Option<u16>,
        pool_socket: Option<PathBuf>,
        netns: Option<&Path>,
    ) -> crate::Result<Spec> {
        let mut spec = self.base_spec(id, port, pool_socket, netns)?;
        self.limit_cpus(id, &mut spec)?;
        Ok(spec)
    }

    fn base_spec(
        &self,
        id: &str,
        port: Option<u16>,
        pool_socket: Option<PathBuf>,
        netns: Option<&Path>,
    ) -> crate::Result<Spec> {
        let a = &self.artifact;
        // The image's argv, then the job's arguments.
        let argv: Vec<String> = a.argv.iter().chain(&self.args).cloned().collect();
        let mut env = a.env.clone();
        if let Some(p) = port {
            env.push(format!("PORT={p}"));
        }
        if let Some(sb) = self.sandbox {
            return container::spec(
                sb,
                &NativeLaunch {
                    id,
                    rootfs: &a.rootfs,
                    work: &self.work,
                    argv: &argv,
                    entry: &a.entry,
                    env: &env,
                    cwd: &a.cwd,
                    memory_limit: self.limits.memory_bytes,
                    cpus: self.limits.cpus,
                    stderr_passthrough: self.stderr_passthrough,
                    node: a.node.as_deref(),
                    netns,
                },
            );
        }
        let mut policy = a.wasi.clone();
        let mut http_port = None;
        match (port, a.protocol) {
            // A wasi:http component is served by the shim itself, on this port.
            (Some(p), Protocol::WasiHttp) => http_port = Some(p),
            (Some(p), _) => {
                // An http server listens: it is given the network (WasmEdge's
                // socket extension) along with the port to listen on.
                policy.env.push(("PORT".into(), p.to_string()));
                policy.network = true;
            }
            (None, _) => {}
        }
        // The shim resolves the module and the preopens inside the rootfs itself
        // when it opens them (crate::confine).
        let shim = lumos_shim::ShimOpts {
            engine: self.runtime,
            root: Some(a.rootfs.clone()),
            module: a.entry.clone().into(),
            shown: None,
            name: a.function.clone(),
            args: argv[1..].to_vec(),
            memory_limit: self.limits.memory_bytes,
            policy,
            http_port,
            // In a node's namespace the runner reaches it at the node's address.
            http_host: netns
                .and(http_port)
                .map(|_| IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            pool_socket,
        };
        let shim_exe = self.shim_program()?;
        let args: Vec<std::ffi::OsString> = lumos_shim::shim_args(&shim)
            .map_err(|source| crate::Error::ShimSpec {
                rootfs: a.rootfs.clone(),
                source,
            })?
            .into_iter()
            .map(Into::into)
            .collect();
        let (program, args) = match self.runner_prefix.split_first() {
            None => (shim_exe, args),
            Some((first, rest)) => {
                let mut a: Vec<std::ffi::OsString> = rest.iter().map(Into::into).collect();
                a.push(shim_exe.into());
                a.extend(args);
                (PathBuf::from(first), a)
            }
        };
        Ok(Spec {
            program,
            arg0: None,
            args,
            env: vec![],
            cwd: None,
            rlimit_as: None,
            cgroup_procs: None,
            stop: vec![],
            workload: Workload::Child,
            stderr_passthrough: self.stderr_passthrough,
            netns: netns.map(Path::to_path_buf),
        })
    }

    /// Spawns a process (no readiness wait) in the node's namespace, if
    /// any; used directly by `stdio`.
    pub fn spawn(&self, port: Option<u16>) -> Result<(Process, Duration), Failure> {
        self.spawn_in(port, self.node_netns().as_deref())
    }

    /// Spawns a process in network namespace `netns` (None: the runner's).
    fn spawn_in(
        &self,
        port: Option<u16>,
        netns: Option<&Path>,
    ) -> Result<(Process, Duration), Failure> {
        let id = new_instance_id();
        let spec = self
            .spec(&id, port, netns)
            .map_err(|e| Failure::Start(e.to_string()))?;
        let t0 = Instant::now();
        let p = Process::spawn(id, &spec, self.guard.as_ref())
            .map_err(|e| Failure::Start(format!("spawn {}: {e}", spec.program.display())))?;
        Ok((p, t0.elapsed()))
    }

    /// The `wasmtime-pooled` host of this launcher, started on first use
    /// (module loaded, pool reserved, listening) and kept until the launcher
    /// goes; a host that failed to start fails every instance the same way;
    /// a host that ended (stopped after a request timed out, or crashed) is
    /// replaced by a new one.
    pub fn pool_host(&self) -> Result<Arc<PoolHost>, Failure> {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Ok(h)) = pool.as_ref() {
            if h.has_ended() {
                *pool = None;
            }
        }
        pool.get_or_insert_with(|| {
            let id = new_instance_id();
            let socket = self.work.join(format!("{id}.sock"));
            let spec = self
                .spec_with(
                    &id,
                    None,
                    Some(socket.clone()),
                    self.node_netns().as_deref(),
                )
                .map_err(|e| Failure::Start(e.to_string()))?;
            PoolHost::start(
                id,
                &spec,
                socket,
                self.guard.as_ref(),
                self.limits.start_timeout,
            )
            .map(Arc::new)
        })
        .clone()
    }

    /// A pooled instance: a connection to the host, ready at its `HELLO`.
    fn start_pooled(&self) -> Result<Started, Failure> {
        let entered = Instant::now();
        let host = self.pool_host()?;
        let id = new_instance_id();
        let base = host.baseline();
        let t0 = Instant::now();
        let (stream, inst) = host.connect(&id, base)?;
        let t1 = Instant::now();
        let conn = FrameConn::handshake_pooled(stream, inst, t1 + self.limits.start_timeout);
        let ready_at = Instant::now();
        match conn {
            Ok(c) => Ok(Started {
                conn: Conn::Frames(c),
                netns: None,
                id,
                start: t1 - t0,
                ready: ready_at - t1,
                times: StartTimes {
                    spawned_at: t1,
                    ready_at,
                    untimed: t0 - entered,
                },
            }),
            Err(b) => {
                let (inst, f) = *b;
                Err(match f {
                    Failure::Timeout(_) => {
                        Failure::Start(self.not_ready(None, &inst.stderr_tail()))
                    }
                    Failure::Exited(m) | Failure::Start(m) => Failure::Start(m),
                    other => Failure::Start(other.to_string()),
                })
            }
        }
    }

    /// Why an instance that did not become ready in time is refused, in one
    /// line: what was awaited, for how long, and its last lines of output.
    fn not_ready(&self, port: Option<u16>, stderr: &str) -> String {
        let a = &self.artifact;
        let waited = match (a.protocol, port) {
            (Protocol::Http | Protocol::WasiHttp, Some(p)) => {
                format!("port {p} to open (protocol {})", a.protocol)
            }
            (p, _) => format!("a HELLO frame on its stdout (protocol {p})"),
        };
        let assumed = if a.protocol_declared {
            ""
        } else {
            ", assumed: no --protocol and no dev.lumos.protocol label in the image; give \
             --protocol stdio or http if the function speaks another"
        };
        let lines: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let output = if lines.is_empty() {
            "no output".to_string()
        } else {
            format!(
                "last output: {}",
                lines[lines.len().saturating_sub(5)..].join(" | ")
            )
        };
        format!(
            "not ready within {:?}: waited for {waited}{assumed}; {output}",
            self.limits.start_timeout
        )
    }

    /// Starts a long-lived instance and waits until it is ready.
    pub fn start(&self) -> Result<Started, Failure> {
        if self.runtime.is_pooled() {
            return self.start_pooled();
        }
        let http = matches!(self.artifact.protocol, Protocol::Http | Protocol::WasiHttp);
        // Under containerd an `http` instance has a network namespace of
        // its own (as a pod has), unless it runs on a node.
        let own = match (&self.network, &self.guard) {
            (None, Some(guard)) if http && self.sandbox.is_some_and(|s| s.is_containerd()) => {
                Some(Netns::create("ctr", 'c', guard).map_err(|e| {
                    Failure::Start(format!(
                        "the instance's network namespace: {}",
                        lumos_model::error_chain(&e)
                    ))
                })?)
            }
            _ => None,
        };
        let ns = self.network.as_deref().or(own.as_ref());
        let ip = ns.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |n| IpAddr::V4(n.addr()));
        let where_ = match ns {
            Some(n) if own.is_none() => format!("in network namespace {}", n.name()),
            _ => "on this host".to_string(),
        };
        let port = match (self.artifact.protocol, self.artifact.port) {
            // A fixed port: native sandboxes and WasmEdge share the host's
            // (or the node's) network, so it must be free (one instance at a
            // time), or the readiness check would talk to whatever holds it.
            // An instance's own namespace holds nothing yet.
            (Protocol::Http, Some(p)) => {
                if own.is_none() && crate::http::listening_at(SocketAddr::new(ip, p)) {
                    return Err(Failure::Start(format!(
                        "port {p} (the function's fixed port, metadata `port`) is already in use {where_}: \
                         another program or instance listens there, and instances share that network; \
                         stop it, or let the function listen on $PORT"
                    )));
                }
                Some(p)
            }
            // The shim serves a wasi:http component on the port it is given.
            (Protocol::Http, None) | (Protocol::WasiHttp, _) => {
                Some(crate::http::free_port().map_err(|e| Failure::Start(e.to_string()))?)
            }
            _ => None,
        };
        let ns_path = ns.map(Netns::path);
        let (proc, start) = self.spawn_in(port, ns_path.as_deref())?;
        let id = proc.id.clone();
        let t1 = Instant::now();
        let deadline = t1 + self.limits.start_timeout;
        let conn = match (self.artifact.protocol, port) {
            (Protocol::Http | Protocol::WasiHttp, Some(port)) => {
                let fixed =
                    self.artifact.protocol == Protocol::Http && self.artifact.port.is_some();
                HttpConn::wait_ready(proc, SocketAddr::new(ip, port), fixed, deadline)
                    .map(Conn::Http)
                    .map_err(|b| Box::new((Instance::Process(b.0), b.1)))
            }
            _ => FrameConn::handshake(proc, deadline).map(Conn::Frames),
        };
        let ready_at = Instant::now();
        let ready = ready_at - t1;
        match conn {
            Ok(conn) => Ok(Started {
                conn,
                netns: own,
                id,
                start,
                ready,
                times: StartTimes {
                    spawned_at: t1,
                    ready_at,
                    untimed: Duration::ZERO,
                },
            }),
            Err(b) => {
                let (mut p, f) = *b;
                let f = match f {
                    Failure::Timeout(_) => Failure::Start(self.not_ready(port, &p.stderr_tail())),
                    Failure::Exited(m) | Failure::Start(m) => Failure::Start(m),
                    other => Failure::Start(other.to_string()),
                };
                p.stop(Duration::ZERO);
                Err(f)
            }
        }
    }
}

/// One request's outcome, with its latency measured by the host.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// From the request's first byte written to the answer's last byte read
    /// (`stdio`: from spawn to exit).
    pub latency: Duration,
    pub result: Result<Reply, Failure>,
    /// The instance that served it.
    pub instance: String,
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self.result, Ok(Reply::Ok { .. }))
    }
    /// The error class, if any: `handler`, `panic`, …, `timeout`, `exited`, `protocol`.
    pub fn error_class(&self) -> Option<String> {
        match &self.result {
            Ok(Reply::Ok { .. }) => None,
            Ok(Reply::FunctionError { kind, .. }) => Some(kind.clone()),
            Err(f) => Some(f.class().to_string()),
        }
    }
}

/// Keeps one instance serving requests; replaces it after a failure.
pub struct Slot {
    pub launcher: Arc<Launcher>,
    current: Option<Started>,
    /// Every instance id this slot started.
    pub instances: Vec<String>,
    /// How many instances were replaced after a failure.
    pub replaced: u32,
    /// Usage of the instances that ended (summed CPU, max RSS).
    pub ended_usage: Usage,
}

impl Slot {
    pub fn new(launcher: Arc<Launcher>) -> Slot {
        Slot {
            launcher,
            current: None,
            instances: vec![],
            replaced: 0,
            ended_usage: Usage::default(),
        }
    }

    /// Starts an instance if none is running; when it started one, returns
    /// the instants its process had exec'd and it became ready.
    pub fn ensure(&mut self) -> Result<Option<StartTimes>, Failure> {
        if self.current.is_some() || self.launcher.artifact.protocol == Protocol::Stdio {
            return Ok(None);
        }
        let s = self.launcher.start()?;
        self.instances.push(s.id.clone());
        let t = s.times;
        self.current = Some(s);
        Ok(Some(t))
    }

    /// Where the instance now serving takes HTTP requests (`http` and
    /// `wasi-http` instances; None for frames and stdio).
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.current.as_ref()?.conn {
            Conn::Http(c) => Some(c.addr()),
            Conn::Frames(_) => None,
        }
    }

    /// The id of the instance now serving.
    pub fn instance_id(&self) -> Option<&str> {
        self.current.as_ref().map(|s| s.id.as_str())
    }

    /// Serves one request.
    pub fn call(&mut self, body: &[u8]) -> Outcome {
        let l = self.launcher.clone();
        let timeout = l.limits.request_timeout;
        if l.artifact.protocol == Protocol::Stdio {
            let t0 = Instant::now();
            let (p, _) = match l.spawn(None) {
                Ok(p) => p,
                Err(f) => {
                    return Outcome {
                        latency: t0.elapsed(),
                        result: Err(f),
                        instance: String::new(),
                    }
                }
            };
            let id = p.id.clone();
            self.instances.push(id.clone());
            let (result, exit) = crate::host::stdio_call(p, body, timeout, 1 << 30);
            if let Some(u) = exit.rusage {
                self.ended_usage.cpu_ms += u.cpu_ms;
                self.ended_usage.peak_rss_bytes =
                    self.ended_usage.peak_rss_bytes.max(u.peak_rss_bytes);
            }
            return Outcome {
                latency: t0.elapsed(),
                result,
                instance: id,
            };
        }
        if let Err(f) = self.ensure() {
            return Outcome {
                latency: Duration::ZERO,
                result: Err(f),
                instance: String::new(),
            };
        }
        let s = self.current.as_mut().expect("ensured");
        let t0 = Instant::now();
        let result = match &mut s.conn {
            Conn::Frames(c) => c.call(body, l.store.as_ref(), timeout),
            Conn::Http(c) => c.call(body, timeout),
        };
        let latency = t0.elapsed();
        let instance = s.id.clone();
        let replace = match &result {
            Err(_) => true,
            // On wasm a panic aborts: the SDK writes the ERROR frame, then the instance traps.
            Ok(Reply::FunctionError { kind, .. }) if kind == "panic" && l.runtime.is_wasm() => true,
            Ok(Reply::FunctionError { kind, .. }) if kind == "protocol" => true,
            Ok(Reply::FunctionError { .. }) => s.conn.has_ended(),
            Ok(Reply::Ok { .. }) => false,
        };
        if replace {
            self.replaced += 1;
            self.end(Duration::ZERO);
        }
        Outcome {
            latency,
            result,
            instance,
        }
    }

    /// CPU time and peak RSS of the instance now serving, so far.
    pub fn usage(&mut self) -> Option<Usage> {
        self.current.as_mut().and_then(|s| s.conn.usage())
    }

    /// The pid of the function's process now serving, if any.
    pub fn workload_pid(&mut self) -> Option<u32> {
        self.current.as_mut().and_then(|s| s.conn.workload_pid())
    }

    fn end(&mut self, grace: Duration) -> Option<Usage> {
        let mut s = self.current.take()?;
        let live = s.conn.usage();
        let pid = s.conn.pid();
        let own = matches!(s.conn.workload_pid(), Some(p) if p == pid);
        let exit = match s.conn {
            Conn::Frames(c) => {
                if grace.is_zero() {
                    c.kill()
                } else {
                    c.shutdown(grace)
                }
            }
            Conn::Http(c) => c.shutdown(grace),
        };
        // wait4 covers the whole CPU time of the process when it is the function
        // itself; its ru_maxrss, though, also counts the pages of the forked
        // runner before exec, so the peak RSS is the live VmHWM (this mm only).
        let u = match (own, exit.rusage, live) {
            (true, Some(r), Some(l)) => Some(Usage {
                peak_rss_bytes: l.peak_rss_bytes,
                ..r
            }),
            (true, Some(r), None) if r.peak_rss_bytes > 0 => Some(r),
            (_, _, Some(l)) => Some(l),
            (_, r, None) => r,
        };
        if let Some(u) = u {
            self.ended_usage.cpu_ms += u.cpu_ms;
            self.ended_usage.peak_rss_bytes = self.ended_usage.peak_rss_bytes.max(u.peak_rss_bytes);
        }
        u
    }

    /// Shuts the instance down (SHUTDOWN, then a kill after `grace`); returns its usage.
    pub fn close(&mut self, grace: Duration) -> Option<Usage> {
        self.end(grace)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.end(Duration::from_millis(200));
    }
}
