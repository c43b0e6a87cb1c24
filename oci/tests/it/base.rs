//! Native images on a base pulled from a registry: the debian-slim stand-in
//! (mmdebstrap, cached), pushed to a test registry as
//! `library/debian:bookworm-slim`.

use crate::support::*;
use lumos_model::{Arch, Variant};
use lumos_oci::pack::{pack_function, ArtifactInput, BaseCache, BaseSpec};
use lumos_oci::registry::Client;
use lumos_oci::{Error, Layout};
use serde_json::Value;

#[test]
fn native_on_debian_slim_keeps_the_base_and_runs() {
    let reg = Registry::start(RegistryOptions::default());
    let base_ref = push_debian_slim(&reg);
    let base_layout = Layout::open(debian_slim_layout()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let arts = vec![ArtifactInput {
        variant: Variant::Native(Arch::X86_64),
        path: hello_x86_64(),
        engine: None,
    }];
    let base = BaseSpec::parse(&base_ref).unwrap();
    let mut cache = BaseCache::default();
    let packed = pack_function(
        &layout,
        "fibonacci",
        &arts,
        &base,
        &pack_options(),
        &mut cache,
    )
    .unwrap();
    assert_eq!(packed.len(), 2, "native-x86_64 and the native index");

    let m = lumos_oci::image::read_manifest(
        &layout,
        &layout.resolve("lumos/fibonacci:native-x86_64").unwrap(),
    )
    .unwrap();
    assert_eq!(m.layers.len(), 2);
    let base_index =
        lumos_oci::image::read_index(&base_layout, &base_layout.resolve("bookworm-slim").unwrap())
            .unwrap();
    let base_manifest =
        lumos_oci::image::read_manifest(&base_layout, &base_index.manifests[0]).unwrap();
    assert_eq!(
        m.layers[0].digest, base_manifest.layers[0].digest,
        "base layer kept as it is"
    );
    let a = m.annotations.as_ref().unwrap();
    assert_eq!(a["org.opencontainers.image.base.name"], base_ref);
    let config: Value =
        serde_json::from_slice(&layout.read_blob(&m.config.digest).unwrap()).unwrap();
    assert_eq!(
        config["config"]["Env"][0],
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
    assert_eq!(config["config"]["Entrypoint"][0], "/fibonacci");
    assert!(config["config"].get("Cmd").is_none());

    // Packing again (base cached by digest in the layout) gives the same image.
    let layout2 = Layout::create(dir.path().join("oci2")).unwrap();
    pack_function(
        &layout2,
        "fibonacci",
        &arts,
        &base,
        &pack_options(),
        &mut BaseCache::default(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(layout.root().join("index.json")).unwrap(),
        std::fs::read(layout2.root().join("index.json")).unwrap()
    );

    // An architecture the base lacks: one clear error naming what it has.
    let arm = vec![ArtifactInput {
        variant: Variant::Native(Arch::Aarch64),
        path: hello_aarch64(),
        engine: None,
    }];
    let err = pack_function(
        &layout,
        "fibonacci",
        &arm,
        &base,
        &pack_options(),
        &mut cache,
    )
    .unwrap_err();
    assert!(matches!(err, Error::PlatformNotFound { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("linux/arm64") && msg.contains("linux/amd64"),
        "{msg}"
    );

    // Pushed next to it, and unpacked by umoci into a runnable debian rootfs.
    let client = Client::connect(&reg.host(), fast_client()).unwrap();
    let pushed = push_image(&client, &layout, "lumos/fibonacci:native-x86_64").unwrap();
    assert_eq!(pushed[0].stats.blobs_uploaded, 2, "{:?}", pushed[0].stats);
    assert_eq!(
        pushed[0].stats.blobs_mounted, 1,
        "the base layer is mounted from library/debian"
    );
    let bundle = dir.path().join("bundle");
    let rootfs = umoci_unpack(&layout, "lumos/fibonacci:native-x86_64", &bundle);
    assert!(rootfs.join("usr/bin/bash").is_file());
    assert!(rootfs.join("fibonacci").is_file());

    // Our unpack of the same image holds the same files.
    let ours = dir.path().join("ours");
    let stats = lumos_oci::unpack::unpack_image(&layout, &m, &ours, &Default::default()).unwrap();
    assert!(stats.files > 1000, "{stats:?}");
    assert_eq!(
        std::fs::read(ours.join("usr/bin/bash")).unwrap(),
        std::fs::read(rootfs.join("usr/bin/bash")).unwrap()
    );
    assert_eq!(
        std::fs::read_link(ours.join("bin")).unwrap(),
        std::fs::read_link(rootfs.join("bin")).unwrap()
    );

    // runc runs the function on it, through the base's shell.
    let out = runc_run(&bundle, &["/bin/sh", "-c", "/fibonacci from-debian"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "lumos-hello: from-debian"
    );
}
