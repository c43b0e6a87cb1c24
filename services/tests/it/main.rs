//! lumos-services against the real programs: each starts, answers on its
//! port, and is gone after it is dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lumos_services::{Redis, Registry, RegistryOptions};

fn ask(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[test]
fn registry_answers_v2_and_stops_by_pid() {
    let r = Registry::start(&RegistryOptions::default()).unwrap();
    assert!(r.addr.starts_with("127.0.0.1:") && r.port > 0, "{}", r.addr);
    let answer = ask(
        r.port,
        b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let pid = r.pid();
    assert!(alive(pid));
    drop(r);
    assert!(!alive(pid), "registry {pid} still runs after drop");
}

#[test]
fn registry_with_basic_auth_refuses_anonymous() {
    let r = Registry::start(&RegistryOptions {
        htpasswd: Some(("u".into(), "p".into())),
        ..Default::default()
    })
    .unwrap();
    let answer = ask(
        r.port,
        b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[test]
fn registry_with_tls_says_its_port_and_answers_https_only() {
    let r = Registry::start(&RegistryOptions::tls()).unwrap();
    assert!(r.port > 0, "{} (port {})", r.addr, r.port);
    assert_eq!(r.addr, format!("127.0.0.1:{}", r.port));
    let tls = r.tls.as_ref().expect("TLS files");
    assert!(tls.ca.is_file(), "{}", tls.ca.display());
    // Plain HTTP to the TLS port is refused by the registry.
    let answer = ask(
        r.port,
        b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.0 400"), "{answer}");
}

#[test]
fn redis_answers_ping() {
    let r = Redis::start().unwrap();
    assert!(ask(r.port, b"PING\r\n").starts_with("+PONG"));
    assert!(r.url().starts_with("redis://127.0.0.1:"));
}
