//! Images pushed to a real registry (docker-registry on a loopback port),
//! pulled and unpacked with lumos-oci, cold starts proven cold and timed.

use crate::common::*;
use lumos_runtimes::{Protocol, Runner, Runtime};
use std::time::Duration;

#[test]
fn cold_runs_from_a_real_registry() {
    require("runc");
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout(tmp.path());
    let cases = [
        ("t/fixture:native-x86_64", "native", Runtime::Native),
        ("t/fixture:wasm", "wasm", Runtime::WasmtimeJit),
        ("t/fixture:wasm", "wasm", Runtime::WasmiInterp),
        (
            "t/fixture:aot-wasmtime-x86_64",
            "aot-wasmtime-x86_64",
            Runtime::WasmtimeAot,
        ),
    ];
    let runner = Runner::new(opts()).unwrap();
    for (name, tag, rt) in cases {
        let image = reg.push(&layout, name, "lumos/fixture", tag);
        let want_digest = lumos_oci::Layout::open(&layout)
            .unwrap()
            .resolve(name)
            .unwrap()
            .digest
            .to_string();
        let t = std::time::Instant::now();
        let a = runner.run_cold(&image, rt, br#"{"op":"noop"}"#).unwrap();
        let outside = t.elapsed().as_secs_f64() * 1e3;
        // The runner's own total fits inside the time the call took, seen from outside.
        assert!(
            a.cold_start_ms.unwrap().total <= outside,
            "{rt}: total {:?} > {outside} ms",
            a.cold_start_ms
        );
        let b = runner.run_cold(&image, rt, br#"{"op":"noop"}"#).unwrap();
        for r in [&a, &b] {
            assert_eq!(r.errors, 0, "{rt}: {:?}", r.error_samples);
            // Cold: an empty cache, the pull timed, the image digest recorded.
            assert!(r.cache.was_empty, "{rt}: the cache was not empty");
            assert!(r.cache.dir.is_none());
            assert_eq!(
                r.image.digest.as_deref(),
                Some(want_digest.as_str()),
                "{rt}"
            );
            assert!(
                r.image.compressed_bytes > 0 && r.image.unpacked_bytes > 0,
                "{rt}: {:?}",
                r.image
            );
            let c = r.cold_start_ms.unwrap();
            let (pull, unpack) = (c.pull.unwrap(), c.unpack.unwrap());
            assert!(
                pull > 0.0
                    && unpack > 0.0
                    && c.start > 0.0
                    && c.ready > 0.0
                    && c.first_response > 0.0,
                "{rt}: {c:?}"
            );
            // The phases are taken back to back: they sum to the total within a little bookkeeping.
            let sum = pull + unpack + c.start + c.ready + c.first_response;
            assert!(
                sum <= c.total + 0.01,
                "{rt}: phases {sum} > total {}",
                c.total
            );
            assert!(
                c.total - sum < 0.5 + 0.05 * c.total,
                "{rt}: phases {sum} ms vs total {} ms",
                c.total
            );
            assert_eq!(r.instances.len(), 1);
            assert!(
                r.machine.cores >= 1
                    && !r.machine.kernel.is_empty()
                    && !r.machine.cpu_model.is_empty()
            );
            assert!(!r.versions.wasmtime.is_empty());
            assert_eq!(r.payload.bytes, 13);
            assert_eq!(r.payload.sha256.len(), 64);
        }
        // A new instance each time.
        assert_ne!(
            a.instances, b.instances,
            "{rt}: a cold run reused an instance"
        );
        // The image bytes on the wire are the layout's own.
        if rt == Runtime::WasmtimeAot {
            assert!(a.image.unpacked_bytes >= std::fs::metadata(&fixtures().cwasm).unwrap().len());
        }
    }
}

#[test]
fn a_second_run_starts_from_the_local_cache() {
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout(tmp.path());
    let image = reg.push(
        &layout,
        "t/fixture:aot-wasmtime-x86_64",
        "lumos/fixture",
        "aot-wasmtime-x86_64",
    );
    let mut o = opts();
    o.cache_dir = Some(tmp.path().join("cache"));
    let runner = Runner::new(o).unwrap();
    let first = runner
        .run_cold(&image, Runtime::WasmtimeAot, br#"{"op":"noop"}"#)
        .unwrap();
    assert!(first.cache.was_empty);
    assert!(first.cold_start_ms.unwrap().pull.unwrap() > 0.0);
    let second = runner
        .run_cold(&image, Runtime::WasmtimeAot, br#"{"op":"noop"}"#)
        .unwrap();
    assert!(
        !second.cache.was_empty,
        "the second run found the image in the cache"
    );
    let c = second.cold_start_ms.unwrap();
    // Nothing unpacked; `pull` is only the registry's answer for the tag's digest.
    assert_eq!(c.unpack, Some(0.0));
    assert!(c.pull.unwrap() > 0.0, "{c:?}");
    assert_eq!(second.image.digest, first.image.digest);
    assert_ne!(second.instances, first.instances);
}

#[test]
fn runs_from_a_local_oci_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout(tmp.path());
    let runner = Runner::new(opts()).unwrap();
    let image = format!("oci:{}:t/fixture:wasm", layout.display());
    let r = runner
        .run_warm(&image, Runtime::WasmtimeJit, br#"{"op":"noop"}"#)
        .unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert_eq!(r.function, "fixture");
    assert!(r.image.digest.is_some());
    let e = runner
        .run_cold(
            &format!("oci:{}", layout.display()),
            Runtime::WasmtimeJit,
            b"{}",
        )
        .unwrap_err();
    assert!(e.to_string().contains("name one"), "{e}");
}

use lumos_test_support::faulty;

/// `lumos-runner cold` against real faulty registries on loopback: with
/// `--registry-timeout 2` it fails by then with one line naming the host
/// and what it waited for (before: about 50 minutes, silently).
#[test]
fn runner_cold_ends_at_the_registry_deadline_with_one_line() {
    for fault in [faulty::Fault::Silent, faulty::Fault::TrickleHeaders] {
        let server = faulty::Faulty::start(fault);
        let t = std::time::Instant::now();
        let out = std::process::Command::new(runner_exe())
            .args(["cold", &format!("{}/lumos/fixture:wasm", server.addr)])
            .args(["--runtime", "wasmtime-jit", "--registry-timeout", "2"])
            .output()
            .unwrap();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "{fault:?}: {:?}",
            t.elapsed()
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{fault:?}: {err}");
        let want = format!("registry {}: no answer to GET /v2/ within 2 s", server.addr);
        assert!(
            err.lines().any(|l| l.contains(&want)),
            "{fault:?}: wanted `{want}` in:\n{err}"
        );
    }
    // Range-checked at parse time.
    let out = std::process::Command::new(runner_exe())
        .args(["cold", "127.0.0.1:1/x:y", "--runtime", "wasmtime-jit"])
        .args(["--registry-timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--registry-timeout"));
}

/// A local layout whose index.json names its image with an unknown media
/// type, or whose manifest is 5 MiB: refused, naming the media type or the
/// limit, and nothing is unpacked.
#[test]
fn runner_refuses_unknown_media_types_and_huge_manifests_in_a_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let src = layout(tmp.path());
    let l = lumos_oci::Layout::open(&src).unwrap();
    let good = l.resolve("t/fixture:wasm").unwrap();
    let mut evil = good.clone();
    evil.media_type = "application/x-evil".into();
    let m = lumos_oci::image::read_manifest(&l, &good).unwrap();
    let mut huge = m.clone();
    huge.annotations
        .get_or_insert_with(Default::default)
        .insert("pad".into(), "x".repeat(5 << 20));
    let bytes = lumos_oci::spec::to_bytes(&huge);
    l.write_blob(&bytes).unwrap();
    let huge_desc = lumos_oci::Descriptor::of(lumos_oci::spec::media::MANIFEST, &bytes);
    l.set_refs(&[("evil".into(), evil), ("huge".into(), huge_desc)])
        .unwrap();
    for (name, want) in [("evil", "`application/x-evil`"), ("huge", "4194304")] {
        let cache = tmp.path().join(format!("cache-{name}"));
        let out = std::process::Command::new(runner_exe())
            .args(["cold", &format!("oci:{}:{name}", src.display())])
            .args(["--runtime", "wasmtime-jit", "--cache"])
            .arg(&cache)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: {err}");
        assert!(err.contains(want), "{name}: wanted {want} in:\n{err}");
        let unpacked = std::fs::read_dir(cache.join("rootfs")).map_or(0, |d| d.count());
        assert_eq!(unpacked, 0, "{name}: something was unpacked");
    }
}

/// A kept cache never serves a digest the tag has left: the tag is asked
/// for its current digest, and a moved tag is pulled anew.
#[test]
fn a_moved_tag_is_pulled_again_from_a_kept_cache() {
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout(tmp.path());
    let mut o = opts();
    o.cache_dir = Some(tmp.path().join("cache"));
    let runner = Runner::new(o).unwrap();
    let body = br#"{"op":"noop"}"#;
    let image = reg.push(&layout, "t/fixture:wasm", "lumos/fixture", "moving");
    let first = runner.run_cold(&image, Runtime::WasmtimeJit, body).unwrap();
    assert!(first.cache.was_empty);
    // The same tag now names another image (same module, another config).
    let other = lumos_test_support::hostile::Image::new(
        serde_json::json!({ "Entrypoint": ["/fixture.wasm"], "Labels": { "moved": "yes" } }),
        vec![vec![lumos_test_support::hostile::Entry::File(
            "fixture.wasm".into(),
            wasm_fixture(),
            0o644,
        )]],
    )
    .write(&tmp.path().join("other"), "t/other:wasm");
    reg.push(&other, "t/other:wasm", "lumos/fixture", "moving");
    let want = lumos_oci::Layout::open(&other)
        .unwrap()
        .resolve("t/other:wasm")
        .unwrap()
        .digest
        .to_string();
    assert_ne!(first.image.digest.as_deref(), Some(want.as_str()));
    let second = runner.run_cold(&image, Runtime::WasmtimeJit, body).unwrap();
    assert_eq!(second.errors, 0, "{:?}", second.error_samples);
    assert_eq!(
        second.image.digest.as_deref(),
        Some(want.as_str()),
        "the cache served the digest the tag had left"
    );
    assert!(second.cache.was_empty, "a moved tag is a new image: cold");
    assert!(second.cold_start_ms.unwrap().unpack.unwrap() > 0.0);
    // Unmoved: from the cache.
    let third = runner.run_cold(&image, Runtime::WasmtimeJit, body).unwrap();
    assert!(!third.cache.was_empty);
    assert_eq!(third.image.digest.as_deref(), Some(want.as_str()));
}

/// Images carry `dev.lumos.protocol`: a stdio function runs as stdio without
/// `--protocol`. Without the label, a readiness failure says what it waited
/// for, for how long, that the protocol was assumed, and what the instance
/// printed (here: nothing).
#[test]
fn an_image_says_how_its_function_is_invoked() {
    use lumos_model::Arch;
    use lumos_oci::image::{pack_native, ImageMeta};
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("oci");
    let layout = lumos_oci::Layout::create(&root).unwrap();
    let exe = std::fs::read(&fixtures().native_stdio).unwrap();
    let meta = ImageMeta {
        namespace: "t".into(),
        function: "fixture-stdio".into(),
        created: 0,
        source: None,
        revision: None,
        protocol: Some(Protocol::Stdio),
    };
    let labelled = pack_native(&layout, &meta, &exe, Arch::X86_64, None).unwrap();
    let bare = pack_native(
        &layout,
        &ImageMeta {
            namespace: "u".into(),
            protocol: None,
            ..meta.clone()
        },
        &exe,
        Arch::X86_64,
        None,
    )
    .unwrap();
    layout
        .set_refs(&[
            (labelled.name.clone(), labelled.descriptor.clone()),
            (bare.name.clone(), bare.descriptor.clone()),
        ])
        .unwrap();
    let mut o = opts();
    o.sandbox = Some(lumos_runtimes::Sandbox::Process);
    o.limits.start_timeout = Duration::from_secs(2);
    let runner = Runner::new(o).unwrap();
    let image = reg.push(&root, &labelled.name, "lumos/fixture-stdio", "labelled");
    let r = runner
        .run_cold(&image, Runtime::Native, br#"{"op":"echo"}"#)
        .unwrap();
    assert_eq!(r.protocol, Protocol::Stdio);
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    let image = reg.push(&root, &bare.name, "lumos/fixture-stdio", "bare");
    let e = runner
        .run_cold(&image, Runtime::Native, br#"{"op":"echo"}"#)
        .unwrap_err()
        .to_string();
    for want in [
        "not ready within 2s",
        "a HELLO frame",
        "no dev.lumos.protocol label",
        "--protocol",
        "no output",
    ] {
        assert!(e.contains(want), "{want:?} missing from: {e}");
    }
    assert!(!e.contains('\n'), "{e}");
}
