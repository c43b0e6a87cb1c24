//! The benchmark figures of the runner itself (not assertions): run with
//! `cargo test -p lumos-runtimes --release --test it -- figures:: --ignored --nocapture`.
//! Prints runner overhead on a no-op function, cold start of wasmtime-aot
//! from the local cache and from a loopback registry, and the memory of 100
//! idle wasm instances.

use crate::common::*;
use lumos_runtimes::launch::Slot;
use lumos_runtimes::{Job, Runner, Runtime, Sandbox};

#[test]
#[ignore]
fn figures() {
    let f = fixtures();
    let mut o = opts();
    o.warmup = 100;
    o.requests = 5000;
    let runner = Runner::new(o.clone()).unwrap();
    println!("runner overhead on a no-op (warm p50 round trip - the function's own p50):");
    for (img, rt, sb) in [
        (&f.cwasm, Runtime::WasmtimeAot, None),
        (&f.wasm, Runtime::WasmtimeJit, None),
        (&f.wasm, Runtime::WasmiInterp, None),
        (&f.native, Runtime::Native, Some(Sandbox::Runc)),
        (&f.native, Runtime::Native, Some(Sandbox::Process)),
    ] {
        let mut o2 = o.clone();
        o2.sandbox = sb;
        let r = Runner::new(o2)
            .unwrap()
            .run_warm(&file_ref(img), rt, br#"{"op":"noop"}"#)
            .unwrap();
        let l = r.latency_ms.unwrap();
        println!(
            "  {rt:<14} {:<8} p50 {:>7.1} us  mean {:>7.1} us  p99 {:>7.1} us  overhead p50 {:>6.1} us",
            r.sandbox.map_or("-", |s| s.name()),
            l.p50 * 1e3,
            l.mean * 1e3,
            l.p99 * 1e3,
            r.overhead_ms.unwrap().p50 * 1e3
        );
    }

    let tmp = tempfile::tempdir().unwrap();
    let layout = layout(tmp.path());
    let reg = Registry::plain();
    let image = reg.push(
        &layout,
        "t/fixture:aot-wasmtime-x86_64",
        "lumos/fixture",
        "aot-wasmtime-x86_64",
    );
    let mut cached = opts();
    cached.cache_dir = Some(tmp.path().join("cache"));
    let cached = Runner::new(cached).unwrap();
    cached
        .run_cold(&image, Runtime::WasmtimeAot, br#"{"op":"noop"}"#)
        .unwrap();
    let mut local = vec![];
    let mut remote = vec![];
    let mut last = None;
    for _ in 0..20 {
        let r = cached
            .run_cold(&image, Runtime::WasmtimeAot, br#"{"op":"noop"}"#)
            .unwrap();
        local.push(r.cold_start_ms.unwrap().total);
        let r = runner
            .run_cold(&image, Runtime::WasmtimeAot, br#"{"op":"noop"}"#)
            .unwrap();
        remote.push(r.cold_start_ms.unwrap().total);
        last = r.cold_start_ms;
    }
    println!("cold start wasmtime-aot to first response, median of 20:");
    println!("  from the local cache:     {:.2} ms", median(&local));
    println!(
        "  from a loopback registry: {:.2} ms (last: {:?})",
        median(&remote),
        last.unwrap()
    );

    let p = runner
        .prepare(&Job::from_opts(
            &runner.opts,
            &file_ref(&f.cwasm),
            Runtime::WasmtimeAot,
            b"",
        ))
        .unwrap();
    let l = runner.launcher(&p, Runtime::WasmtimeAot, &[]).unwrap();
    let mut slots: Vec<Slot> = (0..100).map(|_| Slot::new(l.clone())).collect();
    for s in &mut slots {
        s.ensure().unwrap();
        assert!(s.call(br#"{"op":"noop"}"#).is_ok());
    }
    let rss: u64 = slots
        .iter_mut()
        .map(|s| s.usage().unwrap().peak_rss_bytes)
        .sum();
    let pss: u64 = slots
        .iter_mut()
        .map(|s| lumos_runtimes::instance::proc_pss_bytes(s.workload_pid().unwrap()).unwrap())
        .sum();
    let own = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().to_string()))
        .unwrap();
    println!(
        "100 idle wasmtime-aot instances: {:.1} MiB peak RSS in all ({:.2} MiB each); the runner itself: {own}",
        rss as f64 / 1048576.0,
        rss as f64 / 1048576.0 / 100.0
    );
    println!(
        "  proportional set size (shared pages divided among their users): {:.1} MiB in all ({:.2} MiB each)",
        pss as f64 / 1048576.0,
        pss as f64 / 1048576.0 / 100.0
    );
}

/// Issue 11's figures, every runtime side by side in one run: cold start
/// from the local cache (`cold-cached`: image pulled and unpacked before,
/// a new instance each time) to the first response, median of 20, rounds
/// interleaved across runtimes, beside a bare `fork+exec` of `/bin/true`;
/// then RSS and PSS of 100 idle instances of each wasm engine family.
/// `cargo test -p lumos-runtimes --release --test it -- figures:: --ignored --nocapture`
#[test]
#[ignore]
fn figures_per_runtime() {
    use lumos_model::Mode;
    let f = fixtures();
    let we_aot = crate::wasmedge::aot_fixture();
    let cases: Vec<(&std::path::Path, Runtime, Option<Sandbox>)> = vec![
        (&f.native, Runtime::Native, Some(Sandbox::Process)),
        (&f.native, Runtime::Native, Some(Sandbox::Runc)),
        (&f.cwasm, Runtime::WasmtimeAot, None),
        (&f.cwasm, Runtime::WasmtimePooled, None),
        (&f.wasm, Runtime::WasmtimeJit, None),
        (&f.wasm, Runtime::WasmiInterp, None),
        (&f.wasm, Runtime::WasmedgeInterp, None),
        (&we_aot, Runtime::WasmedgeAot, None),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let runners: Vec<Runner> = cases
        .iter()
        .map(|(_, _, sb)| {
            let mut o = opts();
            o.sandbox = *sb;
            o.cache_dir = Some(tmp.path().join("cache"));
            Runner::new(o).unwrap()
        })
        .collect();
    let body = br#"{"op":"noop"}"#;
    let mut cold: Vec<Vec<f64>> = vec![vec![]; cases.len()];
    let mut spawn = vec![];
    for round in 0..21 {
        let t = std::time::Instant::now();
        let st = std::process::Command::new("/bin/true").status().unwrap();
        assert!(st.success());
        if round > 0 {
            spawn.push(t.elapsed().as_secs_f64() * 1e3);
        }
        for (i, ((img, rt, _), runner)) in cases.iter().zip(&runners).enumerate() {
            let image = file_ref(img);
            let job = Job::from_opts(&runner.opts, &image, *rt, body);
            let r = runner.cold_as(&job, Mode::ColdCached).unwrap();
            assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
            // Round 0 fills the cache and the page cache: not counted.
            if round > 0 {
                cold[i].push(r.cold_start_ms.unwrap().total);
            }
        }
    }
    let bare = median(&spawn);
    println!(
        "cold start from the local cache to the first response, median of 20 (rounds interleaved):"
    );
    println!("  bare fork+exec of /bin/true      {bare:>8.2} ms");
    for ((_, rt, sb), v) in cases.iter().zip(cold) {
        let m = median(&v);
        println!(
            "  {:<14} {:<8} {m:>8.2} ms  ({:.1}x the bare spawn)",
            rt.name(),
            sb.map_or("-", |s| s.name()),
            m / bare
        );
    }

    println!("100 idle instances each (after one answered request), per instance:");
    for (i, (img, rt, _)) in cases.iter().enumerate() {
        if !rt.is_wasm() && i > 0 {
            continue;
        }
        let runner = &runners[i];
        let image = file_ref(img);
        let p = runner
            .prepare(&Job::from_opts(&runner.opts, &image, *rt, b""))
            .unwrap();
        let l = runner.launcher(&p, *rt, &[]).unwrap();
        if rt.is_pooled() {
            pooled_memory(&l, body);
            continue;
        }
        let mut slots: Vec<Slot> = (0..100).map(|_| Slot::new(l.clone())).collect();
        for s in &mut slots {
            s.ensure().unwrap();
            assert!(s.call(body).is_ok(), "{rt}");
        }
        let (mut rss, mut pss) = (0u64, 0u64);
        for s in &mut slots {
            let pid = s.workload_pid().unwrap();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            rss += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap()
                * 1024;
            pss += lumos_runtimes::instance::proc_pss_bytes(pid).unwrap();
        }
        println!(
            "  {:<14} RSS {:>6.2} MiB  PSS {:>6.2} MiB",
            rt.name(),
            rss as f64 / 1048576.0 / 100.0,
            pss as f64 / 1048576.0 / 100.0
        );
        for s in &mut slots {
            s.close(std::time::Duration::from_secs(2));
        }
    }
}

/// RSS of a live process (`VmRSS`), bytes.
fn rss_bytes(pid: u32) -> u64 {
    lumos_runtimes::instance::proc_rss_bytes(pid).unwrap()
}

/// `wasmtime-pooled`: 100 idle instances are 100 stores in one host
/// process, so their memory is the host's: its RSS and PSS with them, over
/// 100, and its growth from the idle host (module loaded, no instance).
fn pooled_memory(l: &std::sync::Arc<lumos_runtimes::launch::Launcher>, body: &[u8]) {
    let host = l.pool_host().unwrap().pid;
    let (rss0, pss0) = (
        rss_bytes(host),
        lumos_runtimes::instance::proc_pss_bytes(host).unwrap(),
    );
    let mut slots: Vec<Slot> = (0..100).map(|_| Slot::new(l.clone())).collect();
    for s in &mut slots {
        s.ensure().unwrap();
        assert!(s.call(body).is_ok(), "wasmtime-pooled");
    }
    let (rss, pss) = (
        rss_bytes(host),
        lumos_runtimes::instance::proc_pss_bytes(host).unwrap(),
    );
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "  {:<14} RSS {:>6.2} MiB  PSS {:>6.2} MiB  (the host's over 100; growth per instance \
         from the idle host: RSS {:.3} MiB, PSS {:.3} MiB; idle host RSS {:.1} MiB)",
        Runtime::WasmtimePooled.name(),
        mib(rss) / 100.0,
        mib(pss) / 100.0,
        mib(rss.saturating_sub(rss0)) / 100.0,
        mib(pss.saturating_sub(pss0)) / 100.0,
        mib(rss0),
    );
    for s in &mut slots {
        s.close(std::time::Duration::from_secs(2));
    }
    // What the host keeps after its instances ended: the pages its slots
    // keep resident for the next instances (shim/wasmtime pool.rs
    // KEEP_RESIDENT). The host ends each instance after its connection
    // closed: wait for that, up to a second.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let mut after = rss_bytes(host);
    while std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = rss_bytes(host);
        if now == after {
            break;
        }
        after = now;
    }
    println!(
        "  {:<14} the host after its 100 instances ended: RSS {:.1} MiB",
        Runtime::WasmtimePooled.name(),
        mib(after)
    );
}

/// Issue 11's pooled target beside wasmtime-aot: cold start from the local
/// cache to the first response, median of 20, rounds interleaved. For
/// wasmtime-pooled each cold start is a new launcher whose host is started
/// untimed first (the first instance of a fresh host); "next instance" is a
/// new instance on a host that has served before (a node's warm daemon).
/// `cargo test -p lumos-runtimes --test it -- figures::figures_pooled --ignored --nocapture`
#[test]
#[ignore]
fn figures_pooled() {
    use lumos_model::Mode;
    let f = fixtures();
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.cache_dir = Some(tmp.path().join("cache"));
    // With LUMOS_SHIM_TRACE set, the shims' own split is shown.
    o.stderr_passthrough = std::env::var_os("LUMOS_SHIM_TRACE").is_some();
    let runner = Runner::new(o).unwrap();
    let body = br#"{"op":"noop"}"#;
    let image = file_ref(&f.cwasm);
    let rts = [Runtime::WasmtimeAot, Runtime::WasmtimePooled];
    let mut cold: Vec<Vec<lumos_model::ColdStart>> = vec![vec![]; rts.len()];
    let mut host_start = vec![];
    for round in 0..21 {
        for (i, rt) in rts.iter().enumerate() {
            let job = Job::from_opts(&runner.opts, &image, *rt, body);
            let r = runner.cold_as(&job, Mode::ColdCached).unwrap();
            assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
            if round > 0 {
                cold[i].push(r.cold_start_ms.unwrap());
                if let Some(h) = r.cold_evidence.unwrap().pool_host_start_ms {
                    host_start.push(h);
                }
            }
        }
    }
    // New instances on one running host, each to its first response.
    let p = runner
        .prepare(&Job::from_opts(
            &runner.opts,
            &image,
            Runtime::WasmtimePooled,
            b"",
        ))
        .unwrap();
    let l = runner.launcher(&p, Runtime::WasmtimePooled, &[]).unwrap();
    let mut next = vec![];
    for round in 0..21 {
        let mut s = Slot::new(l.clone());
        let t = std::time::Instant::now();
        let times = s.ensure().unwrap().unwrap();
        assert!(s.call(body).is_ok());
        if round > 0 {
            // Less the runner's bookkeeping, as a cold start's clock does.
            next.push((t.elapsed() - times.untimed).as_secs_f64() * 1e3);
        }
        s.close(std::time::Duration::from_secs(1));
    }
    println!("cold start from the local cache to the first response, median of 20 (start | ready | first response):");
    for (rt, v) in rts.iter().zip(cold) {
        let m =
            |f: fn(&lumos_model::ColdStart) -> f64| median(&v.iter().map(f).collect::<Vec<_>>());
        println!(
            "  {:<16} {:>7.3} ms  ({:.3} | {:.3} | {:.3})",
            rt.name(),
            m(|c| c.total),
            m(|c| c.start),
            m(|c| c.ready),
            m(|c| c.first_response)
        );
    }
    println!(
        "  wasmtime-pooled, the next instance on a running host: {:.3} ms",
        median(&next)
    );
    println!(
        "  (the pooled host's own start, untimed above: {:.2} ms)",
        median(&host_start)
    );
}
