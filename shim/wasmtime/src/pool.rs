//! `wasmtime-pooled`: one long-lived host process whose instances are
//! stores, as Spin and wasmCloud run functions. The spec's `pool_socket`
//! names a Unix socket; the host loads the module once (a `.cwasm` mmapped,
//! or a wasm module compiled once with the `jit` feature), links WASI p1 into
//! an [`InstancePre`], reserves wasmtime's pooling allocator (instances,
//! memories and tables in slots kept mapped, linear memories from
//! copy-on-write images of the module's data), listens, and says so with a
//! `HELLO` frame on its stdout.
//!
//! Each accepted connection is one instance: the runner first writes one
//! length byte and the instance id (named in the host's messages about it),
//! then the connection is the guest's stdin and stdout (the frames guest
//! reads requests and writes answers over it). A thread per connection
//! makes a fresh [`Store`] under the spec's WASI policy and memory limit,
//! instantiates the `InstancePre` and runs `_start` until the guest returns
//! (stdin at EOF: the runner closed the connection) or traps; then the store
//! is dropped, its slots go back to the pool, and the connection closes.
//! A trap ends that instance only; the host lives on.
//!
//! A guest that never yields is interrupted, Spin- and wasmCloud-style, with
//! wasmtime's epoch interruption (`lumos_wasm::wasmtime::config_interruptible`:
//! a wasm module is compiled with it here; a `.cwasm` has it only if it was
//! precompiled with it, and one without it, such as an `aot-wasmtime`
//! image's, is loaded into an engine without it: its instances cannot be
//! interrupted, which `HELLO` says with `"interruptible": false`, and the
//! runner stops the host when a request to one times out). A ticker thread
//! increments the engine's
//! epoch every [`TICK`], and each instance's store has a deadline one tick
//! ahead whose callback asks whether the runner has given up on the
//! instance: the runner shuts its side of the connection down when a
//! request times out, which the callback sees as `POLLRDHUP` on the
//! connection without reading from it. The guest then traps
//! (`UpdateDeadline::Interrupt`), the host says `lumos-pool[ID]: interrupted
//! …`, drops the store (its slots back in the pool) and closes the
//! connection; its other instances and the host go on.
//!
//! The host ends when its stdin reaches EOF (the runner that started it is
//! gone) or when it is killed.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lumos_shim::{ShimError, ShimOpts, Trace};
use lumos_wasm::BinaryKind;
use wasmtime::{
    Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, PoolingAllocationConfig,
    UpdateDeadline,
};
use wasmtime_wasi::p1;

/// Instances one host can hold at once (each reserves about 4 GiB of
/// address space for its linear memory; nothing is committed until used).
pub const POOL_INSTANCES: u32 = 1000;

/// How often the engine's epoch advances: how often a running guest asks
/// whether the runner still wants it (one `poll` of its connection), and
/// the longest a guest that never yields runs on after the runner gave up
/// (plus the time to the guest's next function entry or loop back edge).
pub const TICK: Duration = Duration::from_millis(10);

use crate::module::State;

/// What every instance shares.
struct Host {
    pre: InstancePre<State>,
    opts: ShimOpts,
    trace: Trace,
    /// The module has epoch interruption compiled in (see the module's doc).
    interruptible: bool,
}

/// Loads the module, listens on the spec's socket and serves instances
/// until stdin closes.
pub fn run(opts: &ShimOpts, socket: &std::path::Path) -> Result<i32, ShimError> {
    let trace = Trace::new();
    let load = |msg: String| ShimError::Load {
        module: opts.module_shown(),
        msg,
    };
    let kind = BinaryKind::of_file(&opts.module).map_err(|e| load(e.to_string()))?;
    let component = || {
        load(
            "this is a component: wasmtime-pooled hosts core modules speaking frames \
             (serve components with wasmtime-jit or wasmtime-aot, protocol wasi-http)"
                .into(),
        )
    };
    if kind == BinaryKind::Component {
        return Err(component());
    }
    let mut config =
        lumos_wasm::wasmtime::config_interruptible(None, lumos_wasm::wasmtime::OPT_LEVEL)
            .map_err(|e| load(lumos_model::error_chain(&e)))?;
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(opts.memory_limit)));
    // The default, said: linear memories start as copy-on-write mappings of
    // the module's data image, not as copies.
    config.memory_init_cow(true);
    let engine = Engine::new(&config).map_err(|e| load(format!("{e:#}")))?;
    let (module, interruptible) = if kind == BinaryKind::Elf {
        // SAFETY (both): the file is a wasmtime artifact from the image we
        // verified by digest; wasmtime checks its header and engine
        // compatibility first.
        match unsafe { Module::deserialize_file(&engine, &opts.module) } {
            Ok(m) => (m, true),
            Err(first) => {
                // Precompiled without epoch interruption (wasmtime refuses
                // it in an engine with it): an engine without it.
                config.epoch_interruption(false);
                let plain = Engine::new(&config).map_err(|e| load(format!("{e:#}")))?;
                let m =
                    unsafe { Module::deserialize_file(&plain, &opts.module) }.map_err(|_| {
                        if lumos_wasm::binary::detect_file(&opts.module)
                            .is_ok_and(|b| b.is_component())
                        {
                            component()
                        } else {
                            load(format!("{first:#}"))
                        }
                    })?;
                (m, false)
            }
        }
    } else if kind.is_wasm() {
        (jit(&engine, opts).map_err(load)?, true)
    } else {
        return Err(load(
            "wasmtime-pooled needs a .cwasm (aot-wasmtime image) or a wasm module; \
             this is neither"
                .into(),
        ));
    };
    trace.mark("module loaded");
    // The engine the module loaded into (the epoch one, unless the .cwasm
    // lacks it): the other one's pool reservation is released here.
    drop(engine);
    let engine = module.engine().clone();
    let mut linker: Linker<State> = Linker::new(&engine);
    p1::add_to_linker_sync(&mut linker, |s| &mut s.wasi).map_err(|e| load(e.to_string()))?;
    crate::module::stub_wasmedge_sockets(&mut linker, &module).map_err(load)?;
    let pre = linker
        .instantiate_pre(&module)
        .map_err(|e| load(format!("link: {e:#}")))?;
    if module.get_export("_start").is_none() {
        return Err(load("no _start: not a WASI command module".into()));
    }
    trace.mark("linked");
    // A socket left by an earlier host of the same path is stale.
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket)
        .map_err(|e| load(format!("listen on {}: {e}", socket.display())))?;
    let host = Arc::new(Host {
        pre,
        opts: opts.clone(),
        trace,
        interruptible,
    });
    // The runner that started the host holds our stdin: its end is ours.
    std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(|| {
            let mut buf = [0u8; 64];
            while matches!(std::io::stdin().read(&mut buf), Ok(n) if n > 0) {}
            std::process::exit(0);
        })
        .map_err(|e| load(format!("thread: {e}")))?;
    let listener = Arc::new(listener);
    let (warmed, warm) = std::sync::mpsc::channel();
    for _ in 0..SPARE_THREADS {
        spawn_acceptor(&host, &listener, Some(warmed.clone()))
            .map_err(|e| load(format!("thread: {e}")))?;
    }
    // Listening once the waiting threads are warm (a guest that does not end
    // at EOF is not waited for past the deadline: the host listens anyway).
    let deadline = std::time::Instant::now() + WARM_UP_WAIT;
    for _ in 0..SPARE_THREADS {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if warm.recv_timeout(left).is_err() {
            break;
        }
    }
    trace.mark("threads warm");
    // The epoch ticker: each tick lets every running guest's deadline
    // callback look at its connection (see the module's doc).
    if interruptible {
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            })
            .map_err(|e| load(format!("thread: {e}")))?;
    }
    announce(opts, interruptible).map_err(|e| load(format!("stdout: {e}")))?;
    trace.mark("listening");
    // The acceptors serve; this thread only waits (stdin's end exits).
    loop {
        std::thread::park();
    }
}

/// Threads kept waiting in `accept`, so an instance never waits for a
/// thread to be made: an acceptor that takes a connection makes a new one
/// only when it was the last waiting, and goes back to waiting when its
/// instance ends.
const SPARE_THREADS: usize = 2;

/// How long the host waits for its threads' warm-up instances.
const WARM_UP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A thread that warms up (see [`Host::warm_up`]), says so on `warmed`,
/// then takes connections one after another.
fn spawn_acceptor(
    host: &Arc<Host>,
    listener: &Arc<UnixListener>,
    warmed: Option<std::sync::mpsc::Sender<()>>,
) -> std::io::Result<()> {
    use std::sync::atomic::Ordering;
    let (host, listener) = (host.clone(), listener.clone());
    WAITING.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name("instance".into())
        .spawn(move || {
            host.warm_up();
            if let Some(w) = warmed {
                let _ = w.send(());
            }
            loop {
                let conn = listener.accept();
                if WAITING.fetch_sub(1, Ordering::SeqCst) == 1 {
                    if let Err(e) = spawn_acceptor(&host, &listener, None) {
                        eprintln!("lumos-pool: no spare thread for the next instance: {e}");
                    }
                }
                match conn {
                    Ok((c, _)) => host.serve(c),
                    Err(e) => eprintln!("lumos-pool: accept: {e}"),
                }
                WAITING.fetch_add(1, Ordering::SeqCst);
            }
        });
    if spawned.is_err() {
        WAITING.fetch_sub(1, Ordering::SeqCst);
    }
    spawned.map(drop)
}

/// Ready: a `HELLO` frame on stdout (the runner reads it with its frame
/// reader, under its start deadline), saying whether its instances can be
/// interrupted.
fn announce(opts: &ShimOpts, interruptible: bool) -> std::io::Result<()> {
    use lumos_sdk::frame::{header, Kind, PROTOCOL_VERSION};
    let payload = serde_json::json!({
        "sdk": format!("{} pool", lumos_shim::WASMTIME_SHIM),
        "function": opts.name,
        "protocol": PROTOCOL_VERSION,
        "interruptible": interruptible,
    })
    .to_string();
    let mut out = std::io::stdout().lock();
    out.write_all(&header(Kind::Hello, payload.len() as u32))?;
    out.write_all(payload.as_bytes())?;
    out.flush()
}

impl Host {
    /// One throwaway instance on this thread before it takes connections:
    /// stdin empty (the frames guest says `HELLO`, reads EOF and returns),
    /// stdout discarded. What a first call pays once per process and per
    /// thread (wasmtime's per-thread signal stack and trap state, WASI's
    /// runtime, the first pool slot's mappings) is then paid here, as a
    /// node's long-running host has paid it before a request arrives,
    /// and not by the first timed instance.
    fn warm_up(&self) {
        let null = |write: bool| {
            std::fs::OpenOptions::new()
                .read(!write)
                .write(write)
                .open("/dev/null")
        };
        let (Ok(i), Ok(o)) = (null(false), null(true)) else {
            return;
        };
        if let Err(e) = self.instance(i, o, None) {
            eprintln!("lumos-pool: warm-up instance: {e}");
        }
    }

    /// One instance: its id, then `_start` over the connection until EOF or a trap.
    fn serve(&self, mut conn: UnixStream) {
        let mut len = [0u8; 1];
        let mut id = vec![];
        if conn.read_exact(&mut len).is_ok() {
            id.resize(len[0] as usize, 0);
            if conn.read_exact(&mut id).is_err() {
                return;
            }
        } else {
            return;
        }
        let id = String::from_utf8_lossy(&id).into_owned();
        let dup = || {
            conn.try_clone()
                .map(|s| std::fs::File::from(std::os::fd::OwnedFd::from(s)))
        };
        let (stdin, stdout) = match (dup(), dup()) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("lumos-pool[{id}]: the connection: {e}");
                return;
            }
        };
        let interrupted = Arc::new(AtomicBool::new(false));
        let watch = match conn.try_clone() {
            Ok(c) if self.interruptible => Some(Watch {
                conn: c,
                interrupted: interrupted.clone(),
            }),
            Ok(_) => None,
            Err(e) => {
                eprintln!("lumos-pool[{id}]: the connection: {e}");
                return;
            }
        };
        let t = std::time::Instant::now();
        // Only an end the runner did not cause is said (the runner reads it
        // when the connection ends under a request), and an interruption
        // (the runner waits for it after a request timed out, and quotes it).
        match self.instance(stdin, stdout, watch) {
            Err(_) if interrupted.load(Ordering::SeqCst) => eprintln!(
                "lumos-pool[{id}]: interrupted after {:.0} ms: the runner gave up on it \
                 (closed its connection) while the guest ran; its store is dropped, the \
                 host serves on",
                t.elapsed().as_secs_f64() * 1e3
            ),
            Ok(0) => {}
            Ok(code) => eprintln!("lumos-pool[{id}]: exited with status {code}"),
            // One line (a trap's wasm backtrace spans several), which the
            // runner quotes in the request's error.
            Err(e) => {
                let e = e.to_string();
                let lines: Vec<&str> = e.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                eprintln!("lumos-pool[{id}]: {}", lines.join(" | "));
            }
        }
        // The store is gone (its slots back in the pool): close the connection.
        let _ = conn.shutdown(std::net::Shutdown::Both);
    }

    /// A fresh store whose guest reads `stdin` and writes `stdout`, its
    /// `_start` run to its end, or until `watch` says the runner gave up.
    fn instance(
        &self,
        stdin: std::fs::File,
        stdout: std::fs::File,
        watch: Option<Watch>,
    ) -> Result<i32, ShimError> {
        let t = std::time::Instant::now();
        let opts = &self.opts;
        // The connection read and written directly, blocking (as module.rs
        // reads its stdin): no worker-thread hand-off per frame.
        let mut store =
            crate::module::store(self.pre.module().engine(), opts, stdin, Some(stdout))?;
        if let Some(w) = watch {
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| {
                Ok(if w.given_up() {
                    w.interrupted.store(true, Ordering::SeqCst);
                    UpdateDeadline::Interrupt
                } else {
                    UpdateDeadline::Continue(1)
                })
            });
        }
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| ShimError::Trap(format!("instantiate: {e:#}")))?;
        if self.trace.on() {
            eprintln!(
                "lumos-shim trace: instance store + instantiate: {:.3} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
        }
        crate::module::run_start(&instance, &mut store, opts)
    }
}

/// What an instance's deadline callback watches: its connection.
struct Watch {
    conn: UnixStream,
    /// Set when the callback interrupted the guest.
    interrupted: Arc<AtomicBool>,
}

impl Watch {
    /// Whether the runner has shut its side of the connection down (or
    /// closed it): `POLLRDHUP`/`POLLHUP` on the socket, asked with a zero
    /// timeout. Nothing is read: a request the guest has not read yet stays
    /// where it is. (std has no `poll`; libc's is the one call needed.)
    fn given_up(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.conn.as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd, the fd owned by `self.conn` for the call.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
    }
}

/// How much of a freed slot's linear memory (and of its tables) stays
/// resident for the slot's next instance, reset in place to the module's
/// initial contents instead of being given back with `madvise` and faulted
/// in again page by page. With `PAGEMAP_SCAN` (Linux 6.7 and later) only the
/// pages the instance dirtied are reset; on older kernels the lowest bytes
/// are. Measured (runtimes it figures::figures_pooled, release): the first
/// instance's `ready` 0.12-0.14 ms without, 0.06 ms with; a host that served
/// 100 instances keeps ~8 MiB more resident afterwards (the slots stay warm,
/// at most `max_unused_warm_slots`, 100 by default).
const KEEP_RESIDENT: usize = 1 << 20;

/// The pooling allocator sized for one core module: at most
/// [`POOL_INSTANCES`] instances at once, each with at most one memory (up
/// to the spec's memory limit, else 4 GiB) and a few tables; freed slots
/// keep [`KEEP_RESIDENT`] bytes resident.
fn pool(memory_limit: Option<u64>) -> PoolingAllocationConfig {
    let mut p = PoolingAllocationConfig::default();
    p.total_core_instances(POOL_INSTANCES)
        .total_memories(POOL_INSTANCES)
        .total_tables(POOL_INSTANCES * 4)
        .max_memories_per_module(1)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto);
    if let Some(m) = memory_limit {
        p.max_memory_size(usize::try_from(m).unwrap_or(usize::MAX).min(1 << 32));
    }
    p
}

/// Compiles the module with cranelift once, at host start.
#[cfg(feature = "jit")]
fn jit(engine: &Engine, opts: &ShimOpts) -> Result<Module, String> {
    Module::from_file(engine, &opts.module).map_err(|e| format!("{e:#}"))
}

#[cfg(not(feature = "jit"))]
fn jit(_: &Engine, _: &ShimOpts) -> Result<Module, String> {
    Err(format!(
        "{} was built without its `jit` feature (no cranelift): wasmtime-pooled \
         then runs .cwasm files (aot-wasmtime images) only",
        lumos_shim::WASMTIME_SHIM
    ))
}
