//! What epoch interruption costs compiled code (a figure, not an assertion):
//! run with
//! `cargo test -p lumos-shim-wasmtime --release --test it -- epoch_cost --ignored --nocapture`.
//!
//! The same wasm module is precompiled twice in one process, with
//! `Config::epoch_interruption` off and on (otherwise
//! `lumos_wasm::wasmtime::config`), each `.cwasm` loaded back as
//! `wasmtime-aot` and `wasmtime-pooled` load theirs, and run side by side,
//! alternating, round after round: one instance per round answering a few
//! frames requests from its stdin. The epoch variant runs as the pool host
//! runs it: a ticker thread increments the engine's epoch every 10 ms and the
//! store's deadline callback (one tick ahead) is called on every tick.
//! Printed: the median wall time of `_start` per variant and the overhead.
//! The modules: the `fibonacci` built-in (F(n) over big integers: many small
//! calls and loops) and the runtimes test fixture's `work` request (one tight
//! loop of multiply-adds: the worst case for a check on every back edge).
//! With `EPOCH_COST_NO_TICKER=1` each is also run with the epoch code under
//! a far deadline and no callback (the cost of the checks alone).
//!
//! Measured 2026-11-26 on this 2-core machine under a load average of 7-8
//! (the test built in debug: the guest's code is cranelift's at
//! `OptLevel::Speed` either way, and the host's part is the same in both
//! variants), three runs: fibonacci n=200000 x4 +24.9%, +16.4%, +26.6%
//! (checks alone +24.8%); fixture work n=20 x2 -4.6%, +3.8%, -1.4% (checks
//! alone +1.1%). Hence epoch interruption for `wasmtime-pooled` only
//! (`lumos_wasm::wasmtime::config_interruptible`).

use lumos_sdk::frame::{header, Kind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{Engine, Linker, Module, Store, UpdateDeadline};
use wasmtime_wasi::p1::{self, WasiP1Ctx};

const ROUNDS: usize = 41;
const TICK: Duration = Duration::from_millis(10);

/// `cargo build --release --target wasm32-wasip1` of `package` in
/// `workspace` into `target`; the path of `<bin>.wasm`.
fn build_wasm(workspace: &Path, package: &str, bin: &str, target: &Path) -> PathBuf {
    let mut cmd = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
    // As lumos_test_support::cargo(): the lint wrapper is not for these builds.
    for v in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CLIPPY_ARGS",
        "RUSTFLAGS",
    ] {
        cmd.env_remove(v);
    }
    let st = cmd
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "-p",
            package,
        ])
        .args(["--bin", bin])
        .env("CARGO_TARGET_DIR", target)
        .status()
        .expect("run cargo");
    assert!(st.success(), "building {package} for wasm32-wasip1 failed");
    target
        .join("wasm32-wasip1/release")
        .join(format!("{bin}.wasm"))
}

fn engine(epoch: bool) -> Engine {
    let mut c = lumos_wasm::wasmtime::config(None, lumos_wasm::wasmtime::OPT_LEVEL).unwrap();
    c.epoch_interruption(epoch);
    Engine::new(&c).unwrap()
}

/// Precompiled for `engine`, then loaded back from the `.cwasm` bytes.
fn aot(engine: &Engine, wasm: &[u8]) -> Module {
    let cwasm = engine.precompile_module(wasm).unwrap();
    // SAFETY: bytes this engine just produced.
    unsafe { Module::deserialize(engine, &cwasm) }.unwrap()
}

/// One instance answering the requests in `input`; the time of its `_start`.
fn run(engine: &Engine, module: &Module, input: &Path, epoch: bool) -> Duration {
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    p1::add_to_linker_sync(&mut linker, |s| s).unwrap();
    // The SDK's WasmEdge socket imports (never called here), as the shim stubs them.
    linker.define_unknown_imports_as_traps(module).unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let ctx = wasmtime_wasi::WasiCtxBuilder::new()
        .stdin(wasmtime_wasi::cli::InputFile::new(
            std::fs::File::open(input).unwrap(),
        ))
        .stdout(wasmtime_wasi::cli::OutputFile::new(out.reopen().unwrap()))
        .inherit_stderr()
        .arg("f")
        .build_p1();
    let mut store = Store::new(engine, ctx);
    store.set_epoch_deadline(u64::MAX / 2);
    if epoch {
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Continue(1)));
    }
    let instance = linker.instantiate(&mut store, module).unwrap();
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .unwrap();
    let t = Instant::now();
    if let Err(e) = start.call(&mut store, ()) {
        let code = e.downcast_ref::<wasmtime_wasi::I32Exit>().map(|x| x.0);
        assert_eq!(code, Some(0), "{e:#}");
    }
    let took = t.elapsed();
    // HELLO and one answer per request, each a RESPONSE (not an ERROR).
    let said = std::fs::read(out.path()).unwrap();
    let mut at = 0;
    let mut kinds = vec![];
    while at + 7 <= said.len() {
        kinds.push(said[at + 2]);
        at += 7 + u32::from_le_bytes(said[at + 3..at + 7].try_into().unwrap()) as usize;
    }
    assert!(
        kinds.len() > 1 && kinds[1..].iter().all(|&k| k == Kind::Response as u8),
        "{kinds:?}"
    );
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
#[ignore = "a benchmark, not a check: precompiles and times two functions (run with --release --ignored --nocapture)"]
fn epoch_cost() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = root.join("target/lumos-epoch-cost");
    let fib = build_wasm(&root, "fibonacci", "fibonacci", &target);
    let fixture = build_wasm(
        &root.join("runtimes/tests/fixtures"),
        "lumos-runtimes-fixtures",
        "fixture",
        &target,
    );
    let (plain, epoch) = (engine(false), engine(true));
    let ticking = Arc::new(AtomicBool::new(true));
    let ticker = {
        let (e, on) = (epoch.clone(), ticking.clone());
        std::thread::spawn(move || {
            while on.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                e.increment_epoch();
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, wasm, body, requests) in [
        ("fibonacci n=200000", &fib, &br#"{"n":200000}"#[..], 4),
        ("fixture work n=20", &fixture, br#"{"op":"work","n":20}"#, 2),
    ] {
        let input = dir.path().join("input");
        let mut frames = vec![];
        for _ in 0..requests {
            frames.extend_from_slice(&header(Kind::Request, body.len() as u32));
            frames.extend_from_slice(body);
        }
        std::fs::write(&input, frames).unwrap();
        let bytes = std::fs::read(wasm).unwrap();
        let (m0, m1) = (aot(&plain, &bytes), aot(&epoch, &bytes));
        // One untimed round each (page faults of the code, the allocator).
        run(&plain, &m0, &input, false);
        run(&epoch, &m1, &input, true);
        let (mut t0, mut t1) = (vec![], vec![]);
        for i in 0..ROUNDS {
            // Alternating which goes first, so drift hits both alike.
            if i % 2 == 0 {
                t0.push(run(&plain, &m0, &input, false));
                t1.push(run(&epoch, &m1, &input, true));
            } else {
                t1.push(run(&epoch, &m1, &input, true));
                t0.push(run(&plain, &m0, &input, false));
            }
        }
        let (a, b) = (median(t0), median(t1));
        println!(
            "{name} x{requests} ({ROUNDS} rounds): without epoch {:.2} ms, with epoch {:.2} ms: {:+.1}%",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0
        );
        if std::env::var_os("EPOCH_COST_NO_TICKER").is_some() {
            let (mut t0, mut t2) = (vec![], vec![]);
            for _ in 0..ROUNDS {
                t0.push(run(&plain, &m0, &input, false));
                t2.push(run(&epoch, &m1, &input, false));
            }
            println!(
                "  epoch code, far deadline, no callback: {:+.1}%",
                (median(t2).as_secs_f64() / median(t0).as_secs_f64() - 1.0) * 100.0
            );
        }
    }
    ticking.store(false, Ordering::Relaxed);
    ticker.join().unwrap();
}
