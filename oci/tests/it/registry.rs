//! Push and pull against a real `docker-registry` (plain, htpasswd, TLS),
//! checked with skopeo; the failure cases of the issue.

use std::path::PathBuf;

use lumos_model::{Arch, Variant};
use lumos_oci::pack::{pack_function, BaseCache, BaseSpec};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use lumos_oci::reference::Reference;
use lumos_oci::registry::{auth::Found, pull, push_layout, Client, Credentials, PushStats};
use lumos_oci::{Error, Layout, Platform};
use serde_json::Value;

fn total(pushed: &[lumos_oci::registry::PushedImage]) -> PushStats {
    let mut t = PushStats::default();
    for p in pushed {
        t.add(&p.stats);
    }
    t
}

/// The config and layer blobs the layout's images reference, each once.
fn distinct_blobs(layout: &Layout) -> usize {
    let mut blobs = std::collections::BTreeSet::new();
    let mut todo: Vec<_> = layout.refs().unwrap().into_iter().map(|(_, d)| d).collect();
    while let Some(desc) = todo.pop() {
        let doc: Value = serde_json::from_slice(&layout.read_document(&desc).unwrap()).unwrap();
        for child in doc["manifests"].as_array().into_iter().flatten() {
            todo.push(serde_json::from_value(child.clone()).unwrap());
        }
        let config = doc.get("config").into_iter();
        for blob in config.chain(doc["layers"].as_array().into_iter().flatten()) {
            blobs.insert(blob["digest"].as_str().unwrap().to_string());
        }
    }
    blobs.len()
}

fn skopeo(args: &[&str]) -> String {
    require("skopeo");
    run(Command::new("skopeo").args(args))
}

#[test]
fn push_then_skopeo_reads_copies_back_and_repush_uploads_nothing() {
    let reg = Registry::start(RegistryOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let layout = packed_fibonacci(&dir.path().join("oci"));
    let client = Client::connect(&reg.host(), fast_client()).unwrap();
    assert!(
        client.base_url().starts_with("http://"),
        "loopback plain HTTP"
    );
    let pushed = push_layout(&client, &layout, "bench", "v1-", &[], |_| {}).unwrap();
    assert_eq!(pushed.len(), 6);
    let first = total(&pushed);
    // Four workers push the six images at once and several images share
    // blobs: each blob goes up exactly once (two uploads of one blob race
    // in the registry's link file and fail a manifest PUT).
    assert_eq!(first.blobs_uploaded, distinct_blobs(&layout), "{first:?}");
    let refs: Vec<&str> = pushed.iter().map(|p| p.reference.as_str()).collect();
    assert!(
        refs.contains(&format!("{}/bench/fibonacci:v1-native", reg.host()).as_str()),
        "{refs:?}"
    );

    // skopeo sees the annotations and platform through the registry.
    let raw: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/bench/fibonacci:v1-wasm", reg.host()),
    ]))
    .unwrap();
    assert_eq!(
        raw["annotations"]["module.wasm.image/variant"],
        "compat-smart"
    );
    let wasm = pushed
        .iter()
        .find(|p| p.local_name == "lumos/fibonacci:wasm")
        .unwrap();
    let inspect: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}/bench/fibonacci:v1-wasm", reg.host()),
    ]))
    .unwrap();
    assert_eq!(inspect["Digest"], wasm.digest.to_string());
    assert_eq!(inspect["Os"], "wasi");
    assert_eq!(inspect["Architecture"], "wasm");

    // skopeo copy back to an OCI layout keeps every digest.
    for (tag, local) in [
        ("v1-native", "lumos/fibonacci:native"),
        ("v1-native-x86_64", "lumos/fibonacci:native-x86_64"),
        (
            "v1-aot-wasmtime-x86_64",
            "lumos/fibonacci:aot-wasmtime-x86_64",
        ),
    ] {
        let back = dir.path().join(format!("back-{tag}"));
        skopeo(&[
            "copy",
            "-q",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            &format!("docker://{}/bench/fibonacci:{tag}", reg.host()),
            &format!("oci:{}:x", back.display()),
        ]);
        let copied = Layout::open(&back).unwrap().resolve("x").unwrap();
        assert_eq!(
            copied.digest,
            layout.resolve(local).unwrap().digest,
            "{tag}"
        );
    }

    // A re-push of unchanged images uploads nothing.
    let client = Client::connect(&reg.host(), fast_client()).unwrap();
    let started = Instant::now();
    let again = total(&push_layout(&client, &layout, "bench", "v1-", &[], |_| {}).unwrap());
    assert_eq!(again.blobs_uploaded, 0, "{again:?}");
    assert_eq!(again.manifests_put, 0, "{again:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Pull back the arm64 manifest of the index and unpack it.
    let cache = Layout::create(dir.path().join("pulled")).unwrap();
    let r = Reference::parse(&format!("{}/bench/fibonacci:v1-native", reg.host())).unwrap();
    let pulled = pull(&client, &cache, &r, Some(&Platform::new("linux", "arm64"))).unwrap();
    let local = layout.resolve("lumos/fibonacci:native-aarch64").unwrap();
    assert_eq!(pulled.descriptor.digest, local.digest);
    assert!(pulled.index.is_some());
    assert!(pulled.bytes_downloaded > 0);
    let rootfs = dir.path().join("rootfs");
    lumos_oci::unpack::unpack_image(&cache, &pulled.manifest, &rootfs, &Default::default())
        .unwrap();
    assert_eq!(
        std::fs::read(rootfs.join("fibonacci")).unwrap(),
        std::fs::read(hello_aarch64()).unwrap()
    );
    // Pulling again is served from the layout.
    let again = pull(&client, &cache, &r, Some(&Platform::new("linux", "arm64"))).unwrap();
    assert_eq!(again.bytes_downloaded, 0);
    // A platform the index lacks is named in the error.
    let err = pull(&client, &cache, &r, Some(&Platform::new("linux", "s390x"))).unwrap_err();
    assert!(matches!(err, Error::PlatformNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("linux/amd64, linux/arm64"),
        "{err}"
    );
}

#[test]
fn basic_auth_push_and_a_clear_401_without_secrets() {
    let reg = Registry::start(RegistryOptions::basic_auth("lumos", "pa55-w0rd-xyz"));
    let dir = tempfile::tempdir().unwrap();
    let layout = packed_fibonacci(&dir.path().join("oci"));

    // No credentials: one clear error naming the registry and the lookup order.
    let client = Client::connect(&reg.host(), fast_client()).unwrap();
    let err = push_layout(&client, &layout, "lumos", "", &[], |_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Unauthorized { .. }), "{msg}");
    assert!(
        msg.contains(&reg.host())
            && msg.contains("LUMOS_REGISTRY_USER")
            && msg.contains("config.json"),
        "{msg}"
    );

    // Wrong password: refused, and the secret appears nowhere.
    let mut opts = fast_client();
    opts.credentials = Some(Found {
        credentials: Some(Credentials {
            username: "lumos".into(),
            password: "wrong-s3cret-abc".into(),
        }),
        source: "LUMOS_REGISTRY_USER/LUMOS_REGISTRY_PASSWORD".into(),
    });
    let client = Client::connect(&reg.host(), opts).unwrap();
    let err = push_layout(&client, &layout, "lumos", "", &[], |_| {}).unwrap_err();
    let shown = format!("{err} {err:?} {client:?}");
    assert!(matches!(err, Error::Unauthorized { .. }), "{shown}");
    assert!(!shown.contains("wrong-s3cret-abc"), "{shown}");

    // From a Docker config `auths` entry: works.
    let cfg = dir.path().join("config.json");
    let auth = base64_encode("lumos:pa55-w0rd-xyz");
    std::fs::write(
        &cfg,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    let mut opts = fast_client();
    opts.credentials =
        Some(lumos_oci::registry::auth::lookup_with(&reg.host(), Some(&cfg), |_| None).unwrap());
    let client = Client::connect(&reg.host(), opts).unwrap();
    let pushed = push_layout(&client, &layout, "lumos", "", &[], |_| {}).unwrap();
    assert_eq!(pushed.len(), 6);
    assert!(!client.credentials_source().contains("pa55"));
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn tls_registry_with_a_test_ca() {
    let reg = Registry::start(RegistryOptions {
        htpasswd: None,
        tls: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let layout = packed_fibonacci(&dir.path().join("oci"));
    // Without the CA: refused (and plain HTTP to a TLS port does not pass either).
    let err = Client::connect(&reg.host(), fast_client()).unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    let mut opts = fast_client();
    opts.ca_cert = reg.ca.clone();
    let client = Client::connect(&reg.host(), opts).unwrap();
    assert!(client.base_url().starts_with("https://"));
    let pushed = push_image(&client, &layout, "lumos/fibonacci:wasm").unwrap();
    assert_eq!(pushed.len(), 1);
    let ca = reg.ca.as_ref().unwrap().display().to_string();
    let _ = ca;
    let inspect = skopeo(&[
        "inspect",
        "--raw",
        &format!("--cert-dir={}", dir.path().join("skopeo-certs").display()),
        "--tls-verify=false",
        &format!("docker://{}/lumos/fibonacci:wasm", reg.host()),
    ]);
    assert!(inspect.contains("compat-smart"));
}

#[test]
fn unreachable_registry_fails_after_retries_and_leaves_the_layout_alone() {
    let dir = tempfile::tempdir().unwrap();
    let layout = packed_fibonacci(&dir.path().join("oci"));
    let before = std::fs::read(layout.root().join("index.json")).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let err = Client::connect(&format!("127.0.0.1:{port}"), fast_client()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Unreachable { attempts: 3, .. }),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && !msg.contains('\n'),
        "{msg}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "backoff was applied"
    );
    assert_eq!(
        std::fs::read(layout.root().join("index.json")).unwrap(),
        before
    );
}

#[test]
fn a_corrupt_local_blob_is_caught_before_upload() {
    let reg = Registry::start(RegistryOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let layout = packed_fibonacci(&dir.path().join("oci"));
    let m = lumos_oci::image::read_manifest(
        &layout,
        &layout.resolve("lumos/fibonacci:native-x86_64").unwrap(),
    )
    .unwrap();
    let layer = &m.layers[0];
    let path = layout.blob_path(&layer.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let client = Client::connect(&reg.host(), fast_client()).unwrap();
    let err = push_image(&client, &layout, "lumos/fibonacci:native-x86_64").unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    let url = format!(
        "http://{}/v2/lumos/fibonacci/blobs/{}",
        reg.host(),
        layer.digest
    );
    let status = ureq::head(&url)
        .call()
        .map(|r| r.status())
        .unwrap_or_else(|e| match e {
            ureq::Error::Status(s, _) => s,
            other => panic!("{other}"),
        });
    assert_eq!(status, 404, "the corrupt blob must not reach the registry");
}

#[test]
fn a_corrupt_blob_in_the_registry_is_caught_while_pulling() {
    let reg = Registry::start(RegistryOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let layout = packed_fibonacci(&dir.path().join("oci"));
    let client = Client::connect(&reg.host(), fast_client()).unwrap();
    push_image(&client, &layout, "lumos/fibonacci:native-x86_64").unwrap();
    let m = lumos_oci::image::read_manifest(
        &layout,
        &layout.resolve("lumos/fibonacci:native-x86_64").unwrap(),
    )
    .unwrap();
    let d = &m.layers[0].digest;
    let data = reg.storage().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{}/data",
        &d.hex()[..2],
        d.hex()
    ));
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[10] ^= 0x55;
    std::fs::write(&data, bytes).unwrap();
    let cache = Layout::create(dir.path().join("cache")).unwrap();
    let r = Reference::parse(&format!("{}/lumos/fibonacci:native-x86_64", reg.host())).unwrap();
    let err = pull(&client, &cache, &r, None).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(!cache.has_blob(d));
}

fn example_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/lumos-oci");
    assert!(
        bin.is_file(),
        "{} missing: cargo test builds examples",
        bin.display()
    );
    bin
}

#[test]
fn a_push_killed_half_way_completes_on_the_next_run() {
    let reg = Registry::start(RegistryOptions::default());
    let dir = tempfile::tempdir().unwrap();
    // A big, incompressible function so the upload takes a while.
    let big = dir.path().join("big");
    let mut data = vec![0u8; 96 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(&big, &data).unwrap();
    drop(data);
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let arts = vec![
        lumos_oci::pack::ArtifactInput {
            variant: Variant::Wasm,
            path: hello_wasm(),
            engine: None,
        },
        lumos_oci::pack::ArtifactInput {
            variant: Variant::Native(Arch::X86_64),
            path: big,
            engine: None,
        },
    ];
    pack_function(
        &layout,
        "big",
        &arts,
        &BaseSpec::Scratch,
        &pack_options(),
        &mut BaseCache::default(),
    )
    .unwrap();

    let mut child = Command::new(example_bin())
        .args(["push"])
        .arg(layout.root())
        .arg(format!("{}/lumos", reg.host()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it once the first blob (the native config) is in, while the big
    // layer is on its way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while reg.stored_blobs() < 1 {
        assert!(Instant::now() < deadline, "push made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "push finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // An upload whose bytes were all sent may still be committed after the
    // client is gone: let the registry settle before counting.
    std::thread::sleep(Duration::from_millis(500));
    let stored = reg.stored_blobs();
    assert!(stored < 3, "the kill came too late ({stored} blobs stored)");

    let out = run(Command::new(example_bin())
        .args(["push"])
        .arg(layout.root())
        .arg(format!("{}/lumos", reg.host())));
    let summary: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["images"], 3, "{out}");
    let uploaded = summary["blobs_uploaded"].as_u64().unwrap();
    let present = summary["blobs_present"].as_u64().unwrap();
    // Four blobs in all (config and layer of each of the two images): the
    // ones stored before the kill are found, only the others are sent.
    assert_eq!(uploaded + present, 4, "{out}");
    assert_eq!(present as usize, stored, "{out}");
    assert!(uploaded >= 1 && present >= 1, "{out}");
    let inspect = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/lumos/big:native", reg.host()),
    ]);
    assert!(inspect.contains("linux"));
}
