//! wasi:http components (issue 10): tests/fixtures/wasi-http-hello built for
//! wasm32-wasip2, hosted by the runner's wasmtime-wasi-http shim on
//! wasmtime-jit (the component) and wasmtime-aot (its .cwasm), from a file
//! and from an OCI layout, cold and warm; wasmi and WasmEdge refused.

use crate::common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lumos_model::{AotEngine, Arch};
use lumos_runtimes::host::Reply;
use lumos_runtimes::launch::Slot;
use lumos_runtimes::{Protocol, Runner, Runtime};

struct Component {
    wasm: PathBuf,
    cwasm: PathBuf,
}

/// Builds the fixture component (a no-op for cargo when nothing changed) and
/// precompiles it with `lumos-runner precompile`.
fn component() -> &'static Component {
    static C: OnceLock<Component> = OnceLock::new();
    C.get_or_init(|| {
        let wasm = lumos_test_support::fixtures::wasi_http_hello();
        let cwasm = wasm.with_file_name("wasi_http_hello.cwasm");
        let st = Command::new(runner_exe())
            .arg("precompile")
            .arg(&wasm)
            .arg("-o")
            .arg(&cwasm)
            .status()
            .unwrap();
        assert!(st.success(), "precompiling the component failed");
        Component { wasm, cwasm }
    })
}

fn image_for(rt: Runtime) -> String {
    let c = component();
    match rt {
        Runtime::WasmtimeAot => file_ref(&c.cwasm),
        _ => file_ref(&c.wasm),
    }
}

const WASMTIME: [Runtime; 2] = [Runtime::WasmtimeJit, Runtime::WasmtimeAot];

fn ok_body(r: &Result<Reply, lumos_runtimes::host::Failure>) -> Vec<u8> {
    match r {
        Ok(Reply::Ok { body, .. }) => body.clone(),
        other => panic!("expected a 200 answer, got {other:?}"),
    }
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn cold_and_warm_on_wasmtime_jit_and_aot() {
    let runner = Runner::new(opts()).unwrap();
    for rt in WASMTIME {
        // The runner sees a component and speaks wasi-http without being told.
        let r = runner.run_cold(&image_for(rt), rt, b"ping").unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        assert_eq!(r.protocol, Protocol::WasiHttp, "{rt}");
        assert_eq!(
            r.response_sha256.as_deref(),
            Some(sha(b"ping").as_str()),
            "{rt}"
        );
        let c = r.cold_start_ms.unwrap();
        assert!(c.ready > 0.0 && c.first_response > 0.0, "{rt}: {c:?}");
        assert!(r.cpu_ms.is_some() && r.peak_rss_bytes.unwrap() > 0, "{rt}");

        let r = runner
            .run_warm(&image_for(rt), rt, br#"{"hello":"world"}"#)
            .unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        assert_eq!(r.latency_ms.unwrap().n, 20);
        assert_eq!(r.instances.len(), 1, "{rt}: one shim serves every request");
        assert_eq!(
            r.response_sha256.as_deref(),
            Some(sha(br#"{"hello":"world"}"#).as_str())
        );
    }
}

#[test]
fn body_status_and_known_delay_through_a_slot() {
    let runner = Runner::new(opts()).unwrap();
    for rt in WASMTIME {
        let p = prepare(&runner, &image_for(rt), rt);
        let mut slot = Slot::new(runner.launcher(&p, rt, &[]).unwrap());
        // Body in, the same body out; a large one crosses several reads and writes.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(ok_body(&slot.call(&big).result), big, "{rt}");
        assert_eq!(ok_body(&slot.call(b"").result), b"", "{rt}");
        // The status the component chose reaches the runner.
        let o = slot.call(br#"{"status": 404}"#);
        match &o.result {
            Ok(Reply::FunctionError { kind, message, .. }) => {
                assert_eq!(kind, "http-404", "{rt}");
                assert_eq!(message, r#"{"status": 404}"#, "{rt}");
            }
            other => panic!("{rt}: expected a 404, got {other:?}"),
        }
        // A handler that sleeps 250 ms (wasi clocks) is measured as 250 ms:
        // never less; more only by scheduling noise on a shared 2-core machine.
        let o = slot.call(br#"{"sleep_ms": 250}"#);
        assert!(o.is_ok(), "{rt}: {:?}", o.result);
        let ms = o.latency.as_secs_f64() * 1e3;
        assert!(
            ms >= 250.0,
            "{rt}: {ms:.1} ms for a 250 ms sleep: the clock is wrong"
        );
        assert!(ms < 250.0 + 500.0, "{rt}: {ms:.1} ms for a 250 ms sleep");
        assert_eq!(slot.instances.len(), 1, "{rt}: no instance was replaced");
    }
}

/// A raw HTTP/1.1 exchange on a kept-alive connection.
fn exchange(
    s: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += &format!("Content-Length: {}\r\n\r\n", body.len());
    s.get_mut().write_all(req.as_bytes()).unwrap();
    s.get_mut().write_all(body).unwrap();
    let mut line = String::new();
    s.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut hs = vec![];
    let mut len = 0;
    loop {
        line.clear();
        s.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
        if k == "content-length" {
            len = v.parse().unwrap();
        }
        hs.push((k, v));
    }
    let mut out = vec![0; len];
    s.read_exact(&mut out).unwrap();
    (status, hs, out)
}

#[test]
fn the_shim_passes_request_headers_and_keeps_connections_alive() {
    let c = component();
    for (engine, file) in [
        (Runtime::WasmtimeJit, &c.wasm),
        (Runtime::WasmtimeAot, &c.cwasm),
    ] {
        let port = lumos_runtimes::http::free_port().unwrap();
        let mut child = Killed(
            Command::new(shim_exe(engine))
                .args(shim_spec(engine, file, Some(port)))
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let child = &mut child.0;
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    assert!(child.try_wait().unwrap().is_none(), "{engine}: shim exited");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{engine}: port {port} never opened: {e}"),
            }
        };
        let mut s = BufReader::new(stream);
        let (status, hs, body) = exchange(
            &mut s,
            "POST",
            "/",
            &[("x-lumos-echo", "abc 123")],
            b"payload",
        );
        assert_eq!(status, 200, "{engine}");
        assert_eq!(body, b"payload", "{engine}");
        assert!(
            hs.contains(&("x-lumos-echo".into(), "abc 123".into())),
            "{engine}: {hs:?}"
        );
        // The same connection: the component sees the request's headers.
        let (status, _, body) = exchange(&mut s, "GET", "/headers", &[("x-custom", "42")], b"");
        assert_eq!(status, 200, "{engine}");
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("x-custom: 42\n"), "{engine}: {text}");
        // Hop-by-hop and `host` headers are wasmtime-wasi-http's forbidden
        // ones: the guest sees the authority instead.
        assert!(!text.contains("host:"), "{engine}: {text}");
        // Path routes: status and delay.
        let (status, _, _) = exchange(&mut s, "POST", "/status/503", &[], b"x");
        assert_eq!(status, 503, "{engine}");
        let t0 = Instant::now();
        let (status, _, _) = exchange(&mut s, "GET", "/sleep/100", &[], b"");
        assert_eq!(status, 200, "{engine}");
        assert!(t0.elapsed() >= Duration::from_millis(100), "{engine}");
    }
}

/// `--spec JSON` of a shim hosting `file` on `engine`, serving HTTP on
/// `http_port` when set (a wasi:http component).
fn shim_spec(engine: Runtime, file: &Path, http_port: Option<u16>) -> [String; 2] {
    lumos_shim::shim_args(&lumos_shim::ShimOpts {
        engine,
        root: None,
        module: file.to_path_buf(),
        shown: None,
        name: "hello.wasm".into(),
        args: vec![],
        memory_limit: None,
        policy: Default::default(),
        http_port,
        http_host: None,
        pool_socket: None,
    })
    .unwrap()
}

/// A child process killed (by PID) and reaped when dropped, also on panic.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn from_an_oci_layout_in_both_image_forms() {
    use lumos_oci::component::pack_component;
    use lumos_oci::image::{AotInfo, WasmFormat};
    let c = component();
    let dir = tempfile::tempdir().unwrap();
    let meta = crate::common::image_meta("hello");
    let wasm = std::fs::read(&c.wasm).unwrap();
    let cwasm = std::fs::read(&c.cwasm).unwrap();
    let aot = AotInfo {
        engine: AotEngine::Wasmtime,
        arch: Arch::X86_64,
        engine_id: Some("wasmtime-48.0.8".into()),
    };
    let runner = Runner::new(opts()).unwrap();
    // One layout per form: each image's tag follows from its variant.
    for format in [WasmFormat::Artifact, WasmFormat::Compat] {
        let root = dir.path().join(format!("oci-{format:?}"));
        let layout = lumos_oci::Layout::create(&root).unwrap();
        let mut refs = vec![];
        for pre in [None, Some((&aot, &cwasm[..]))] {
            let p = pack_component(&layout, &meta, Some(&wasm), format, pre).unwrap();
            refs.push((p.name.clone(), p.descriptor.clone()));
        }
        layout.set_refs(&refs).unwrap();
        for (variant, rt) in [
            ("wasm", Runtime::WasmtimeJit),
            ("aot-wasmtime-x86_64", Runtime::WasmtimeAot),
        ] {
            let variant = format!("{variant} ({format:?})");
            let image = format!(
                "oci:{}:t/hello:{}",
                root.display(),
                variant.split(' ').next().unwrap()
            );
            let r = runner.run_cold(&image, rt, b"from oci").unwrap();
            assert_eq!(r.errors, 0, "{variant}: {:?}", r.error_samples);
            assert_eq!(r.protocol, Protocol::WasiHttp, "{variant}");
            assert_eq!(
                r.response_sha256.as_deref(),
                Some(sha(b"from oci").as_str())
            );
        }
    }
}

#[test]
fn wasmi_and_wasmedge_are_refused_in_one_line() {
    let runner = Runner::new(opts()).unwrap();
    let p = prepare(
        &runner,
        &image_for(Runtime::WasmtimeJit),
        Runtime::WasmtimeJit,
    );
    for rt in [
        Runtime::WasmiInterp,
        Runtime::WasmedgeInterp,
        Runtime::WasmedgeAot,
    ] {
        let e = runner
            .launcher(&p, rt, &[])
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("component model"), "{rt}: {e}");
        assert!(e.contains("wasmtime-jit and wasmtime-aot"), "{rt}: {e}");
        assert!(!e.contains('\n'), "{rt}: {e}");
    }
    // A component is not run as a frames module, nor a module as a component.
    let mut o = opts();
    o.protocol = Some(Protocol::Lumos);
    let e = Runner::new(o)
        .unwrap()
        .run_cold(&image_for(Runtime::WasmtimeJit), Runtime::WasmtimeJit, b"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("protocol wasi-http"), "{e}");
    let mut o = opts();
    o.protocol = Some(Protocol::WasiHttp);
    let e = Runner::new(o)
        .unwrap()
        .run_cold(&file_ref(&fixtures().wasm), Runtime::WasmtimeJit, b"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs a component"), "{e}");
    // The command line says the same in one line.
    let out = Command::new(runner_exe())
        .args([
            "cold",
            &image_for(Runtime::WasmtimeJit),
            "-r",
            "wasmi-interp",
        ])
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("component model"), "{err}");
}

#[test]
fn the_shim_says_what_a_wrong_file_is() {
    let c = component();
    let f = fixtures();
    let port = Some(lumos_runtimes::http::free_port().unwrap());
    for (engine, http, file, says) in [
        // A module's .cwasm handed to the component host, and the reverse.
        (
            Runtime::WasmtimeAot,
            port,
            &f.cwasm,
            "a .cwasm of a core module",
        ),
        (Runtime::WasmtimeJit, port, &f.wasm, "a core wasm module"),
        (Runtime::WasmtimeJit, port, &c.cwasm, "an ELF file"),
        (Runtime::WasmtimeAot, None, &c.cwasm, "this is a component"),
        (Runtime::WasmtimeJit, None, &c.wasm, "this is a component"),
        (Runtime::WasmiInterp, port, &c.wasm, "no component model"),
    ] {
        let args = shim_spec(engine, file, http);
        let out = Command::new(shim_exe(engine))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(70),
            "{engine} {}: {err}",
            file.display()
        );
        assert!(err.contains(says), "{engine} {}: {err}", file.display());
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

/// functions/fibonacci built as a component through the SDK's wasi:http
/// front end (`cargo rustc --lib --crate-type cdylib --features wasi-http`),
/// and precompiled: (component, .cwasm).
fn fibonacci_component() -> &'static (PathBuf, PathBuf) {
    static C: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    C.get_or_init(|| {
        let target = lumos_test_support::fixtures::shared_dir("lumos-runtimes-fixtures");
        let st = lumos_test_support::cargo()
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .args([
                "rustc",
                "-p",
                "fibonacci",
                "--lib",
                "--crate-type",
                "cdylib",
                "--target",
                "wasm32-wasip2",
                "--release",
                "--features",
                "wasi-http",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo for fibonacci");
        assert!(st.success(), "building fibonacci as a component failed");
        let wasm = target.join("wasm32-wasip2/release/fibonacci.wasm");
        let cwasm = target.join("fibonacci-component.cwasm");
        let st = Command::new(runner_exe())
            .arg("precompile")
            .arg(&wasm)
            .arg("-o")
            .arg(&cwasm)
            .status()
            .unwrap();
        assert!(st.success(), "precompiling fibonacci failed");
        (wasm, cwasm)
    })
}

#[test]
fn the_sdk_builds_fibonacci_as_a_served_component() {
    let (wasm, cwasm) = fibonacci_component();
    let runner = Runner::new(opts()).unwrap();
    for (img, rt) in [(wasm, Runtime::WasmtimeJit), (cwasm, Runtime::WasmtimeAot)] {
        let p = prepare(&runner, &file_ref(img), rt);
        assert_eq!(p.artifact.protocol, Protocol::WasiHttp, "{rt}");
        let mut slot = Slot::new(runner.launcher(&p, rt, &[]).unwrap());
        let o = slot.call(br#"{"n": 100}"#);
        let v: serde_json::Value = serde_json::from_slice(&ok_body(&o.result)).unwrap();
        assert_eq!(v["digits"], 21, "{rt}: {v}");
        assert_eq!(v["leading_digits"], "35422484817926191507", "{rt}: {v}");
        // The SDK's phase split comes back in x-lumos-meta.
        match &o.result {
            Ok(Reply::Ok { meta: Some(m), .. }) => assert!(m.total_ns > 0, "{rt}"),
            other => panic!("{rt}: no meta: {other:?}"),
        }
        // A bad request is the SDK's 400.
        match slot.call(b"not json").result {
            Ok(Reply::FunctionError { kind, meta, .. }) => {
                assert_eq!(kind, "http-400", "{rt}");
                assert!(meta.is_some(), "{rt}");
            }
            other => panic!("{rt}: expected a 400: {other:?}"),
        }
        let r = runner
            .run_cold(&file_ref(img), rt, br#"{"n": 1000}"#)
            .unwrap();
        assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
        assert!(r.phases_ms.is_some(), "{rt}");
    }
}

/// The shim executable of `engine`'s family, of this build.
fn shim_exe(engine: Runtime) -> std::path::PathBuf {
    runner_exe();
    let name = lumos_runtimes::runtime::shim_program_name(engine).unwrap();
    lumos_test_support::workspace_bin(name)
}

/// Figures, not assertions (issue 10's benchmark): warm p50 of the 0-work
/// component on wasmtime-aot and its cold start from the local cache, beside
/// the wasip1 frames fixture module in the same run. Run with
/// `cargo test -p lumos-runtimes --release --test it -- wasi_http::figures --ignored --nocapture`.
#[test]
#[ignore]
fn figures() {
    use lumos_oci::component::pack_component;
    use lumos_oci::image::{pack_wasm, AotInfo, ImageMeta, WasmFormat};
    let c = component();
    let f = fixtures();
    let body = br#"{"op":"noop"}"#;
    let mut o = opts();
    o.warmup = 200;
    o.requests = 5000;
    let runner = Runner::new(o).unwrap();
    println!(
        "warm, 5000 requests after 200 (body {:?}):",
        std::str::from_utf8(body).unwrap()
    );
    for (what, img, rt) in [
        ("wasi:http component", &c.cwasm, Runtime::WasmtimeAot),
        ("wasip1 frames module", &f.cwasm, Runtime::WasmtimeAot),
        ("wasi:http component", &c.wasm, Runtime::WasmtimeJit),
        ("wasip1 frames module", &f.wasm, Runtime::WasmtimeJit),
    ] {
        let r = runner.run_warm(&file_ref(img), rt, body).unwrap();
        assert_eq!(r.errors, 0);
        let l = r.latency_ms.unwrap();
        println!(
            "  {what:<21} {rt:<13} p50 {:>6.1} us  p90 {:>6.1} us  p99 {:>6.1} us  mean {:>6.1} us  peak RSS {:.1} MiB",
            l.p50 * 1e3,
            l.p90 * 1e3,
            l.p99 * 1e3,
            l.mean * 1e3,
            r.peak_rss_bytes.unwrap_or(0) as f64 / 1048576.0
        );
    }

    // The same built-in function both ways: fibonacci as a wasip1 frames
    // module (the SDK's `main!`) and as a component (its `wasi_http!`).
    let (fib_wasm, fib_cwasm) = fibonacci_component();
    let target = fib_wasm.ancestors().nth(3).unwrap().to_path_buf();
    let st = lumos_test_support::cargo()
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args([
            "build",
            "-p",
            "fibonacci",
            "--bin",
            "fibonacci",
            "--release",
        ])
        .args(["--target", "wasm32-wasip1"])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(st.success());
    let frames_fib = target.join("wasm32-wasip1/release/fibonacci.wasm");
    let frames_fib_cwasm = target.join("fibonacci-frames.cwasm");
    assert!(Command::new(runner_exe())
        .arg("precompile")
        .arg(&frames_fib)
        .arg("-o")
        .arg(&frames_fib_cwasm)
        .status()
        .unwrap()
        .success());
    // The same module as WasmEdge AoT: frames over stdio, and the SDK's
    // HTTP server on WasmEdge's sockets (the third way the one function is
    // served; WasmEdge has no component model).
    let frames_fib_wasmedge = target.join("fibonacci-wasmedge-aot.wasm");
    crate::wasmedge::wasmedge_compile(&frames_fib, &frames_fib_wasmedge);
    let mut o = opts();
    o.warmup = 50;
    o.requests = 1000;
    let fib_runner = Runner::new(o.clone()).unwrap();
    o.protocol = Some(Protocol::Http);
    let fib_http = Runner::new(o).unwrap();
    for n in [10u64, 10_000] {
        let body = format!(r#"{{"n": {n}}}"#);
        for (what, img, rt, runner) in [
            (
                "fibonacci component",
                fib_cwasm,
                Runtime::WasmtimeAot,
                &fib_runner,
            ),
            (
                "fibonacci frames",
                &frames_fib_cwasm,
                Runtime::WasmtimeAot,
                &fib_runner,
            ),
            (
                "fibonacci frames",
                &frames_fib_wasmedge,
                Runtime::WasmedgeAot,
                &fib_runner,
            ),
            (
                "fibonacci WasmEdge HTTP",
                &frames_fib_wasmedge,
                Runtime::WasmedgeAot,
                &fib_http,
            ),
        ] {
            let r = runner
                .run_warm(&file_ref(img), rt, body.as_bytes())
                .unwrap();
            assert_eq!(r.errors, 0, "{what} {rt}: {:?}", r.error_samples);
            let l = r.latency_ms.unwrap();
            let own = r.phases_ms.map(|p| p.total * 1e3).unwrap_or(f64::NAN);
            println!(
                "  {what:<23} n={n:<6} {rt:<13} p50 {:>7.1} us  mean {:>7.1} us  (the SDK's own time, mean {own:>7.1} us)",
                l.p50 * 1e3,
                l.mean * 1e3
            );
        }
    }

    // Cold start from the local cache: the images pushed to a loopback
    // registry once, pulled into a kept cache by a first run.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("oci");
    let layout = lumos_oci::Layout::create(&root).unwrap();
    let meta = crate::common::image_meta("hello");
    let aot = AotInfo {
        engine: AotEngine::Wasmtime,
        arch: Arch::X86_64,
        engine_id: Some("wasmtime-48.0.8".into()),
    };
    let comp = pack_component(
        &layout,
        &meta,
        Some(&std::fs::read(&c.wasm).unwrap()),
        WasmFormat::Compat,
        Some((&aot, &std::fs::read(&c.cwasm).unwrap())),
    )
    .unwrap();
    let frames = pack_wasm(
        &layout,
        &ImageMeta {
            function: "fixture".into(),
            ..meta.clone()
        },
        &std::fs::read(&f.cwasm).unwrap(),
        WasmFormat::Compat,
        Some(&aot),
    )
    .unwrap();
    layout
        .set_refs(&[
            (comp.name.clone(), comp.descriptor.clone()),
            (frames.name.clone(), frames.descriptor.clone()),
        ])
        .unwrap();
    let reg = Registry::plain();
    let images = [
        (
            "wasi:http component",
            reg.push(&root, "t/hello:aot-wasmtime-x86_64", "lumos/hello", "aot"),
        ),
        (
            "wasip1 frames module",
            reg.push(
                &root,
                "t/fixture:aot-wasmtime-x86_64",
                "lumos/fixture",
                "aot",
            ),
        ),
    ];
    let mut o = opts();
    o.cache_dir = Some(tmp.path().join("cache"));
    let cached = Runner::new(o).unwrap();
    let mut rows: Vec<(&str, Vec<[f64; 4]>)> = images.iter().map(|(w, _)| (*w, vec![])).collect();
    for (_, image) in &images {
        cached.run_cold(image, Runtime::WasmtimeAot, body).unwrap();
    }
    for _ in 0..30 {
        // Interleaved, so both see the same machine.
        for (i, (_, image)) in images.iter().enumerate() {
            let r = cached.run_cold(image, Runtime::WasmtimeAot, body).unwrap();
            assert_eq!(r.errors, 0);
            let cs = r.cold_start_ms.unwrap();
            rows[i]
                .1
                .push([cs.total, cs.start, cs.ready, cs.first_response]);
        }
    }
    println!("cold start on wasmtime-aot from the local cache, median of 30 (ms):");
    for (what, v) in rows {
        let m = |k: usize| median(&v.iter().map(|x| x[k]).collect::<Vec<_>>());
        println!(
            "  {what:<21} total {:>6.2}  start {:>5.2}  ready (load + link) {:>5.2}  first response (instantiate + handle) {:>5.2}",
            m(0),
            m(1),
            m(2),
            m(3)
        );
    }
}

/// Pulls and unpacks `image` (runtime only recorded in the job).
fn prepare(runner: &Runner, image: &str, runtime: Runtime) -> lumos_runtimes::run::Prepared {
    runner
        .prepare(&lumos_runtimes::Job {
            image,
            runtime,
            payload: b"",
            args: &[],
            protocol: None,
            cache: None,
            group: None,
            node: None,
        })
        .unwrap()
}
