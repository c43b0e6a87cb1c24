//! Faulty servers on loopback for deadline tests: real TCP listeners that
//! misbehave the way a stuck registry, token service or redis does. Each
//! runs in threads of the test process and stops (closing every connection)
//! when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How a [`Faulty`] server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Accepts connections and never sends a byte.
    Silent,
    /// Sends `HTTP/1.1 200 OK`, then one more header line every second, forever.
    TrickleHeaders,
    /// Sends complete headers (`Content-Length: 1000000`), then one body
    /// byte every second.
    TrickleBody,
    /// Sends complete headers (`Content-Length: 1000000`) and 10 body
    /// bytes, then closes the connection.
    Truncated,
    /// Answers each `GET` with `200 OK` and an empty body (the `/v2/` probe
    /// passes, the connection stays open for reuse); on any other request it
    /// stops reading and never answers, so an upload fills the socket buffers.
    GetOnly,
}

/// A misbehaving server on a free loopback port, stopped when dropped.
pub struct Faulty {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Faulty {
    /// Starts a server misbehaving as `fault`.
    pub fn start(fault: Fault) -> Faulty {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (s, a) = (stop.clone(), accepted.clone());
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        a.fetch_add(1, Ordering::Relaxed);
                        let s = s.clone();
                        workers.push(std::thread::spawn(move || serve(conn, fault, &s)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        Faulty {
            addr: format!("127.0.0.1:{port}"),
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

fn serve(mut conn: TcpStream, fault: Fault, stop: &AtomicBool) {
    conn.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    if fault == Fault::GetOnly {
        return get_only(conn, stop);
    }
    let mut buf = [0u8; 4096];
    let mut tick = 0u64;
    let mut sent_head = false;
    while !stop.load(Ordering::Relaxed) {
        // Swallow whatever the client sends (request, upload).
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(_) => {}
        }
        tick += 1;
        if !tick.is_multiple_of(10) {
            continue; // one step a second (10 reads of 100 ms)
        }
        let out: Vec<u8> = match fault {
            Fault::Silent | Fault::GetOnly => continue,
            Fault::TrickleHeaders if !sent_head => b"HTTP/1.1 200 OK\r\n".to_vec(),
            Fault::TrickleHeaders => format!("X-Trickle-{tick}: x\r\n").into_bytes(),
            Fault::TrickleBody if !sent_head => {
                b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000000\r\n\r\n{".to_vec()
            }
            Fault::TrickleBody => b" ".to_vec(),
            Fault::Truncated => {
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n0123456789",
                );
                return;
            }
        };
        sent_head = true;
        if conn.write_all(&out).is_err() {
            return;
        }
    }
}

fn get_only(mut conn: TcpStream, stop: &AtomicBool) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !stop.load(Ordering::Relaxed) {
        match conn.read(&mut byte) {
            Ok(0) => return,
            Ok(_) => head.push(byte[0]),
            Err(_) => continue,
        }
        if !head.ends_with(b"\r\n\r\n") {
            continue;
        }
        if !head.starts_with(b"GET ") {
            // Deaf from here on: neither read nor answer, until stopped.
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            return;
        }
        head.clear();
        if conn
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
