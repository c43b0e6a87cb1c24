//! HTTP mode on native targets: `std::net`, a thread per connection, the
//! handler on the calling thread; storage in Redis.

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

use super::conn::{serve_connection, HttpReply, HttpRequest};
use super::REDIS_URL_ENV;
use crate::error::{Error, Result};
use crate::request::Storage;

/// Binds `0.0.0.0:port`.
pub(super) fn listen(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("0.0.0.0", port))
}

/// Redis at `LUMOS_REDIS_URL`, connected on first use.
pub(super) fn storage() -> Box<dyn Storage> {
    Box::new(RedisStorage::new(
        std::env::var(REDIS_URL_ENV).ok().filter(|u| !u.is_empty()),
    ))
}

/// A request read on a connection's thread, and where its reply goes.
type Job = (HttpRequest, mpsc::SyncSender<HttpReply>);

/// Accepts connections forever, each read and written on its own thread;
/// `answer` runs here, one request at a time (the handler need not be
/// `Send`, and requests never overlap, as in frame mode).
pub(super) fn serve<A>(listener: TcpListener, mut answer: A) -> i32
where
    A: FnMut(HttpRequest) -> HttpReply,
{
    let (jobs, next) = mpsc::channel::<Job>();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => {
                    let jobs = jobs.clone();
                    std::thread::spawn(move || connection(stream, jobs));
                }
                Err(e) => eprintln!("lumos-sdk: accepting a connection failed: {e}"),
            }
        }
    });
    for (request, reply) in next {
        // A connection gone meanwhile drops its receiver: nothing to do.
        let _ = reply.send(answer(request));
    }
    0
}

fn connection(stream: TcpStream, jobs: mpsc::Sender<Job>) {
    // Answers go out in one write each; no Nagle wait behind a previous one.
    let _ = stream.set_nodelay(true);
    serve_connection(stream, |request| {
        let (tx, rx) = mpsc::sync_channel(1);
        jobs.send((request, tx)).ok()?;
        rx.recv().ok()
    });
}

/// Storage in a Redis server (`GET` / `SET`), connected on first use and
/// reconnected after a failure.
pub struct RedisStorage {
    url: Option<String>,
    connection: Option<redis::Connection>,
}

impl RedisStorage {
    /// Storage at `url` (`redis://host:port`); `None` makes every call fail with
    /// a message saying which variable to set.
    pub fn new(url: Option<String>) -> Self {
        RedisStorage {
            url,
            connection: None,
        }
    }

    fn connection(&mut self) -> Result<&mut redis::Connection> {
        let Some(url) = &self.url else {
            return Err(Error::Storage(format!(
                "no storage in HTTP mode: set {REDIS_URL_ENV}=redis://host:port"
            )));
        };
        if self.connection.is_none() {
            let client = redis::Client::open(url.as_str())
                .map_err(|e| Error::Storage(format!("{REDIS_URL_ENV}={url}: {e}")))?;
            let connection = client
                .get_connection()
                .map_err(|e| Error::Storage(format!("connecting to {url}: {e}")))?;
            self.connection = Some(connection);
        }
        Ok(self.connection.as_mut().expect("just connected"))
    }

    fn run<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Result<T> {
        let result = cmd.query(self.connection()?);
        result.map_err(|e| {
            self.connection = None;
            Error::Storage(format!("redis: {e}"))
        })
    }
}

impl Storage for RedisStorage {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        self.run(redis::cmd("GET").arg(key))
    }

    fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.run(redis::cmd("SET").arg(key).arg(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    #[test]
    fn redis_storage_without_url_is_a_clear_error() {
        let mut s = RedisStorage::new(None);
        let err = s.get("k").unwrap_err().to_string();
        assert!(err.contains(REDIS_URL_ENV), "{err}");
        assert!(s.put("k", b"v").is_err());
    }

    /// Reads one response (content-length framed): status and body.
    fn response(r: &mut BufReader<TcpStream>) -> (u16, Vec<u8>) {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut len = 0;
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        (status, body)
    }

    /// Two kept-alive connections open at once, served in turn by one
    /// handler that is not `Send`.
    #[test]
    fn serves_kept_alive_connections_side_by_side() {
        let listener = listen(0).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let not_send = std::rc::Rc::new(std::cell::Cell::new(0u32));
            serve(listener, move |req| {
                not_send.set(not_send.get() + 1);
                HttpReply {
                    status: 200,
                    content_type: "text/plain",
                    header: None,
                    body: format!("{} {}", not_send.get(), req.body.len()).into_bytes(),
                }
            })
        });
        let connect = || {
            let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            (s.try_clone().unwrap(), BufReader::new(s))
        };
        let (mut a, mut ra) = connect();
        let (mut b, mut rb) = connect();
        let post = |body: &str| {
            format!(
                "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        b.write_all(post("bb").as_bytes()).unwrap();
        assert_eq!(response(&mut rb), (200, b"1 2".to_vec()));
        a.write_all(post("a").as_bytes()).unwrap();
        assert_eq!(response(&mut ra), (200, b"2 1".to_vec()));
        b.write_all(post("").as_bytes()).unwrap();
        assert_eq!(response(&mut rb), (200, b"3 0".to_vec()));
    }
}
