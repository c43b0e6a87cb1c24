//! The containerd sandbox: a private containerd (lumos-services) pulls the
//! fixture images from a real registry and runs them with runc (native) and
//! crun built with WasmEdge (wasm, compat-smart), as a Kwasm node does.
//! Needs root; then containerd and crun+WasmEdge must be there (scripts/setup).

use crate::common::*;
use lumos_runtimes::container::containerd::{crun_wasmedge, ContainerdError};
use lumos_runtimes::{Job, RunOpts, Runner, Runtime, Sandbox};
use lumos_test_support::hostile::{Entry, Image};
use std::process::Command;

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Skips (with a message) when not root; as root the tools must be there.
macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("SKIPPED: the containerd sandbox needs root (containerd, runc, crun)");
            return;
        }
    };
}

/// Held for reading by every test of this module, for writing by the
/// cold-node test: between its page-cache drop and its probe no other test
/// starts crun+WasmEdge (used by no test outside this module) and brings its
/// pages back.
static CRUN_PAGES: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn containerd_opts() -> RunOpts {
    RunOpts {
        sandbox: Some(Sandbox::Containerd),
        ..opts()
    }
}

const BODY: &[u8] = br#"{"op":"noop"}"#;

/// The fixture images (native, wasm compat-smart) pushed to `reg`.
fn pushed(reg: &Registry, dir: &std::path::Path) -> (String, String) {
    let layout = layout(dir);
    (
        reg.push(
            &layout,
            "t/fixture:native-x86_64",
            "lumos/fixture",
            "native-x86_64",
        ),
        reg.push(&layout, "t/fixture:wasm", "lumos/fixture", "wasm"),
    )
}

/// The fixture AoT-compiled by WasmEdge (a universal module), packed as a
/// compat-smart `aot-wasmedge-x86_64` image and pushed to `reg`.
fn pushed_aot(reg: &Registry, dir: &std::path::Path) -> String {
    use lumos_model::{AotEngine, Arch};
    use lumos_oci::image::{pack_wasm, AotInfo, WasmFormat};
    let root = dir.join("aot");
    let layout = lumos_oci::Layout::create(&root).unwrap();
    let meta = crate::common::image_meta("fixture");
    let aot = AotInfo {
        engine: AotEngine::Wasmedge,
        arch: Arch::X86_64,
        engine_id: Some("wasmedge-0.14.1".into()),
    };
    let module = std::fs::read(crate::wasmedge::aot_fixture()).unwrap();
    let p = pack_wasm(&layout, &meta, &module, WasmFormat::Compat, Some(&aot)).unwrap();
    layout
        .set_refs(&[(p.name.clone(), p.descriptor.clone())])
        .unwrap();
    reg.push(&root, &p.name, "lumos/fixture", "aot-wasmedge-x86_64")
}

#[test]
fn native_with_runc_and_wasm_with_crun_wasmedge_cold_and_warm() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    require_root!();
    crun_wasmedge().unwrap_or_else(|e| panic!("{e}"));
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let (native, wasm) = pushed(&reg, tmp.path());
    // The answers Lumos's own runner gets from the same images.
    let own = Runner::new(opts()).unwrap();
    let want_native = own.run_cold(&native, Runtime::Native, BODY).unwrap();
    let want_wasm = own.run_cold(&wasm, Runtime::WasmtimeJit, BODY).unwrap();
    assert!(want_native.response_sha256.is_some() && want_wasm.response_sha256.is_some());

    let runner = Runner::new(containerd_opts()).unwrap();
    let cases = [
        (
            &native,
            Runtime::Native,
            Sandbox::ContainerdRunc,
            &want_native,
        ),
        (
            &wasm,
            Runtime::WasmedgeInterp,
            Sandbox::ContainerdCrunWasmedge,
            &want_wasm,
        ),
    ];
    for (image, rt, sandbox, want) in cases {
        let c = runner.run_cold(image, rt, BODY).unwrap();
        assert_eq!(c.errors, 0, "{rt} cold: {:?}", c.error_samples);
        assert_eq!(c.sandbox, Some(sandbox), "{rt}");
        // The node's versions are recorded with the result.
        let v = &c.versions;
        assert!(
            v.containerd
                .as_deref()
                .is_some_and(|s| s.contains("containerd")),
            "{v:?}"
        );
        assert!(
            v.crun_wasmedge
                .as_deref()
                .is_some_and(|s| s.starts_with("crun version")),
            "{v:?}"
        );
        assert_eq!(c.response_sha256, want.response_sha256, "{rt}: cold answer");
        assert_eq!(c.image.digest, want.image.digest, "{rt}: the digest pulled");
        assert!(
            c.cache.was_empty,
            "{rt}: a cold run starts from a node without the image"
        );
        let cs = c.cold_start_ms.unwrap();
        // containerd's pull (fetch and unpack in one) is the pull phase.
        assert!(
            cs.pull.unwrap() > 0.0 && cs.unpack.is_none(),
            "{rt}: {cs:?}"
        );
        assert!(c.cold_evidence.as_ref().unwrap().pulled_bytes > 0, "{rt}");
        let sum = cs.pull.unwrap() + cs.start + cs.ready + cs.first_response;
        assert!(
            sum <= cs.total + 0.01,
            "{rt}: phases {sum} > total {}",
            cs.total
        );

        let w = runner
            .warm(&Job::from_opts(&runner.opts, image, rt, BODY))
            .unwrap()
            .result;
        assert_eq!(w.errors, 0, "{rt} warm: {:?}", w.error_samples);
        assert_eq!(w.requests, runner.opts.requests as u64);
        assert_eq!(w.sandbox, Some(sandbox), "{rt}");
        assert_eq!(w.response_sha256, want.response_sha256, "{rt}: warm answer");
        assert_eq!(
            w.instances.len(),
            1,
            "{rt}: one instance served the warm run"
        );
        assert!(
            w.peak_rss_bytes.unwrap_or(0) > 0,
            "{rt}: usage of the task read by its pid"
        );
    }
    // A WasmEdge AoT universal module: crun's WasmEdge runs its native code.
    let aot = pushed_aot(&reg, tmp.path());
    let c = runner.run_cold(&aot, Runtime::WasmedgeAot, BODY).unwrap();
    assert_eq!(c.errors, 0, "wasmedge-aot: {:?}", c.error_samples);
    assert_eq!(c.sandbox, Some(Sandbox::ContainerdCrunWasmedge));
    assert_eq!(c.response_sha256, want_wasm.response_sha256);
    // The interpreter label on an AoT module would be a lie: refused.
    let e = runner
        .run_cold(&aot, Runtime::WasmedgeInterp, BODY)
        .unwrap_err()
        .to_string();
    assert!(e.contains("wasmedge-aot"), "{e}");
}

#[test]
fn a_kept_cache_keeps_the_image_in_containerd() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    require_root!();
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let (native, _) = pushed(&reg, tmp.path());
    let cache = tmp.path().join("cache");
    let o = containerd_opts();
    let runner = Runner::new(o.clone()).unwrap();
    let job = Job {
        cache: Some(&cache),
        ..Job::from_opts(&o, &native, Runtime::Native, BODY)
    };
    let first = runner.cold(&job).unwrap();
    let second = runner.cold(&job).unwrap();
    assert!(first.cache.was_empty && !second.cache.was_empty);
    assert_eq!(second.cold_evidence.unwrap().pulled_bytes, 0);
    assert_eq!(second.errors, 0, "{:?}", second.error_samples);
    // containerd's own root holds the image's content.
    assert!(cache
        .join("containerd/io.containerd.content.v1.content/blobs/sha256")
        .read_dir()
        .unwrap()
        .next()
        .is_some());
}

/// `cold-node` under containerd (issue 14): the page cache dropped, then a
/// new private containerd on an empty root (a fresh content store) pulls
/// the image, even when the job keeps a cache that holds it; the row says so,
/// and runc or crun finds fewer of its pages resident than a `cold-cached`
/// start just before did.
#[test]
fn cold_node_pulls_into_a_fresh_content_store_after_a_page_cache_drop() {
    // Alone among this module's tests: crun+WasmEdge's pages stay dropped.
    let _pages = CRUN_PAGES.write().unwrap_or_else(|p| p.into_inner());
    use lumos_model::Mode;
    require_root!();
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let (native, _) = pushed(&reg, tmp.path());
    let aot = pushed_aot(&reg, tmp.path());
    let cache = tmp.path().join("cache");
    let o = containerd_opts();
    let runner = Runner::new(o.clone()).unwrap();
    for (image, rt, sandbox) in [
        (&native, Runtime::Native, Sandbox::ContainerdRunc),
        (&aot, Runtime::WasmedgeAot, Sandbox::ContainerdCrunWasmedge),
    ] {
        let job = Job {
            cache: Some(&cache),
            ..Job::from_opts(&o, image, rt, BODY)
        };
        // The first start brings runc or crun's pages in; the second finds them.
        runner.cold_as(&job, Mode::ColdCached).unwrap();
        let cached = runner.cold_as(&job, Mode::ColdCached).unwrap();
        let node = runner.cold_as(&job, Mode::ColdNode).unwrap();
        for r in [&cached, &node] {
            assert_eq!(r.errors, 0, "{rt} {}: {:?}", r.mode, r.error_samples);
            assert_eq!(r.sandbox, Some(sandbox), "{rt}");
        }
        let (ke, ne) = (
            cached.cold_evidence.as_ref().unwrap(),
            node.cold_evidence.as_ref().unwrap(),
        );
        eprintln!("{rt}: cold-cached {ke:?}\n{rt}: cold-node {ne:?}");
        // cold-cached: the kept containerd held the image.
        assert!(!ke.image_cache_was_empty && ke.pulled_bytes == 0, "{ke:?}");
        assert!(!ke.page_cache_dropped);
        // cold-node: dropped, then pulled by a containerd that held nothing.
        assert!(ne.page_cache_dropped, "{ne:?}");
        assert!(ne.image_cache_was_empty, "{ne:?}");
        assert_eq!(ne.pulled_bytes, node.image.compressed_bytes);
        assert!(ne.pulled_bytes > 0);
        assert!(node.cold_start_ms.unwrap().pull.is_some());
        assert_ne!(node.cache.dir.as_deref(), Some(cache.as_path()));
        let (kb, nb) = (
            ke.runtime_binary
                .as_ref()
                .expect("runc or crun's residency"),
            ne.runtime_binary
                .as_ref()
                .expect("runc or crun's residency"),
        );
        assert_eq!(kb.path, nb.path);
        // runc is also started by tests of other modules running beside
        // this one: one of them may bring its pages back between the drop
        // and the probe, so only crun+WasmEdge's count is asserted.
        if sandbox == Sandbox::ContainerdCrunWasmedge {
            assert!(
                nb.resident_pages < kb.resident_pages,
                "{rt}: {:?} pages resident: cold-node {nb:?} vs cold-cached {kb:?}",
                nb.path
            );
        }
    }
}

#[test]
fn a_wasm_image_without_compat_smart_is_refused_naming_the_annotation() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    require_root!();
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let dir = Image::new(
        serde_json::json!({
            "Entrypoint": ["/fixture.wasm"],
            "Labels": { "dev.lumos.protocol": "lumos" }
        }),
        vec![vec![Entry::File(
            "fixture.wasm".into(),
            wasm_fixture(),
            0o755,
        )]],
    )
    .write(&tmp.path().join("plain"), "t/plain:wasm");
    let image = reg.push(&dir, "t/plain:wasm", "lumos/plain", "wasm");
    let runner = Runner::new(containerd_opts()).unwrap();
    let e = runner
        .run_cold(&image, Runtime::WasmedgeInterp, BODY)
        .unwrap_err();
    assert!(
        matches!(
            e,
            lumos_runtimes::Error::Containerd(ContainerdError::NoCompatSmart { .. })
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("module.wasm.image/variant=compat-smart") && !msg.contains('\n'),
        "{msg}"
    );
}

/// The native `http` fixture packed with a fixed port (`dev.lumos.port`)
/// and pushed to `reg`.
fn pushed_fixed_port_http(reg: &Registry, dir: &std::path::Path, port: u16) -> String {
    use lumos_model::Arch;
    use lumos_oci::image::pack_native;
    let root = dir.join("http");
    let layout = lumos_oci::Layout::create(&root).unwrap();
    let meta = lumos_oci::image::ImageMeta {
        protocol: Some(lumos_runtimes::Protocol::Http),
        port: Some(port),
        ..crate::common::image_meta("fixture-http")
    };
    let bin = std::fs::read(&fixtures().native_http).unwrap();
    let p = pack_native(&layout, &meta, &bin, Arch::X86_64, None).unwrap();
    layout
        .set_refs(&[(p.name.clone(), p.descriptor.clone())])
        .unwrap();
    reg.push(&root, &p.name, "lumos/fixture-http", "native-x86_64")
}

/// Under containerd each `http` instance has a network namespace of its
/// own, reached at its address: two instances of a function on a fixed port
/// run at once and both answer (on the host's network the second would find
/// the port taken).
#[test]
fn two_instances_of_a_fixed_port_http_function_run_at_once() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    require_root!();
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    // Any free port stands for the fixed one, so parallel tests cannot collide.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let image = pushed_fixed_port_http(&reg, tmp.path(), port);
    let o = containerd_opts();
    let runner = Runner::new(o.clone()).unwrap();
    let job = Job::from_opts(&o, &image, Runtime::Native, BODY);
    let prepared = runner.prepare(&job).unwrap();
    let start = || {
        runner
            .start(&prepared, &job)
            .unwrap_or_else(|e| panic!("{}", lumos_model::error_chain(&e)))
    };
    let mut a = start();
    let mut b = start();
    assert_eq!(a.sandbox, Some(Sandbox::ContainerdRunc));
    for (name, r) in [("first", &mut a), ("second", &mut b)] {
        let out = r.call(BODY);
        assert!(out.is_ok(), "{name} instance: {:?}", out.result);
    }
    // Neither listens on the host's loopback.
    assert!(!lumos_runtimes::http::listening(port));
    assert_ne!(a.instances(), b.instances());
    a.stop(std::time::Duration::from_millis(200));
    b.stop(std::time::Duration::from_millis(200));
}

/// Load above concurrency 1 on a fixed-port function: refused where
/// instances share the host's network, run under containerd (a namespace
/// per instance), every request answered.
#[test]
fn load_at_concurrency_two_on_a_fixed_port_runs_under_containerd() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    use lumos_runtimes::{Arrival, LoadSpec};
    require_root!();
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let image = pushed_fixed_port_http(&reg, tmp.path(), port);
    let spec = LoadSpec {
        concurrency: vec![2],
        arrival: Arrival::Closed,
        requests: Some(8),
        duration: std::time::Duration::from_secs(60),
        ..Default::default()
    };
    let o = containerd_opts();
    let runner = Runner::new(o.clone()).unwrap();
    let job = Job::from_opts(&o, &image, Runtime::Native, BODY);
    let r = runner
        .load(&job, &spec)
        .unwrap_or_else(|e| panic!("{}", lumos_model::error_chain(&e)));
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert_eq!(r.load.unwrap()[0].ok, 8);
}

/// An instance placed on a bench node joins the node's namespace (`ctr run
/// --with-ns network:<node>`) instead of one of its own, and answers at the
/// node's address.
#[test]
fn an_instance_placed_on_a_node_runs_in_the_nodes_namespace() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    require_root!();
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let image = pushed_fixed_port_http(&reg, tmp.path(), port);
    let o = RunOpts {
        nodes: vec!["edge:100mbit".parse().unwrap()],
        ..containerd_opts()
    };
    let runner = Runner::new(o.clone()).unwrap();
    let job = Job {
        node: Some("edge"),
        ..Job::from_opts(&o, &image, Runtime::Native, BODY)
    };
    let r = runner
        .cold(&job)
        .unwrap_or_else(|e| panic!("{}", lumos_model::error_chain(&e)));
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert_eq!(r.sandbox, Some(Sandbox::ContainerdRunc));
    assert_eq!(r.node.unwrap().name, "edge");
}

#[test]
fn pulls_containerd_cannot_do_say_why() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    require_root!();
    let runner = Runner::new(containerd_opts()).unwrap();
    // Registry down: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = runner
        .run_cold(
            &format!("127.0.0.1:{port}/lumos/fixture:native-x86_64"),
            Runtime::Native,
            BODY,
        )
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("containerd could not pull 127.0.0.1:")
            && msg.contains("connection refused")
            && !msg.contains('\n'),
        "{msg}"
    );
    // A registry that wants credentials: 401.
    let reg = Registry::start(lumos_test_support::registry::RegistryOptions::basic_auth(
        "u", "p",
    ));
    let e = runner
        .run_cold(
            &format!("{}/lumos/fixture:native-x86_64", reg.host()),
            Runtime::Native,
            BODY,
        )
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("containerd could not pull")
            && (msg.contains("401") || msg.to_lowercase().contains("unauthorized"))
            && msg.contains("without credentials")
            && msg.contains("LUMOS_REGISTRY_USER")
            && !msg.contains('\n'),
        "{msg}"
    );
}

#[test]
fn missing_containerd_or_crun_wasmedge_is_one_line_naming_setup() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    require_root!();
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let (native, wasm) = pushed(&reg, tmp.path());
    let runner = |env: (&str, &str), image: &str, runtime: &str| {
        let out = Command::new(runner_exe())
            .args([
                "cold",
                image,
                "--runtime",
                runtime,
                "--sandbox",
                "containerd",
                "--body",
            ])
            .arg(std::str::from_utf8(BODY).unwrap())
            .env(env.0, env.1)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };
    let err = runner(
        ("LUMOS_CONTAINERD", "/nonexistent/containerd"),
        &native,
        "native",
    );
    assert!(
        err.contains("containerd") && err.contains("scripts/setup"),
        "{err}"
    );
    let err = runner(
        ("LUMOS_CRUN_WASMEDGE", "/nonexistent/crun"),
        &wasm,
        "wasmedge-interp",
    );
    assert!(
        err.contains("/nonexistent/crun") && err.contains("scripts/setup"),
        "{err}"
    );
    // Debian's crun has no wasm handler: said so, with the same fix.
    if let Some(crun) = lumos_services::find_program("crun") {
        let err = runner(
            ("LUMOS_CRUN_WASMEDGE", crun.to_str().unwrap()),
            &wasm,
            "wasmedge-interp",
        );
        assert!(
            err.contains("has no WasmEdge handler") && err.contains("scripts/setup"),
            "{err}"
        );
    }
}

/// Figures, not assertions: cold start (empty cache, from a loopback
/// registry) through containerd beside Lumos's own runner, 10 interleaved
/// rounds, medians. Run with
/// `cargo test -p lumos-runtimes --release --test it -- containerd::figures --ignored --nocapture`.
#[test]
#[ignore]
fn figures() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    require_root!();
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let (native, wasm) = pushed(&reg, tmp.path());
    let aot = pushed_aot(&reg, tmp.path());
    let with = |sb: Option<Sandbox>| {
        Runner::new(RunOpts {
            sandbox: sb,
            ..opts()
        })
        .unwrap()
    };
    let (own_runc, own_wasm, ctrd) = (
        with(Some(Sandbox::Runc)),
        with(None),
        with(Some(Sandbox::Containerd)),
    );
    let cells: [(&str, &Runner, &String, Runtime); 6] = [
        ("runc (Lumos)", &own_runc, &native, Runtime::Native),
        ("containerd-runc", &ctrd, &native, Runtime::Native),
        (
            "wasmedge-aot (Lumos)",
            &own_wasm,
            &aot,
            Runtime::WasmedgeAot,
        ),
        (
            "containerd-crun-wasmedge aot",
            &ctrd,
            &aot,
            Runtime::WasmedgeAot,
        ),
        (
            "wasmedge-interp (Lumos)",
            &own_wasm,
            &wasm,
            Runtime::WasmedgeInterp,
        ),
        (
            "containerd-crun-wasmedge interp",
            &ctrd,
            &wasm,
            Runtime::WasmedgeInterp,
        ),
    ];
    let mut samples: Vec<Vec<lumos_model::ColdStart>> = vec![vec![]; cells.len()];
    for _ in 0..10 {
        for (i, (_, runner, image, rt)) in cells.iter().enumerate() {
            let r = runner.run_cold(image, *rt, BODY).unwrap();
            assert_eq!(r.errors, 0, "{:?}", r.error_samples);
            samples[i].push(r.cold_start_ms.unwrap());
        }
    }
    println!("cold start from a loopback registry, empty cache, median of 10 interleaved (ms):");
    for ((name, ..), s) in cells.iter().zip(samples) {
        let m =
            |f: fn(&lumos_model::ColdStart) -> f64| median(&s.iter().map(f).collect::<Vec<_>>());
        println!(
            "  {name:<32} total {:>7.1}  pull {:>6.1}  unpack {:>5.1}  start {:>6.1}  ready {:>6.1}  first response {:>6.1}",
            m(|c| c.total),
            m(|c| c.pull.unwrap_or(0.0)),
            m(|c| c.unpack.unwrap_or(0.0)),
            m(|c| c.start),
            m(|c| c.ready),
            m(|c| c.first_response),
        );
    }
}

const AUTH_USER: &str = "ctrd-user";
const AUTH_PASSWORD: &str = "ctrd-Pa55-w0rd-4471";

/// Pushes the native fixture to `reg` as AUTH_USER (the test-support push
/// has no credentials); returns its reference.
fn pushed_as_user(reg: &Registry, dir: &std::path::Path) -> String {
    use lumos_oci::registry::{auth::Found, push, Client, ClientOptions, Credentials, PushStats};
    let layout = lumos_oci::Layout::open(layout(dir)).unwrap();
    let desc = layout.resolve("t/fixture:native-x86_64").unwrap();
    let opts = ClientOptions {
        credentials: Some(Found {
            credentials: Some(Credentials {
                username: AUTH_USER.into(),
                password: AUTH_PASSWORD.into(),
            }),
            source: "test".into(),
        }),
        ..Default::default()
    };
    let client = Client::connect(&reg.host(), opts).unwrap();
    push(
        &client,
        &layout,
        &desc,
        "lumos/fixture",
        Some("native-x86_64"),
        &mut PushStats::default(),
    )
    .unwrap();
    format!("{}/lumos/fixture:native-x86_64", reg.host())
}

/// A `ctr` in front of the real one on PATH that logs each command line,
/// and whether its stdin is a terminal, to `<dir>/ctr.log`.
fn logging_ctr(dir: &std::path::Path) -> (String, std::path::PathBuf) {
    let real = lumos_services::find_program("ctr").expect("ctr (scripts/setup)");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("ctr.log");
    let script = format!(
        "#!/bin/sh\nif [ -t 0 ]; then t=tty; else t=notty; fi\necho \"$t $*\" >> {}\nexec {} \"$@\"\n",
        log.display(),
        real.display()
    );
    let ctr = bin.join("ctr");
    std::fs::write(&ctr, script).unwrap();
    std::fs::set_permissions(&ctr, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (path, log)
}

/// Where the runner finds the credentials: `LUMOS_REGISTRY_USER` (AUTH_USER)
/// and `LUMOS_REGISTRY_PASSWORD` (this), or a Docker config in this directory
/// (`DOCKER_CONFIG`).
enum Given<'a> {
    Env(&'a str),
    DockerConfig(&'a std::path::Path),
}

/// A Docker config directory whose `auths` has AUTH_USER/AUTH_PASSWORD for `host`.
fn docker_config(dir: &std::path::Path, host: &str) -> std::path::PathBuf {
    use base64::Engine as _;
    let d = dir.join(format!("docker-{}", host.replace(':', "-")));
    std::fs::create_dir_all(&d).unwrap();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{AUTH_USER}:{AUTH_PASSWORD}"));
    std::fs::write(
        d.join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    d
}

/// `lumos-runner cold IMAGE --runtime native [--sandbox containerd]` with
/// the credentials `given` as the bench and a user give them.
fn runner_cold_as(
    image: &str,
    containerd: bool,
    given: Given<'_>,
    path: &str,
) -> std::process::Output {
    let mut cmd = Command::new(runner_exe());
    cmd.args(["cold", image, "--runtime", "native"]);
    if containerd {
        cmd.args(["--sandbox", "containerd"]);
    }
    match given {
        Given::Env(password) => cmd
            .env("LUMOS_REGISTRY_USER", AUTH_USER)
            .env("LUMOS_REGISTRY_PASSWORD", password),
        Given::DockerConfig(dir) => cmd
            .env_remove("LUMOS_REGISTRY_USER")
            .env_remove("LUMOS_REGISTRY_PASSWORD")
            .env("DOCKER_CONFIG", dir),
    };
    cmd.arg("--body")
        .arg(std::str::from_utf8(BODY).unwrap())
        .env("PATH", path)
        .output()
        .unwrap()
}

#[test]
fn containerd_pulls_with_the_runners_credentials_basic_and_token_never_on_a_command_line() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    use lumos_test_support::registry::RegistryOptions;
    use lumos_test_support::token_service::TokenService;
    require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let tokens = TokenService::start(tmp.path(), AUTH_USER, AUTH_PASSWORD);
    let basic = Registry::start(RegistryOptions::basic_auth(AUTH_USER, AUTH_PASSWORD));
    let bearer = Registry::start(RegistryOptions {
        auth_section: Some(tokens.registry_config()),
        ..Default::default()
    });
    let (path, log) = logging_ctr(tmp.path());
    for (kind, reg) in [("basic", &basic), ("token", &bearer)] {
        let image = pushed_as_user(reg, tmp.path());
        // Basic: from a Docker config's `auths`; token: from the environment.
        let config = docker_config(tmp.path(), &reg.host());
        let given = || match kind {
            "basic" => Given::DockerConfig(&config),
            _ => Given::Env(AUTH_PASSWORD),
        };
        // The runner's own pull, with the same credentials: the answer to match.
        let own = runner_cold_as(&image, false, given(), &path);
        assert!(
            own.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&own.stderr)
        );
        let own: serde_json::Value = serde_json::from_slice(&own.stdout).unwrap();

        let _ = std::fs::remove_file(&log);
        let out = runner_cold_as(&image, true, given(), &path);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{kind}: {stderr}");
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got["sandbox"], "containerd-runc", "{kind}");
        assert_eq!(got["errors"], 0, "{kind}: {got}");
        assert!(got["response_sha256"].is_string(), "{kind}: {got}");
        assert_eq!(got["response_sha256"], own["response_sha256"], "{kind}");
        assert_eq!(got["image"]["digest"], own["image"]["digest"], "{kind}");
        assert!(
            !stdout.contains(AUTH_PASSWORD) && !stderr.contains(AUTH_PASSWORD),
            "{kind}"
        );
        // ctr's command lines (what /proc/PID/cmdline showed): the user, on
        // the pull only, whose stdin was a terminal; never the password.
        let ctr = std::fs::read_to_string(&log).unwrap();
        assert!(!ctr.contains(AUTH_PASSWORD), "{kind}: {ctr}");
        let pulls: Vec<&str> = ctr
            .lines()
            .filter(|l| l.contains(" images pull "))
            .collect();
        assert_eq!(pulls.len(), 1, "{kind}: {ctr}");
        assert!(
            pulls[0].starts_with("tty ") && pulls[0].contains(&format!(" --user {AUTH_USER} ")),
            "{kind}: {ctr}"
        );
    }
    // containerd's resolver asked the token service as the user, and got a token.
    let asked = tokens.requests();
    assert!(
        asked
            .iter()
            .any(|r| r.granted && r.user.as_deref() == Some(AUTH_USER)),
        "{asked:?}"
    );
}

#[test]
fn a_wrong_password_is_one_line_naming_the_registry_without_the_password() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    use lumos_test_support::registry::RegistryOptions;
    use lumos_test_support::token_service::TokenService;
    require_root!();
    const WRONG: &str = "wr0ng-Pa55-9213";
    let tmp = tempfile::tempdir().unwrap();
    let tokens = TokenService::start(tmp.path(), AUTH_USER, AUTH_PASSWORD);
    let basic = Registry::start(RegistryOptions::basic_auth(AUTH_USER, AUTH_PASSWORD));
    let bearer = Registry::start(RegistryOptions {
        auth_section: Some(tokens.registry_config()),
        ..Default::default()
    });
    let (path, log) = logging_ctr(tmp.path());
    for (kind, reg) in [("basic", &basic), ("token", &bearer)] {
        let image = pushed_as_user(reg, tmp.path());
        let out = runner_cold_as(&image, true, Given::Env(WRONG), &path);
        assert!(!out.status.success(), "{kind}");
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert_eq!(err.lines().count(), 1, "{kind}: {err}");
        assert!(
            err.contains(&format!("containerd could not pull {}/", reg.host()))
                && err.contains("refused the credentials from LUMOS_REGISTRY_USER"),
            "{kind}: {err}"
        );
        if kind == "token" {
            assert!(err.contains("the token service of registry"), "{err}");
        }
        assert!(!err.contains(WRONG), "{kind}: {err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains(WRONG));
        assert!(!std::fs::read_to_string(&log).unwrap().contains(WRONG));
    }
}

#[test]
fn a_plain_http_token_service_off_this_machine_is_refused_before_ctr_gets_credentials() {
    let _pages = CRUN_PAGES.read().unwrap_or_else(|p| p.into_inner());
    use lumos_test_support::registry::RegistryOptions;
    use lumos_test_support::token_service::TokenService;
    require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let tokens = TokenService::start(tmp.path(), AUTH_USER, AUTH_PASSWORD);
    // The registry sends clients to a token service at a TEST-NET-1 address
    // (RFC 5737): off this machine, plain HTTP. ctr would post the password there.
    let far = "http://192.0.2.1:9/token";
    let reg = Registry::start(RegistryOptions {
        auth_section: Some(tokens.registry_config().replace(&tokens.realm, far)),
        ..Default::default()
    });
    let (path, log) = logging_ctr(tmp.path());
    let image = format!("{}/lumos/fixture:native-x86_64", reg.host());
    let out = runner_cold_as(&image, true, Given::Env(AUTH_PASSWORD), &path);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "registry {} sends credentials to the plain-HTTP token service {far}; refused",
            reg.host()
        )) && err.contains("--insecure"),
        "{err}"
    );
    assert!(!err.contains(AUTH_PASSWORD), "{err}");
    let ctr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!ctr.contains("images pull"), "{ctr}");
}
