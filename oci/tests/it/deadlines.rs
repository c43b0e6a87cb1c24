//! Every registry operation ends by its deadline, against real faulty
//! servers on loopback (a port that accepts and never answers, one that
//! trickles a header line a second, one that trickles the body, one that
//! closes half-way), with one line naming the host and what was waited for.
//! Before: 300 s of read timeout per attempt, 2 schemes, 5 attempts.

use std::time::{Duration, Instant};

use crate::support::faulty::{Fault, Faulty};
use crate::support::*;
use lumos_oci::reference::Reference;
use lumos_oci::registry::pull::fetch_blob;
use lumos_oci::registry::{pull, Client, ClientOptions};
use lumos_oci::{Descriptor, Digest, Error, Layout};

/// Many retries and a long backoff: only the deadline can end these calls early.
fn opts(timeout_secs: u64) -> ClientOptions {
    ClientOptions {
        retries: 1000,
        backoff: Duration::from_millis(300),
        timeout: Duration::from_secs(timeout_secs),
        ..fast_client()
    }
}

/// Far below the 300 s a single attempt could take before; not a speed target.
const HANG: Duration = Duration::from_secs(60);

#[test]
fn the_v2_probe_of_a_port_that_never_answers_ends_at_the_deadline() {
    let server = Faulty::start(Fault::Silent);
    let t = Instant::now();
    let err = Client::connect(&server.addr, opts(2)).unwrap_err();
    assert!(t.elapsed() < HANG, "took {:?}", t.elapsed());
    let msg = assert_no_answer(&err, "registry", &server.addr, "GET /v2/", 2);
    assert!(msg.ends_with("GET /v2/ within 2 s"), "nothing more: {msg}");
    assert!(matches!(err, Error::Deadline { .. }));
    assert!(server.accepted() >= 1, "the client never connected");
}

#[test]
fn the_v2_probe_of_a_server_trickling_header_lines_ends_at_the_deadline() {
    let server = Faulty::start(Fault::TrickleHeaders);
    let t = Instant::now();
    let err = Client::connect(&server.addr, opts(3)).unwrap_err();
    assert!(t.elapsed() < HANG, "took {:?}", t.elapsed());
    assert_no_answer(&err, "registry", &server.addr, "GET /v2/", 3);
}

#[test]
fn a_manifest_whose_body_trickles_ends_at_the_deadline() {
    // Headers come at once (the probe passes), the body one byte a second.
    let server = Faulty::start(Fault::TrickleBody);
    let client = Client::connect(&server.addr, opts(3)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = Layout::create(dir.path()).unwrap();
    let r = Reference::parse(&format!("{}/lumos/fibonacci:wasm", server.addr)).unwrap();
    let t = Instant::now();
    let err = pull(&client, &cache, &r, None).unwrap_err();
    assert!(t.elapsed() < HANG, "took {:?}", t.elapsed());
    let request = "GET /v2/lumos/fibonacci/manifests/wasm";
    let msg = assert_no_answer(&err, "registry", &server.addr, request, 3);
    assert!(msg.contains("stopped after"), "{msg}");
}

#[test]
fn a_blob_cut_off_half_way_is_named_by_its_digest_not_a_temp_file() {
    let server = Faulty::start(Fault::Truncated);
    let client = Client::connect(&server.addr, opts(10)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = Layout::create(dir.path()).unwrap();
    let digest = Digest::sha256(b"the real blob");
    let desc = Descriptor::new(
        lumos_oci::spec::media::LAYER_GZIP,
        digest.clone(),
        1_000_000,
    );
    let err = fetch_blob(&client, &cache, "lumos/fibonacci", &desc).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "registry {}: GET /v2/lumos/fibonacci/blobs/{digest}",
            server.addr
        )),
        "{msg}"
    );
    assert!(!msg.contains("tmp"), "{msg}");
    assert!(!cache.has_blob(&digest));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("blobs/sha256"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn retries_of_a_refusing_port_stop_at_the_deadline() {
    // Nothing listens: every attempt fails at once, and 1000 retries with
    // a 300 ms backoff doubling each time would take hours.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = Instant::now();
    let err = Client::connect(&format!("127.0.0.1:{port}"), opts(2)).unwrap_err();
    assert!(t.elapsed() < HANG, "took {:?}", t.elapsed());
    assert!(
        matches!(err, Error::Unreachable { attempts, .. } if attempts < 1000),
        "{err}"
    );
}

#[test]
fn a_bad_host_or_port_is_refused_before_any_connection() {
    for (host, want) in [
        ("127.0.0.1:99999", "from 1 to 65535"),
        ("bad host!", "letters, digits"),
    ] {
        let err = Client::connect(host, opts(60)).unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{host}: {err}");
        assert!(err.to_string().contains(want), "{err}");
    }
    let err = Reference::parse("127.0.0.1:99999/x").unwrap_err();
    assert!(err.to_string().contains("65535"), "{err}");
}

#[test]
fn an_upload_the_server_stops_reading_ends_at_the_deadline_even_on_a_kept_alive_connection() {
    // The server answers the /v2/ probe and keeps the connection open; then
    // it reads nothing more. 64 MiB is far more than the socket buffers hold.
    let server = Faulty::start(Fault::GetOnly);
    let mut o = opts(3);
    o.min_rate = 1 << 40; // no allowance for size: the deadline is 3 s
    let client = Client::connect(&server.addr, o).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("blob");
    std::fs::write(&blob, vec![7u8; 64 << 20]).unwrap();
    let t = Instant::now();
    let err = client
        .send(
            "PUT",
            "/v2/lumos/x/blobs/uploads/1?digest=sha256:0",
            "lumos/x",
            true,
            &[],
            lumos_oci::registry::client::Body::File(&blob, 64 << 20),
        )
        .map(|r| r.status)
        .unwrap_err();
    assert!(t.elapsed() < HANG, "took {:?}", t.elapsed());
    let request = "PUT /v2/lumos/x/blobs/uploads/1";
    assert_no_answer(&err, "registry", &server.addr, request, 3);
}
