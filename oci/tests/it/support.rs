//! lumos-oci's own test helpers: the `fibonacci` test function packed with
//! every variant, a test client, the debian-slim stand-in built once with
//! mmdebstrap and cached, umoci/runc runs. What other crates' tests share
//! (tool lookup, the registry, faulty servers, the token service, the
//! compiled `hello` programs) comes from lumos-test-support.

pub use lumos_test_support::fixtures::{hello_aarch64, hello_wasm, hello_x86_64};
pub use lumos_test_support::images::{fast_client, pack_options, packed_fibonacci, push_image};
pub use lumos_test_support::{faulty, token_service};
pub use lumos_test_support::{require, run, Registry, RegistryOptions};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The folder of cached artifacts shared by the tests of one target dir.
pub fn cache_dir() -> PathBuf {
    lumos_test_support::fixtures::hello_cache()
}

/// Asserts that `err` says, on one line, that the `service` (`registry`,
/// `token service`) at `addr` did not answer `request` within `secs`
/// seconds; returns the message.
pub fn assert_no_answer(
    err: &lumos_oci::Error,
    service: &str,
    addr: &str,
    request: &str,
    secs: u64,
) -> String {
    let msg = err.to_string();
    let want = format!("{service} {addr}: no answer to {request} within {secs} s");
    assert!(msg.starts_with(&want), "{msg}\ndoes not start with\n{want}");
    assert!(!msg.contains('\n'), "{msg}");
    msg
}

/// umoci's unpack of the image `name` of `layout` into the bundle `bundle`;
/// returns the bundle's root filesystem.
pub fn umoci_unpack(layout: &lumos_oci::Layout, name: &str, bundle: &Path) -> PathBuf {
    require("umoci");
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:{name}", layout.root().display()))
        .arg(bundle));
    bundle.join("rootfs")
}

/// Runs the umoci bundle `bundle` with runc in the foreground (no terminal,
/// no network namespace) as `args`, with `stdin` as its input; the container
/// is deleted afterwards.
pub fn runc_run(bundle: &Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let runc = require("runc");
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = serde_json::Value::Bool(false);
    cfg["process"]["args"] = serde_json::json!(args);
    if let Some(ns) = cfg["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
    }
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let id = format!(
        "lumos-oci-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut child = Command::new(&runc)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(&id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = Command::new(&runc).args(["delete", "-f", &id]).output();
    out
}

/// The debian:bookworm-slim stand-in as an OCI layout (tag `bookworm-slim`),
/// built with mmdebstrap once and cached in the target dir.
pub fn debian_slim_layout() -> PathBuf {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = cache_dir().join("debian-bookworm-slim");
        let lock = std::fs::File::create(cache_dir().join("debian.lock")).unwrap();
        lock.lock().unwrap();
        if !dir.join("index.json").is_file() {
            build_debian_slim(&dir);
        }
        drop(lock);
        dir
    })
    .clone()
}

fn build_debian_slim(out: &Path) {
    require("mmdebstrap");
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("rootfs.tar");
    let mut cmd = Command::new("mmdebstrap");
    cmd.env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "--quiet",
            "--variant=minbase",
            "--mode=root",
            "--format=tar",
        ])
        .arg("--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr");
    for d in ["man", "doc", "locale", "info"] {
        cmd.arg(format!("--dpkgopt=path-exclude=/usr/share/{d}/*"));
    }
    cmd.arg("bookworm").arg(&tar);
    run(&mut cmd);
    // One deterministic gzip layer of the tarball as it is.
    let mut raw = Vec::new();
    std::fs::File::open(&tar)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let diff_id = lumos_oci::Digest::sha256(&raw);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::new(6));
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let blob = gz.finish().unwrap();
    let tmp = out.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let layout = lumos_oci::Layout::create(&tmp).unwrap();
    let layer_digest = layout.write_blob(&blob).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["bash"],
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "mmdebstrap --variant=minbase bookworm"}],
    });
    let config = serde_json::to_vec(&config).unwrap();
    let cd = layout.write_blob(&config).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": blob.len()}],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let md = layout.write_blob(&manifest).unwrap();
    let mut mdesc =
        lumos_oci::Descriptor::new(lumos_oci::spec::media::MANIFEST, md, manifest.len() as u64);
    mdesc.platform = Some(lumos_oci::Platform::new("linux", "amd64"));
    // An index with the one platform, as Docker Hub serves it.
    let index = lumos_oci::Index {
        manifests: vec![mdesc],
        ..lumos_oci::Index::empty()
    };
    let index = lumos_oci::spec::to_bytes(&index);
    let id = layout.write_blob(&index).unwrap();
    layout
        .set_refs(&[(
            "bookworm-slim".into(),
            lumos_oci::Descriptor::new(lumos_oci::spec::media::INDEX, id, index.len() as u64),
        )])
        .unwrap();
    let _ = std::fs::remove_dir_all(out);
    std::fs::rename(&tmp, out).unwrap();
}

/// Pushes the debian stand-in to `reg` as `library/debian:bookworm-slim`
/// and returns the reference to use as a base.
pub fn push_debian_slim(reg: &Registry) -> String {
    let layout = lumos_oci::Layout::open(debian_slim_layout()).unwrap();
    let desc = layout.resolve("bookworm-slim").unwrap();
    let client = lumos_oci::registry::Client::connect(&reg.host(), fast_client()).unwrap();
    let mut stats = lumos_oci::registry::PushStats::default();
    lumos_oci::registry::push(
        &client,
        &layout,
        &desc,
        "library/debian",
        Some("bookworm-slim"),
        &mut stats,
    )
    .unwrap();
    format!("{}/library/debian:bookworm-slim", reg.host())
}
