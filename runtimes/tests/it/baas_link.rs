//! The storage server behind a link (`--baas-bandwidth`, `--baas-delay`):
//! a real network namespace, veth pair, tc tbf and the delaying relay. A
//! function's I/O phase (the SDK's own `io` split) grows with the object's
//! size over the bandwidth, and by the delay on each round trip.

use crate::common::*;
use lumos_model::{BaasLink, BaasLinkSpec, Rate};
use lumos_runtimes::{Runner, Runtime};
use std::process::Command;
use std::time::Duration;

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn require_link() {
    require("ip");
    require("tc");
    if let Some(why) = lumos_runtimes::link::refusal() {
        panic!("{why}");
    }
}

/// Whether `ip` still lists the namespace.
fn namespace_exists(ns: &str) -> bool {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(ns))
}

/// Puts `object` under `key`, then GETs it `requests` times through the
/// fixture (wasmtime-aot, one warm instance); the mean `io` phase in ms and
/// the link's record. The runner (and its link) is gone on return, and so
/// is its namespace.
fn io_phase(
    spec: Option<BaasLinkSpec>,
    baas: Option<String>,
    object: &[u8],
    requests: usize,
) -> (f64, Option<BaasLink>) {
    let mut o = opts();
    o.warmup = 0;
    o.requests = requests;
    o.baas = baas;
    o.baas_link = spec;
    o.limits.request_timeout = Duration::from_secs(60);
    let runner = Runner::new(o).unwrap_or_else(|e| panic!("{}", lumos_model::error_chain(&e)));
    let ns = runner.baas_namespace().map(str::to_string);
    if let Some(ns) = &ns {
        assert!(
            namespace_exists(ns),
            "{ns} is not there while the run lasts"
        );
    }
    runner.store().put("link-object", object).unwrap();
    let r = runner
        .run_warm(
            &file_ref(&fixtures().cwasm),
            Runtime::WasmtimeAot,
            br#"{"op":"get","key":"link-object"}"#,
        )
        .unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert_eq!(r.response_sha256.as_deref(), Some(sha(object).as_str()));
    let io = r.phases_ms.expect("the SDK's phases").io;
    assert_eq!(r.baas_link.as_ref(), runner.baas_link());
    drop(runner);
    if let Some(ns) = &ns {
        assert!(!namespace_exists(ns), "{ns} outlived its runner");
    }
    (io, r.baas_link)
}

#[test]
fn a_bandwidth_limit_stretches_the_io_phase_to_size_over_rate() {
    require_link();
    let object = vec![b'x'; 256 << 10];
    let unlimited = BaasLinkSpec::default();
    let (fast, rec) = io_phase(Some(unlimited), None, &object, 2);
    let rec = rec.expect("a link is recorded");
    assert_eq!(rec.bandwidth, None);
    let rate: Rate = "1mbit".parse().unwrap();
    let spec = BaasLinkSpec {
        bandwidth: Some(rate),
        delay: Duration::ZERO,
    };
    let (slow, rec) = io_phase(Some(spec), None, &object, 1);
    let rec = rec.expect("a link is recorded");
    assert_eq!(rec.bandwidth, Some(rate));
    assert_eq!(rec.bandwidth_bits_per_sec, Some(1_000_000));
    // 256 KiB at 125 KB/s: 2.1 s; the answer alone crosses the limited link.
    let floor = rate.time_for(object.len() as u64).as_secs_f64() * 1e3 * 0.7;
    eprintln!("io phase of a 256 KiB GET: unlimited {fast:.2} ms, 1mbit {slow:.1} ms (floor {floor:.0} ms)");
    assert!(
        slow >= floor,
        "1mbit: io {slow:.1} ms, expected at least {floor:.0} ms"
    );
    assert!(
        fast * 10.0 < slow,
        "unlimited io {fast:.1} ms is not much smaller than 1mbit's {slow:.1} ms"
    );
}

#[test]
fn a_delay_adds_two_one_way_delays_per_round_trip_to_the_io_phase() {
    require_link();
    let object = vec![b'y'; 1024];
    let zero = BaasLinkSpec::default();
    let (base, rec0) = io_phase(Some(zero), None, &object, 3);
    let spec = BaasLinkSpec {
        bandwidth: None,
        delay: Duration::from_millis(20),
    };
    let (delayed, rec) = io_phase(Some(spec), None, &object, 3);
    let rec = rec.expect("a link is recorded");
    assert_eq!(rec.delay_ms, 20.0);
    for r in [rec0.as_ref().unwrap(), &rec] {
        assert_eq!(r.overhead_samples, 15);
        assert!(
            r.direct_rtt_ms > 0.0 && r.relayed_rtt_ms > 0.0 && r.relay_overhead_ms.is_finite(),
            "{r:?}"
        );
    }
    // One GET is one round trip: 20 ms each way.
    let added = delayed - base;
    eprintln!(
        "io phase of a 1 KiB GET: 0 ms {base:.2} ms, 20 ms {delayed:.1} ms; relay overhead {:.3} ms (direct {:.3}, relayed {:.3})",
        rec.relay_overhead_ms, rec.direct_rtt_ms, rec.relayed_rtt_ms
    );
    assert!(
        added >= 2.0 * 20.0 * 0.8,
        "20 ms each way added {added:.1} ms to a one-round-trip io phase"
    );
}

#[test]
fn a_redis_behind_the_link_is_reached_through_the_relay() {
    require_link();
    let redis = lumos_test_support::redis::start();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let spec = BaasLinkSpec {
        bandwidth: Some("10mbit".parse().unwrap()),
        delay: Duration::from_millis(20),
    };
    let object = b"kept in redis".to_vec();
    let (io, rec) = io_phase(Some(spec), Some(url.clone()), &object, 2);
    assert!(io >= 2.0 * 20.0 * 0.8, "io {io:.1} ms through a 20 ms link");
    assert_eq!(rec.unwrap().delay_ms, 20.0);
    // The object really is in that Redis, not in the runner.
    let direct = lumos_runtimes::store::RedisStore::connect(&url).unwrap();
    use lumos_runtimes::store::Store;
    assert_eq!(direct.get("link-object").unwrap(), Some(object));
}

/// A runner killed mid-run (SIGKILL: no destructor runs) leaves neither its
/// namespace nor its veth pair: its guard deletes them.
#[test]
fn a_killed_runner_leaves_no_namespace_or_veth_behind() {
    require_link();
    let mut runner = Command::new(runner_exe())
        .args(["load", &file_ref(&fixtures().cwasm), "-r", "wasmtime-aot"])
        .args(["--concurrency", "1", "--level-requests", "1000000"])
        .args(["--duration", "600", "--baas-delay", "1ms"])
        .args(["--body", r#"{"op":"get","key":"missing"}"#])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The link is the runner's first namespace.
    let (ns, veth, _) = lumos_runtimes::netns::names("link", 'k', runner.id(), 0);
    let veth_exists = || {
        Command::new("ip")
            .args(["link", "show", &veth])
            .output()
            .unwrap()
            .status
            .success()
    };
    // The namespace comes first, the veth pair a moment later.
    let up = eventually(Duration::from_secs(60), || {
        namespace_exists(&ns) && veth_exists()
    });
    runner.kill().unwrap();
    assert!(up, "the runner never made {ns} and {veth}");
    runner.wait().unwrap();
    assert!(
        eventually(Duration::from_secs(20), || !namespace_exists(&ns)
            && !veth_exists()),
        "{ns} or {veth} outlived a killed runner"
    );
}
