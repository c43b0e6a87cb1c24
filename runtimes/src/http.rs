//! The `http` protocol: the instance serves `POST /` on a port; a small
//! HTTP/1.1 keep-alive client sends requests to it.

use crate::host::{Failure, Meta, Reply};
use crate::instance::{Exit, Process};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

pub struct HttpConn {
    pub proc: Process,
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl HttpConn {
    /// Waits until the port accepts connections (the instance is ready).
    pub fn wait_ready(
        mut proc: Process,
        port: u16,
        deadline: Instant,
    ) -> Result<HttpConn, Box<(Process, Failure)>> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(HttpConn {
                        proc,
                        addr,
                        stream: Some(BufReader::new(s)),
                    });
                }
                Err(_) => {
                    if let Some(e) = proc.exited().cloned() {
                        let msg = format!(
                            "exited before opening port {port}: {:?}: {}",
                            e.code,
                            proc.stderr_tail()
                        );
                        return Err(Box::new((proc, Failure::Start(msg))));
                    }
                    if Instant::now() >= deadline {
                        return Err(Box::new((proc, Failure::Timeout(Duration::ZERO))));
                    }
                    std::thread::sleep(Duration::from_micros(250));
                }
            }
        }
    }

    pub fn call(&mut self, body: &[u8], timeout: Duration) -> Result<Reply, Failure> {
        let deadline = Instant::now() + timeout;
        // One retry on a fresh connection if the kept-alive one was closed.
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect_timeout(&self.addr, timeout)
                    .map_err(|e| Failure::Io(e.to_string()))?;
                let _ = s.set_nodelay(true);
                self.stream = Some(BufReader::new(s));
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
        s.get_ref().set_read_timeout(Some(left)).map_err(io)?;
        s.get_ref().set_write_timeout(Some(left)).map_err(io)?;
        let head = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.get_mut().write_all(head.as_bytes()).map_err(io)?;
        s.get_mut().write_all(body).map_err(io)?;
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

    pub fn shutdown(mut self, _grace: Duration) -> Exit {
        self.stream = None;
        // An HTTP server does not exit on its own: stop it.
        self.proc.stop(Duration::ZERO)
    }
}
