//! The link between the functions and their storage server
//! (`--baas-bandwidth RATE`, `--baas-delay DURATION`).
//!
//! The runner (the storage calls' client: the host serves the functions'
//! `STORAGE_GET`/`STORAGE_PUT` from its store) reaches the storage server
//! through a network namespace it creates for the run:
//!
//! ```text
//!  runner (root namespace)                 namespace lumos-link-<pid>-<n>
//!  store client ── veth lmk…a 10.233.x.1/30 ══ veth lmk…b 10.233.x.2/30 ── relay ── storage server
//!                  tbf RATE (egress)          tbf RATE (egress)          (delay)   (Redis, or the
//!                                                                                 runner's memory)
//! ```
//!
//! Both veth ends carry a `tc … tbf` qdisc on their egress, so requests and
//! answers are each limited to RATE. The relay listens inside the namespace
//! (its socket is bound there by a thread that joined the namespace) and
//! forwards each connection to the storage server, holding every chunk for
//! the delay in each direction. The runner's own memory store, which lives
//! in the runner, is served to the link by [`StoreServer`] (a few Redis
//! commands over loopback), so both kinds of store sit behind the same link
//! and the runner talks to both with the same Redis client.
//!
//! The namespace, its veth pair and the qdiscs are a [`crate::netns::Netns`]
//! (the same mechanism as a bench's nodes): everything is removed when the
//! [`Link`] drops, and by the runner's guard (`ip netns delete`, `ip link
//! delete`) if the runner dies first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use lumos_model::{BaasLink, BaasLinkSpec};

use crate::guard::Guard;
use crate::netns::{Netns, NetnsError};
use crate::store::{RedisStore, Store, StoreError, REDIS_TIMEOUT};

pub use crate::netns::COMMAND_TIMEOUT;
/// Round trips each of the relay-overhead medians is taken over.
pub const OVERHEAD_SAMPLES: u32 = 15;

/// Why a link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Not root, `ip` or `tc` missing, a store a link cannot reach.
    #[error("{0}")]
    Refused(String),
    /// The namespace, the veth pair or a qdisc.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LinkError {
    let what = what.into();
    move |source| LinkError::Io { what, source }
}

/// Why this machine cannot make a link, in one line (None: it can): the
/// namespace, the veth pair and the qdiscs need root, `ip` and `tc`.
pub fn refusal() -> Option<String> {
    crate::netns::refusal("--baas-bandwidth/--baas-delay")
}

/// A link made for one run: namespace, veth pair, qdiscs and relay.
pub struct Link {
    /// Declared first: the relay stops before the namespace goes.
    relay: Relay,
    ns: Netns,
    record: BaasLink,
}

impl Link {
    /// Makes the namespace and the veth pair, starts the relay towards
    /// `upstream`, measures the relay's overhead (no limit, 0 ms), then sets
    /// the bandwidth limit and the delay of `spec`.
    pub fn up(
        spec: &BaasLinkSpec,
        upstream: SocketAddr,
        guard: &Arc<Guard>,
    ) -> Result<Link, LinkError> {
        if let Some(why) = refusal() {
            return Err(LinkError::Refused(why));
        }
        let mut ns = Netns::create("link", 'k', guard)?;
        let listener = ns.bind(ns.addr(), 0, "binding the relay")?;
        let relay = Relay::start(listener, upstream)?;
        let (direct, relayed) = measure_overhead(upstream, relay.addr)?;

        if let Some(rate) = spec.bandwidth {
            ns.limit(rate)?;
        }
        relay.set_delay(spec.delay);
        Ok(Link {
            relay,
            ns,
            record: BaasLink {
                bandwidth: spec.bandwidth,
                bandwidth_bits_per_sec: spec.bandwidth.map(|r| r.bits_per_sec()),
                delay_ms: spec.delay.as_secs_f64() * 1e3,
                relay_overhead_ms: relayed - direct,
                direct_rtt_ms: direct,
                relayed_rtt_ms: relayed,
                overhead_samples: OVERHEAD_SAMPLES,
            },
        })
    }

    /// Where the storage client connects: the relay, inside the namespace.
    pub fn addr(&self) -> SocketAddr {
        self.relay.addr
    }

    /// The network namespace's name.
    pub fn namespace(&self) -> &str {
        self.ns.name()
    }

    /// What the run records: the settings and the relay's overhead.
    pub fn record(&self) -> &BaasLink {
        &self.record
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Before the namespace goes (the fields drop after this).
        self.relay.stop();
    }
}

/// A small GET's round trip, median of [`OVERHEAD_SAMPLES`], straight to
/// `direct` and through `relayed`, in ms (one connection each, after one
/// untimed round trip).
fn measure_overhead(direct: SocketAddr, relayed: SocketAddr) -> Result<(f64, f64), LinkError> {
    let median = |addr: SocketAddr| -> Result<f64, LinkError> {
        let what = || format!("measuring the relay's overhead: a GET to {addr}");
        let mut s = TcpStream::connect_timeout(&addr, REDIS_TIMEOUT).map_err(io(what()))?;
        s.set_nodelay(true).map_err(io(what()))?;
        s.set_read_timeout(Some(REDIS_TIMEOUT))
            .map_err(io(what()))?;
        s.set_write_timeout(Some(REDIS_TIMEOUT))
            .map_err(io(what()))?;
        // A key nobody stores: the answer is one line, `$-1` (no such
        // key), or an error line (`-NOAUTH …` from a Redis with a password,
        // which is still one round trip to the server).
        let cmd = b"*2\r\n$3\r\nGET\r\n$22\r\nlumos:link:probe:empty\r\n";
        let mut r = BufReader::new(s.try_clone().map_err(io(what()))?);
        let mut reply = Vec::new();
        let mut v = Vec::new();
        for i in 0..=OVERHEAD_SAMPLES {
            reply.clear();
            let t = Instant::now();
            s.write_all(cmd).map_err(io(what()))?;
            r.read_until(b'\n', &mut reply).map_err(io(what()))?;
            let d = t.elapsed();
            if !(reply.starts_with(b"$-1\r\n") || reply.starts_with(b"-"))
                || !reply.ends_with(b"\r\n")
            {
                return Err(LinkError::Refused(format!(
                    "{}: unexpected answer {:?}",
                    what(),
                    String::from_utf8_lossy(&reply)
                )));
            }
            if i > 0 {
                v.push(d.as_secs_f64() * 1e3);
            }
        }
        lumos_stats::median(&lumos_stats::sorted(&v))
            .ok_or_else(|| LinkError::Refused(format!("{}: no samples", what())))
    };
    Ok((median(direct)?, median(relayed)?))
}

/// Live sockets of a server, shut down when it stops so every thread ends.
type Sockets = Arc<Mutex<Vec<TcpStream>>>;

fn track(sockets: &Sockets, s: &TcpStream) {
    if let Ok(c) = s.try_clone() {
        sockets.lock().unwrap_or_else(|e| e.into_inner()).push(c);
    }
}

/// Stops an accept loop: shutdown(2) on a listening socket wakes a blocked
/// accept(2) on Linux; then every connection is shut down.
fn stop_server(listener: &TcpListener, stopping: &AtomicBool, sockets: &Sockets) {
    stopping.store(true, Ordering::Release);
    // SAFETY: shutdown(2) on a socket we own.
    unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR) };
    for s in sockets.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        let _ = s.shutdown(Shutdown::Both);
    }
}

/// The delaying relay. netem is not in this kernel, so the delay is added
/// here: hand-written because it must hold each chunk for a set time in
/// each direction while later chunks keep flowing (a pipe, not a
/// store-and-wait), which no proxy crate we could use does; threads keep it
/// free of an async runtime the runner does not otherwise need. Each
/// direction of a connection is a reader, which stamps every chunk with the
/// time it may leave, and a writer, which sends the chunks in order once
/// their time has come.
struct Relay {
    addr: SocketAddr,
    listener: Arc<TcpListener>,
    delay_ns: Arc<AtomicU64>,
    stopping: Arc<AtomicBool>,
    sockets: Sockets,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(listener: TcpListener, upstream: SocketAddr) -> Result<Relay, LinkError> {
        let addr = listener.local_addr().map_err(io("the relay's address"))?;
        let listener = Arc::new(listener);
        let delay_ns = Arc::new(AtomicU64::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let sockets: Sockets = Default::default();
        let accept = {
            let (l, d, stop, socks) = (
                listener.clone(),
                delay_ns.clone(),
                stopping.clone(),
                sockets.clone(),
            );
            std::thread::Builder::new()
                .name("lumos-relay".into())
                .spawn(move || {
                    for conn in l.incoming() {
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                        let Ok(client) = conn else {
                            // e.g. out of descriptors: do not spin.
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        };
                        let (d, socks) = (d.clone(), socks.clone());
                        let _ = std::thread::Builder::new()
                            .name("lumos-relay-conn".into())
                            .spawn(move || relay_connection(client, upstream, d, socks));
                    }
                })
                .map_err(io("starting the relay thread"))?
        };
        Ok(Relay {
            addr,
            listener,
            delay_ns,
            stopping,
            sockets,
            accept: Some(accept),
        })
    }

    fn set_delay(&self, d: Duration) {
        self.delay_ns.store(d.as_nanos() as u64, Ordering::Release);
    }

    fn stop(&mut self) {
        stop_server(&self.listener, &self.stopping, &self.sockets);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

fn relay_connection(
    client: TcpStream,
    upstream: SocketAddr,
    delay: Arc<AtomicU64>,
    socks: Sockets,
) {
    let Ok(server) = TcpStream::connect_timeout(&upstream, REDIS_TIMEOUT) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    for s in [&client, &server] {
        let _ = s.set_nodelay(true);
        track(&socks, s);
    }
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let d2 = delay.clone();
    let up = std::thread::Builder::new()
        .name("lumos-relay-up".into())
        .spawn(move || pipe(c2, s2, d2));
    pipe(server, client, delay);
    if let Ok(h) = up {
        let _ = h.join();
    }
}

/// One direction: `from` to `to`, every chunk `delay` later than it was read.
fn pipe(from: TcpStream, to: TcpStream, delay: Arc<AtomicU64>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let Ok(from2) = from.try_clone() else { return };
    let writer = std::thread::Builder::new()
        .name("lumos-relay-write".into())
        .spawn(move || {
            let mut to = to;
            for (due, chunk) in rx {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if to.write_all(&chunk).is_err() {
                    let _ = from2.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    let Ok(writer) = writer else { return };
    let mut from = from;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                let due = Instant::now() + Duration::from_nanos(delay.load(Ordering::Acquire));
                if tx.send((due, buf[..k].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}

/// Serves a [`Store`] over loopback with the few Redis commands the
/// runner's client sends (PING, GET, SET; CLIENT and SELECT acknowledged),
/// so the runner's memory store can sit behind the link like a Redis.
/// Hand-written: it is a few lines of RESP, and no crate offers an
/// embeddable blocking Redis server.
pub struct StoreServer {
    addr: SocketAddr,
    listener: Arc<TcpListener>,
    stopping: Arc<AtomicBool>,
    sockets: Sockets,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl StoreServer {
    pub fn start(store: Arc<dyn Store>) -> Result<StoreServer, LinkError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(io("the memory store's loopback listener"))?;
        let addr = listener
            .local_addr()
            .map_err(io("the memory store's address"))?;
        let listener = Arc::new(listener);
        let stopping = Arc::new(AtomicBool::new(false));
        let sockets: Sockets = Default::default();
        let accept = {
            let (l, stop, socks) = (listener.clone(), stopping.clone(), sockets.clone());
            std::thread::Builder::new()
                .name("lumos-store-server".into())
                .spawn(move || {
                    for conn in l.incoming() {
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                        let Ok(c) = conn else {
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        };
                        track(&socks, &c);
                        let store = store.clone();
                        let _ = std::thread::Builder::new()
                            .name("lumos-store-conn".into())
                            .spawn(move || serve_resp(c, store.as_ref()));
                    }
                })
                .map_err(io("starting the memory store's server thread"))?
        };
        Ok(StoreServer {
            addr,
            listener,
            stopping,
            sockets,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for StoreServer {
    fn drop(&mut self) {
        stop_server(&self.listener, &self.stopping, &self.sockets);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Reads one RESP command (an array of bulk strings); None at EOF or on
/// anything else.
fn read_command(r: &mut impl BufRead) -> Option<Vec<Vec<u8>>> {
    fn line(r: &mut impl BufRead) -> Option<String> {
        let mut l = String::new();
        if r.read_line(&mut l).ok()? == 0 {
            return None;
        }
        Some(l.trim_end_matches(['\r', '\n']).to_string())
    }
    let n: usize = line(r)?.strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::with_capacity(n.min(16));
    for _ in 0..n {
        let len: usize = line(r)?.strip_prefix('$')?.parse().ok()?;
        let mut v = vec![0u8; len + 2];
        r.read_exact(&mut v).ok()?;
        v.truncate(len);
        args.push(v);
    }
    Some(args)
}

fn serve_resp(conn: TcpStream, store: &dyn Store) {
    let _ = conn.set_nodelay(true);
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut r = BufReader::with_capacity(64 << 10, conn);
    while let Some(args) = read_command(&mut r) {
        let name = args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
            .unwrap_or_default();
        let reply: Vec<u8> = match (name.as_str(), args.len()) {
            ("PING", _) => b"+PONG\r\n".to_vec(),
            ("CLIENT" | "SELECT", _) => b"+OK\r\n".to_vec(),
            ("GET", 2) => match store.get(&String::from_utf8_lossy(&args[1])) {
                Ok(Some(v)) => {
                    let mut b = format!("${}\r\n", v.len()).into_bytes();
                    b.extend_from_slice(&v);
                    b.extend_from_slice(b"\r\n");
                    b
                }
                Ok(None) => b"$-1\r\n".to_vec(),
                Err(e) => format!("-ERR {e}\r\n").into_bytes(),
            },
            ("SET", 3) => match store.put(&String::from_utf8_lossy(&args[1]), &args[2]) {
                Ok(()) => b"+OK\r\n".to_vec(),
                Err(e) => format!("-ERR {e}\r\n").into_bytes(),
            },
            _ => format!("-ERR unknown command {name:?}\r\n").into_bytes(),
        };
        if out.write_all(&reply).is_err() {
            return;
        }
    }
}

/// The store behind a link, and what keeps the link up.
pub struct LinkedStore {
    pub store: Arc<dyn Store>,
    /// Declared before `link`: the store's connections close first.
    pub link: Link,
    /// The runner's memory served to the link (None for a Redis).
    pub server: Option<StoreServer>,
}

/// Opens the store named by `--baas` (None or `memory`: the runner's own
/// memory, served by a [`StoreServer`]) behind a new link.
pub fn open_store(
    baas: Option<&str>,
    spec: &BaasLinkSpec,
    guard: &Arc<Guard>,
) -> Result<LinkedStore, LinkError> {
    let (upstream, described, server, info) = match baas {
        None | Some("memory") => {
            let server = StoreServer::start(Arc::new(crate::store::MemoryStore::new()))?;
            let info: redis::ConnectionInfo = format!("redis://{}", server.addr())
                .as_str()
                .into_connection_info_or_refuse()?;
            (server.addr(), "memory".to_string(), Some(server), info)
        }
        Some(url) if url.starts_with("redis://") => {
            // Shown in errors and results without its password.
            let shown = crate::store::redacted(url);
            let info = url.into_connection_info_or_refuse()?;
            let redis::ConnectionAddr::Tcp(host, port) = &info.addr else {
                return Err(LinkError::Refused(format!(
                    "--baas {shown}: a link reaches Redis over TCP (redis://HOST:PORT)"
                )));
            };
            let upstream = resolve(host, *port).map_err(|e| {
                LinkError::Refused(format!("--baas {shown}: cannot resolve {host}: {e}"))
            })?;
            (upstream, shown, None, info)
        }
        Some(other) => {
            return Err(LinkError::Refused(format!(
            "--baas {}: a link reaches Redis over TCP (redis://HOST:PORT) or the runner's memory",
            crate::store::redacted(other)
        )))
        }
    };
    let link = Link::up(spec, upstream, guard)?;
    let relay = link.addr();
    let info = redis::ConnectionInfo {
        addr: redis::ConnectionAddr::Tcp(relay.ip().to_string(), relay.port()),
        redis: info.redis,
    };
    let store = RedisStore::connect_info(info, format!("redis://{relay}"), described)?;
    Ok(LinkedStore {
        store: Arc::new(store),
        link,
        server,
    })
}

trait IntoInfo {
    fn into_connection_info_or_refuse(self) -> Result<redis::ConnectionInfo, LinkError>;
}

impl IntoInfo for &str {
    fn into_connection_info_or_refuse(self) -> Result<redis::ConnectionInfo, LinkError> {
        use redis::IntoConnectionInfo;
        self.into_connection_info().map_err(|source| {
            StoreError::Url {
                url: crate::store::redacted(self),
                source,
            }
            .into()
        })
    }
}

/// HOST:PORT to an address, within [`REDIS_TIMEOUT`] (a name lookup can hang).
fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let (tx, rx) = mpsc::channel();
    let h = host.to_string();
    std::thread::Builder::new()
        .name("lumos-resolve".into())
        .spawn(move || {
            let _ = tx.send((h.as_str(), port).to_socket_addrs().map(|mut a| a.next()));
        })?;
    match rx.recv_timeout(REDIS_TIMEOUT) {
        Ok(Ok(Some(a))) => Ok(a),
        Ok(Ok(None)) => Err(std::io::Error::other("no address")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other(format!(
            "no answer within {} s",
            REDIS_TIMEOUT.as_secs()
        ))),
    }
}
