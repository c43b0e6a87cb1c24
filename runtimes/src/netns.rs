//! A named network namespace joined to the root namespace by a veth pair:
//! the one mechanism behind the storage link ([`crate::link`]), the nodes a
//! bench places functions on, and the containerd sandbox's per-instance
//! network.
//!
//! ```text
//!  root namespace                           namespace lumos-<kind>-<pid>-<n>
//!  veth lm<k>…a 10.233.x.1/30 ══════════════ veth lm<k>…b 10.233.x.2/30, lo up
//!               tbf RATE (egress, optional)               tbf RATE (egress, optional)
//! ```
//!
//! The /30 is chosen from 10.233.0.0/16 among those no interface of the root
//! namespace uses, under the file lock [`SUBNET_LOCK`] (so runs side by side
//! never pick the same one). [`Netns::limit`] puts a `tc … tbf` qdisc on
//! both ends' egress, so traffic each way is limited to the rate.
//!
//! Everything is removed when the [`Netns`] drops, and by the runner's guard
//! (`ip netns delete`, `ip link delete`) if the runner dies first: deleting
//! the namespace deletes its veth end, which deletes the pair.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lumos_model::Rate;

use crate::guard::{Guard, Step};

/// The deadline of each `ip` and `tc` command (they answer in milliseconds).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The lock runs take while they choose a subnet and put it on their veth.
pub const SUBNET_LOCK: &str = "/run/lumos-link.lock";

/// Why a namespace could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// Not root, `ip` or `tc` missing.
    #[error("{0}")]
    Refused(String),
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("`{command}` did not finish within {} s", COMMAND_TIMEOUT.as_secs())]
    Timeout { command: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no free 10.233.0.0/16 subnet for a veth pair")]
    NoSubnet,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetnsError {
    let what = what.into();
    move |source| NetnsError::Io { what, source }
}

/// Why this machine cannot make a namespace, in one line (None: it can):
/// the namespace, the veth pair and the qdiscs need root, `ip` and `tc`.
/// `who` names what asks (a flag), e.g. `--baas-bandwidth/--baas-delay`.
pub fn refusal(who: &str) -> Option<String> {
    if !crate::node::is_root() {
        return Some(format!(
            "{who} create a network namespace, a veth pair and tc qdiscs: they need root"
        ));
    }
    for p in ["ip", "tc"] {
        if lumos_services::find_program(p).is_none() {
            return Some(format!(
                "{who} need `{p}`, which is not installed (apt-get install iproute2)"
            ));
        }
    }
    None
}

/// Runs a command to its end within [`COMMAND_TIMEOUT`]; a non-zero exit is
/// an error carrying its stderr.
pub fn run(argv: &[String]) -> Result<String, NetnsError> {
    let command = argv.join(" ");
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(format!("running `{command}`")))?;
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child
            .try_wait()
            .map_err(io(format!("waiting for `{command}`")))?
        {
            Some(s) => break s,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NetnsError::Timeout { command });
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    if !status.success() {
        return Err(NetnsError::Command {
            command,
            status: status.to_string(),
            stderr: err.trim().replace('\n', "; "),
        });
    }
    Ok(out)
}

pub(crate) fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// A number per namespace made by this process, for unique names.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The two addresses of subnet `k` of 10.233.0.0/16 (a /30 each).
fn subnet(k: u32) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(10, 233, 0, 0)) + k * 4;
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

/// A network namespace and its veth pair to the root namespace.
pub struct Netns {
    name: String,
    veth: String,
    peer: String,
    host: Ipv4Addr,
    addr: Ipv4Addr,
    guard: Arc<Guard>,
    token: u64,
    rate: Option<Rate>,
}

/// The names process `pid` gives its `n`th namespace of `kind`: the
/// namespace `lumos-<kind>-<pid>-<n>` and its veth pair (`lm<letter>…a` in the
/// root namespace, `lm<letter>…b` inside).
pub fn names(kind: &str, letter: char, pid: u32, n: u64) -> (String, String, String) {
    let name = format!("lumos-{kind}-{pid}-{n}");
    // Interface names have at most 15 bytes: 3 + 11 + 1. The pid (at
    // most 22 bits, pid_max) and 20 bits of the count: a million pairs
    // of one process alive at once before a name repeats (containerd
    // makes one per instance).
    let tag = format!("{:x}", (u64::from(pid) << 20) | (n & 0xf_ffff));
    (
        name,
        format!("lm{letter}{tag}a"),
        format!("lm{letter}{tag}b"),
    )
}

impl Netns {
    /// Makes namespace `lumos-<kind>-<pid>-<n>` and its veth pair
    /// (`lm<letter>…a` in the root namespace, `lm<letter>…b` inside), with
    /// a free /30 and both ends (and the namespace's loopback) up.
    /// Registered with `guard` before anything exists; a failure half-way
    /// removes what was made.
    pub fn create(kind: &str, letter: char, guard: &Arc<Guard>) -> Result<Netns, NetnsError> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let (name, veth, peer) = names(kind, letter, pid, n);
        let token = guard.add(vec![
            Step::Run(argv(&["ip", "netns", "delete", &name])),
            Step::Run(argv(&["ip", "link", "delete", &veth])),
        ]);
        // From here on, dropping `ns` removes what exists.
        let mut ns = Netns {
            name,
            veth,
            peer,
            host: Ipv4Addr::UNSPECIFIED,
            addr: Ipv4Addr::UNSPECIFIED,
            guard: guard.clone(),
            token,
            rate: None,
        };
        // Runs side by side choose their subnets one at a time: the lock is
        // held until this namespace's address is on its veth (visible to
        // the next).
        let subnets = lock_subnets()?;
        let (near, far) = addresses(pid, n)?;
        let (name, veth, peer) = (&ns.name, &ns.veth, &ns.peer);
        run(&argv(&["ip", "netns", "add", name]))?;
        run(&argv(&[
            "ip", "link", "add", veth, "type", "veth", "peer", "name", peer, "netns", name,
        ]))?;
        run(&argv(&[
            "ip",
            "addr",
            "add",
            &format!("{near}/30"),
            "dev",
            veth,
        ]))?;
        drop(subnets);
        run(&argv(&["ip", "link", "set", veth, "up"]))?;
        run(&argv(&[
            "ip",
            "-n",
            name,
            "addr",
            "add",
            &format!("{far}/30"),
            "dev",
            peer,
        ]))?;
        run(&argv(&["ip", "-n", name, "link", "set", peer, "up"]))?;
        run(&argv(&["ip", "-n", name, "link", "set", "lo", "up"]))?;
        ns.host = near;
        ns.addr = far;
        Ok(ns)
    }

    /// Limits both directions of the veth pair to `rate` (a `tc … tbf`
    /// qdisc on each end's egress).
    pub fn limit(&mut self, rate: Rate) -> Result<(), NetnsError> {
        let bytes = rate.bytes_per_sec();
        // tbf: `burst` is the bucket (10 ms of the rate, at least two
        // full frames); `limit` the queue: 16 MiB (or 100 ms of the
        // rate if more), more than TCP keeps queued per connection
        // (tcp_limit_output_bytes), so a transfer meets the rate
        // instead of losing packets at the queue: a loss at the end of
        // a transfer costs a retransmission timeout (200 ms or more) and
        // made the figures noisy (390 of 2688 packets dropped with a
        // 100 ms queue at 10mbit).
        let burst = ((bytes / 100.0) as u64).max(3028).to_string();
        let limit = ((bytes / 10.0) as u64).max(16 << 20).to_string();
        let bits = format!("{}bit", rate.bits_per_sec());
        for (netns, dev) in [(None, &self.veth), (Some(&self.name), &self.peer)] {
            let mut a = argv(&["tc"]);
            if let Some(netns) = netns {
                a.extend(argv(&["-n", netns]));
            }
            a.extend(argv(&[
                "qdisc", "add", "dev", dev, "root", "tbf", "rate", &bits, "burst", &burst, "limit",
                &limit,
            ]));
            run(&a)?;
        }
        self.rate = Some(rate);
        Ok(())
    }

    /// The namespace's name (`ip netns` lists it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/NAME`, the file that holds the namespace (for setns(2),
    /// an OCI config's network namespace path, `ctr run --with-ns`).
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// The address inside the namespace (its veth end): where a server
    /// listening in the namespace is reached from the root namespace.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The root namespace's end of the pair.
    pub fn host_addr(&self) -> Ipv4Addr {
        self.host
    }

    /// The rate set by [`Netns::limit`], if any.
    pub fn rate(&self) -> Option<Rate> {
        self.rate
    }

    /// Runs `f` on a short-lived thread that joined the namespace (setns(2)
    /// moves only the calling thread); what `f` makes there (a socket)
    /// stays in the namespace.
    pub fn run_in<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, NetnsError> {
        run_in(&self.path(), what, f)
    }

    /// A listener bound to `ip:port` inside the namespace.
    pub fn bind(&self, ip: Ipv4Addr, port: u16, what: &str) -> Result<TcpListener, NetnsError> {
        self.run_in(what, move || TcpListener::bind((ip, port)))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run(&argv(&["ip", "netns", "delete", &self.name]));
        // Gone with the namespace's end; this only matters if the pair was
        // made but not moved.
        if run(&argv(&["ip", "link", "show", &self.veth])).is_ok() {
            let _ = run(&argv(&["ip", "link", "delete", &self.veth]));
        }
        self.guard.done(self.token);
    }
}

/// Runs `f` on a thread that joined the network namespace held by `path`.
pub fn run_in<T: Send + 'static>(
    path: &std::path::Path,
    what: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, NetnsError> {
    let what = format!("{what} in network namespace {}", path.display());
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("lumos-netns".into())
        .spawn(move || -> std::io::Result<T> {
            enter(&path)?;
            f()
        })
        .map_err(io(what.clone()))?
        .join()
        .map_err(|_| NetnsError::Refused(format!("{what}: the thread panicked")))?
        .map_err(io(what))
}

/// Moves the calling thread into the network namespace held by `path`
/// (also usable in a child between fork and exec: open(2) and setns(2) only,
/// though the path's allocation must be made before the fork).
pub fn enter(path: &std::path::Path) -> std::io::Result<()> {
    let f = std::fs::File::open(path)?;
    // SAFETY: setns(2) on an open namespace file; only this thread moves.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A /30 of 10.233.0.0/16 no interface of the root namespace uses.
fn addresses(pid: u32, n: u64) -> Result<(Ipv4Addr, Ipv4Addr), NetnsError> {
    let used = run(&argv(&["ip", "-o", "-4", "addr", "show"]))?;
    let start = (pid.wrapping_mul(64) ^ (n as u32)) % 16384;
    (0..16384)
        .map(|i| subnet((start + i) % 16384))
        .find(|(a, b)| {
            !used.contains(&format!("inet {a}/")) && !used.contains(&format!("inet {b}/"))
        })
        .ok_or(NetnsError::NoSubnet)
}

/// flock(2) on [`SUBNET_LOCK`] (released when the file closes), waited for
/// at most [`COMMAND_TIMEOUT`].
fn lock_subnets() -> Result<std::fs::File, NetnsError> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(SUBNET_LOCK)
        .map_err(io(format!("opening {SUBNET_LOCK}")))?;
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        // SAFETY: flock(2) on a file we hold open.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(f);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(io(format!("locking {SUBNET_LOCK}"))(e));
        }
        if Instant::now() >= deadline {
            return Err(NetnsError::Timeout {
                command: format!("flock {SUBNET_LOCK}"),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
