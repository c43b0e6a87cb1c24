//! The `http` protocol: the instance serves `POST /` on a port; a small
//! HTTP/1.1 keep-alive client sends requests to it.
//!
//! The client adds nothing to what it measures: it sends each request in one
//! segment (head and body in one write, TCP_NODELAY) and acknowledges every
//! segment at once (TCP_QUICKACK, re-armed before and after each read, since
//! the kernel drops back to delayed ACKs by itself). Without the prompt ACKs
//! a server that writes a response in several small segments with Nagle's
//! algorithm on (hyper_wasi on WasmEdge does) waits for the ACK of the first
//! segment before sending the next, and every kept-alive request measures
//! the 40 ms delayed-ACK timer instead of the handler.

use crate::host::{Failure, Meta, Reply};
use crate::instance::{Exit, Process};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A connection that asks the kernel for an immediate ACK around every read.
struct Conn(TcpStream);

impl Conn {
    fn new(s: TcpStream) -> BufReader<Conn> {
        let _ = s.set_nodelay(true);
        let c = Conn(s);
        c.quick_ack();
        BufReader::new(c)
    }

    /// Leaves delayed-ACK mode now: a pending ACK goes out, and so do the
    /// ACKs of the next segments (until the kernel re-enters the mode).
    fn quick_ack(&self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let one: libc::c_int = 1;
            // SAFETY: setsockopt on a socket this struct owns, with a c_int
            // value of the size given. A failure only costs the fast ACK.
            unsafe {
                libc::setsockopt(
                    self.0.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_QUICKACK,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.quick_ack();
        let n = self.0.read(buf);
        self.quick_ack();
        n
    }
}

/// Whether something accepts connections on loopback `port` now.
pub fn listening(port: u16) -> bool {
    listening_at(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Whether something accepts connections at `addr` now.
pub fn listening_at(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The last bytes a pipe carried, read to its end by a thread of its own.
#[derive(Clone, Default)]
struct OutputTail {
    tail: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u8>>>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl OutputTail {
    const KEEP: usize = 4096;

    fn drain(pipe: Option<impl Read + Send + 'static>) -> OutputTail {
        let tail = OutputTail::default();
        if let Some(mut pipe) = pipe {
            let t = tail.clone();
            let _ = std::thread::Builder::new()
                .name("http-stdout".into())
                .spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n @ 1..) = pipe.read(&mut buf) {
                        let mut q = t.tail.lock().unwrap_or_else(|e| e.into_inner());
                        q.extend(&buf[..n]);
                        let over = q.len().saturating_sub(Self::KEEP);
                        q.drain(..over);
                    }
                    t.done.store(true, std::sync::atomic::Ordering::Release);
                });
        } else {
            tail.done.store(true, std::sync::atomic::Ordering::Release);
        }
        tail
    }

    /// What the pipe carried so far; once the writer is gone (`ended`),
    /// waits a little for the reader to reach the end.
    fn text(&self, ended: bool) -> String {
        let until = Instant::now() + Duration::from_millis(200);
        while ended
            && !self.done.load(std::sync::atomic::Ordering::Acquire)
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        let q = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&q.iter().copied().collect::<Vec<u8>>()).into_owned()
    }
}

/// The last few non-empty lines of an instance's stdout and stderr, on one line.
fn last_lines(stdout: &str, stderr: &str) -> String {
    let lines: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return "(none)".into();
    }
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// An HTTP/1.1 keep-alive client of one server: `POST PATH` with a `Host`
/// header, one request at a time on one connection (reopened when the
/// server closes it). Used for the instances the runner starts
/// ([`HttpConn`]) and for deployed services (`bench --endpoint`,
/// [`crate::endpoint`]).
pub struct Client {
    addr: SocketAddr,
    /// The `Host` header sent.
    host: String,
    /// The request target (`/` for an instance).
    path: String,
    stream: Option<BufReader<Conn>>,
}

impl Client {
    /// A client of `addr`; nothing is connected until the first call.
    pub fn new(addr: SocketAddr, host: &str, path: &str) -> Client {
        Client {
            addr,
            host: host.to_string(),
            path: path.to_string(),
            stream: None,
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops the kept-alive connection: the next call opens a new one.
    pub fn disconnect(&mut self) {
        self.stream = None;
    }

    /// Sends `body`, returns the reply. A kept-alive connection the server
    /// closed is reopened once; a new connection that fails is an error
    /// ([`Failure::Io`], its message the OS's: "Connection refused", …).
    pub fn call(&mut self, body: &[u8], timeout: Duration) -> Result<Reply, Failure> {
        let deadline = Instant::now() + timeout;
        // One retry on a fresh connection if the kept-alive one was closed.
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect_timeout(&self.addr, timeout).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::TimedOut {
                        Failure::Timeout(timeout)
                    } else {
                        Failure::Io(e.to_string())
                    }
                })?;
                self.stream = Some(Conn::new(s));
            }
            match self.exchange(body, deadline) {
                Ok(r) => return Ok(r),
                Err(Failure::Io(_)) if attempt == 0 => {
                    self.stream = None;
                }
                Err(e) => {
                    self.stream = None;
                    return Err(e);
                }
            }
        }
        unreachable!()
    }

    fn exchange(&mut self, body: &[u8], deadline: Instant) -> Result<Reply, Failure> {
        let s = self.stream.as_mut().unwrap();
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let io = |e: std::io::Error| {
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                Failure::Timeout(left)
            } else {
                Failure::Io(e.to_string())
            }
        };
        s.get_ref().0.set_read_timeout(Some(left)).map_err(io)?;
        s.get_ref().0.set_write_timeout(Some(left)).map_err(io)?;
        // Head and body in one write: one segment for a small request.
        let mut req = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.path,
            self.host,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        s.get_mut().0.write_all(&req).map_err(io)?;
        s.get_ref().quick_ack();
        let mut line = String::new();
        if s.read_line(&mut line).map_err(io)? == 0 {
            return Err(Failure::Io("connection closed".into()));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Failure::Protocol(format!("bad HTTP status line {line:?}")))?;
        let mut len: Option<usize> = None;
        let mut chunked = false;
        let mut meta: Option<Meta> = None;
        let mut close = false;
        loop {
            line.clear();
            s.read_line(&mut line).map_err(io)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.parse().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "x-lumos-meta" => meta = serde_json::from_str(v).ok(),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                s.read_line(&mut line).map_err(io)?;
                let n = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| Failure::Protocol("bad chunk size".into()))?;
                let mut chunk = vec![0; n + 2];
                s.read_exact(&mut chunk).map_err(io)?;
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = len {
            out.resize(n, 0);
            s.read_exact(&mut out).map_err(io)?;
        } else {
            s.read_to_end(&mut out).map_err(io)?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        if status == 200 {
            Ok(Reply::Ok { body: out, meta })
        } else {
            Ok(Reply::FunctionError {
                kind: format!("http-{status}"),
                message: String::from_utf8_lossy(&out).into_owned(),
                meta,
            })
        }
    }
}

/// An instance the runner started that serves HTTP, and the client of it.
pub struct HttpConn {
    pub proc: Process,
    client: Client,
}

impl HttpConn {
    /// Waits until `addr` (loopback, or the address of the network
    /// namespace the instance runs in) accepts connections (the instance is
    /// ready).
    ///
    /// The instance's stdout is read from here on (nothing else reads it for
    /// `http`): a server that logs every request to stdout would otherwise
    /// stop once the pipe is full. Its last lines go into a readiness failure.
    pub fn wait_ready(
        mut proc: Process,
        addr: SocketAddr,
        fixed: bool,
        deadline: Instant,
    ) -> Result<HttpConn, Box<(Process, Failure)>> {
        let started = Instant::now();
        let stdout = OutputTail::drain(proc.stdout.take());
        let port = addr.port();
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(s) => {
                    let mut client = Client::new(addr, &addr.ip().to_string(), "/");
                    client.stream = Some(Conn::new(s));
                    return Ok(HttpConn { proc, client });
                }
                Err(_) => {
                    if let Some(e) = proc.exited().cloned() {
                        let msg = format!(
                            "exited ({}) before opening port {port}; its last output: {}",
                            match (e.code, e.signal) {
                                (Some(c), _) => format!("status {c}"),
                                (None, Some(sig)) => format!("signal {sig}"),
                                _ => "no status".into(),
                            },
                            last_lines(&stdout.text(true), &proc.stderr_tail())
                        );
                        return Err(Box::new((proc, Failure::Start(msg))));
                    }
                    if Instant::now() >= deadline {
                        let msg = format!(
                            "nothing listened on port {port} ({}) within {:.1} s; its last output: {}",
                            if fixed { "its fixed port, metadata `port`" } else { "given in $PORT" },
                            started.elapsed().as_secs_f64(),
                            last_lines(&stdout.text(false), &proc.stderr_tail())
                        );
                        return Err(Box::new((proc, Failure::Start(msg))));
                    }
                    std::thread::sleep(Duration::from_micros(250));
                }
            }
        }
    }

    pub fn call(&mut self, body: &[u8], timeout: Duration) -> Result<Reply, Failure> {
        self.client.call(body, timeout)
    }

    /// Where the instance serves.
    pub fn addr(&self) -> SocketAddr {
        self.client.addr
    }

    pub fn shutdown(mut self, _grace: Duration) -> Exit {
        self.client.disconnect();
        // An HTTP server does not exit on its own: stop it.
        self.proc.stop(Duration::ZERO)
    }
}
