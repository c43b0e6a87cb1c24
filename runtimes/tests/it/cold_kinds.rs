//! The three kinds of cold start, each proven by what its row records:
//! `cold-cached` (image already in the cache: no pull), `cold` (empty cache:
//! pull and unpack) and `cold-node` (as cold after dropping the page cache).

use crate::common::*;
use lumos_model::{ColdEvidence, Mode};
use lumos_runtimes::{Job, RunOpts, RunResult, Runner, Runtime};

const BODY: &[u8] = br#"{"op":"noop"}"#;

fn run(runner: &Runner, image: &str, rt: Runtime, mode: Mode) -> RunResult {
    let job = Job::from_opts(&runner.opts, image, rt, BODY);
    let r = runner.cold_as(&job, mode).unwrap();
    assert_eq!(r.errors, 0, "{rt} {mode}: {:?}", r.error_samples);
    assert_eq!(r.mode, mode);
    r
}

fn evidence(r: &RunResult) -> &ColdEvidence {
    r.cold_evidence
        .as_ref()
        .expect("a cold row carries its evidence")
}

/// Resident pages of the runtime's program and the image's files, before start.
fn resident(e: &ColdEvidence) -> u64 {
    e.runtime_binary.as_ref().map_or(0, |b| b.resident_pages) + e.image_files.resident_pages
}

#[test]
fn cold_cached_has_no_pull_and_totals_below_cold() {
    require("runc");
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout(tmp.path());
    let runner = Runner::new(opts()).unwrap();
    for (name, tag, rt) in [
        ("t/fixture:native-x86_64", "native", Runtime::Native),
        (
            "t/fixture:aot-wasmtime-x86_64",
            "aot-wasmtime-x86_64",
            Runtime::WasmtimeAot,
        ),
    ] {
        let image = reg.push(&layout, name, "lumos/fixture", tag);
        let cold = run(&runner, &image, rt, Mode::Cold);
        let cached = run(&runner, &image, rt, Mode::ColdCached);
        let (c, k) = (cold.cold_start_ms.unwrap(), cached.cold_start_ms.unwrap());
        let (ce, ke) = (evidence(&cold), evidence(&cached));
        // cold: an empty cache, the image pulled and unpacked.
        assert!(
            ce.image_cache_was_empty && ce.pulled_bytes > 0,
            "{rt}: {ce:?}"
        );
        assert_eq!(ce.pulled_bytes, cold.image.compressed_bytes);
        assert!(c.pull.is_some() && c.unpack.is_some(), "{rt}: {c:?}");
        // cold-cached: the cache held it; no pull or unpack phase, nothing pulled.
        assert!(
            !ke.image_cache_was_empty && ke.pulled_bytes == 0,
            "{rt}: {ke:?}"
        );
        assert_eq!((k.pull, k.unpack), (None, None), "{rt}: {k:?}");
        assert!(!cached.cache.was_empty);
        assert_eq!(cached.image.digest, cold.image.digest);
        // A brand-new instance each time, named in the evidence.
        assert!(ke.instance.is_some() && ce.instance.is_some());
        assert_ne!(ke.instance, ce.instance, "{rt}: an instance was reused");
        assert_eq!(ke.instance.as_ref(), cached.instances.first());
        assert!(!ce.page_cache_dropped && !ke.page_cache_dropped);
        assert!(
            ke.image_files.files > 0 && ke.image_files.pages > 0,
            "{ke:?}"
        );
        eprintln!("{rt}: cold-cached {k:?} {ke:?}\n{rt}: cold {c:?} {ce:?}");
        // The one ordering the kinds promise: without a pull, less time.
        assert!(k.total < c.total, "{rt}: cold-cached {k:?} vs cold {c:?}");
    }
}

#[test]
fn cold_node_drops_the_page_cache_and_finds_fewer_pages_resident() {
    if !lumos_runtimes::node::is_root() {
        eprintln!("skipped: cold-node needs root");
        return;
    }
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout(tmp.path());
    // A wasm shim, from a private copy (a new file, so pages of its own):
    // the tests beside this one start this build's shims all the time and
    // would bring their pages back between the drop and the probe. The
    // runner finds the shim beside its own executable.
    let private = tmp.path().join("bin");
    std::fs::create_dir(&private).unwrap();
    let bins = lumos_test_support::node_bins();
    for name in ["lumos-runner", "lumos-shim-wasmtime"] {
        std::fs::copy(&bins[name], private.join(name)).unwrap();
    }
    let runner = Runner::new(RunOpts {
        runner_exe: Some(private.join("lumos-runner")),
        ..opts()
    })
    .unwrap();
    let rt = Runtime::WasmtimeAot;
    let image = reg.push(
        &layout,
        "t/fixture:aot-wasmtime-x86_64",
        "lumos/fixture",
        "aot-wasmtime-x86_64",
    );
    // The first cold start brings the shim's pages in; the second finds them.
    run(&runner, &image, rt, Mode::Cold);
    let cold = run(&runner, &image, rt, Mode::Cold);
    let node = run(&runner, &image, rt, Mode::ColdNode);
    let (ce, ne) = (evidence(&cold), evidence(&node));
    eprintln!(
        "{rt}: cold {:?} {ce:?}\n{rt}: cold-node {:?} {ne:?}",
        cold.cold_start_ms, node.cold_start_ms
    );
    assert!(ne.page_cache_dropped && !ce.page_cache_dropped);
    assert!(ne.image_cache_was_empty && ne.pulled_bytes > 0, "{ne:?}");
    assert!(node.cold_start_ms.unwrap().pull.is_some());
    let (cb, nb) = (
        ce.runtime_binary.as_ref().unwrap(),
        ne.runtime_binary.as_ref().unwrap(),
    );
    assert_eq!(cb.path, nb.path);
    assert_eq!(
        cb.path.as_deref(),
        Some(private.join("lumos-shim-wasmtime").as_path()),
        "the private copy ran"
    );
    assert!(
        nb.resident_pages < cb.resident_pages,
        "shim pages resident: cold-node {nb:?} vs cold {cb:?}"
    );
    assert!(
        resident(ne) < resident(ce),
        "cold-node {ne:?} vs cold {ce:?}"
    );
}

#[test]
fn cold_node_is_refused_without_root_in_one_line() {
    let setpriv = require("setpriv");
    let exe = runner_exe();
    let out = std::process::Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args(["cold", "--mode", "cold,cold-node", "-r", "native"])
        .arg("127.0.0.1:1/lumos/none:native")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("cold-node") && err.contains("root"),
        "{err}"
    );
    // Nothing ran: no result on stdout.
    assert!(out.stdout.is_empty());
}
