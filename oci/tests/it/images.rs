//! Packed images against the real tools: skopeo, umoci, oci-image-tool, runc;
//! reproducibility from clean layouts; unpack compared with umoci's.

use lumos_model::Variant;
use lumos_oci::pack::{pack_function, BaseCache, BaseSpec};
use std::process::Command;

use crate::support::*;
use lumos_oci::{spec::annotation, Layout};
use serde_json::Value;

fn skopeo_json(args: &[&str]) -> Value {
    require("skopeo");
    let out = run(Command::new("skopeo").args(args));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo {args:?}: {e}: {out}"))
}

#[test]
fn two_clean_packs_are_byte_identical() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let la = packed_fibonacci(&a.path().join("oci"));
    let lb = packed_fibonacci(&b.path().join("oci"));
    let ia = std::fs::read(la.root().join("index.json")).unwrap();
    let ib = std::fs::read(lb.root().join("index.json")).unwrap();
    assert_eq!(ia, ib, "index.json differs");
    let refs = la.refs().unwrap();
    assert_eq!(refs.len(), 6, "{refs:?}");
    let mut files_a: Vec<_> = std::fs::read_dir(la.root().join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut files_b: Vec<_> = std::fs::read_dir(lb.root().join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    files_a.sort();
    files_b.sort();
    assert_eq!(files_a, files_b, "blob sets differ");
    for f in files_a {
        assert_eq!(
            std::fs::read(la.root().join("blobs/sha256").join(&f)).unwrap(),
            std::fs::read(lb.root().join("blobs/sha256").join(&f)).unwrap()
        );
    }
    // Packing again into the same layout changes nothing.
    let again = packed_fibonacci(la.root());
    assert_eq!(std::fs::read(again.root().join("index.json")).unwrap(), ia);
}

#[test]
fn skopeo_reads_names_annotations_platforms_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let layout = packed_fibonacci(&dir.path().join("oci"));
    let root = layout.root().display().to_string();

    let raw = skopeo_json(&[
        "inspect",
        "--raw",
        &format!("oci:{root}:lumos/fibonacci:wasm"),
    ]);
    let a = &raw["annotations"];
    assert_eq!(a[annotation::WASM_VARIANT], "compat-smart");
    assert_eq!(a[annotation::CREATED], "2023-11-14T22:13:20Z");
    assert_eq!(a[annotation::SOURCE], "https://example.invalid/lumos");
    assert_eq!(
        a[annotation::REVISION],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(a[annotation::LUMOS_FUNCTION], "fibonacci");
    assert_eq!(a[annotation::LUMOS_VARIANT], "wasm");
    assert_eq!(a[annotation::LUMOS_PROTOCOL], "lumos");
    let config = skopeo_json(&[
        "inspect",
        "--config",
        &format!("oci:{root}:lumos/fibonacci:wasm"),
    ]);
    assert_eq!(config["os"], "wasi");
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["config"]["Entrypoint"][0], "/fibonacci.wasm");
    assert_eq!(
        config["config"]["Labels"][annotation::WASM_VARIANT],
        "compat-smart"
    );

    let aot = skopeo_json(&[
        "inspect",
        "--raw",
        &format!("oci:{root}:lumos/fibonacci:aot-wasmedge-aarch64"),
    ]);
    assert_eq!(
        aot["annotations"][annotation::LUMOS_AOT_ENGINE],
        "wasmedge-0.14.1"
    );
    assert_eq!(aot["annotations"][annotation::LUMOS_AOT_ARCH], "aarch64");
    assert_eq!(aot["annotations"][annotation::WASM_VARIANT], "compat-smart");

    let index = skopeo_json(&[
        "inspect",
        "--raw",
        &format!("oci:{root}:lumos/fibonacci:native"),
    ]);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    for (tag, arch) in [("native-x86_64", "amd64"), ("native-aarch64", "arm64")] {
        let c = skopeo_json(&[
            "inspect",
            "--config",
            &format!("oci:{root}:lumos/fibonacci:{tag}"),
        ]);
        assert_eq!(c["architecture"], arch);
        assert_eq!(c["os"], "linux");
        assert_eq!(c["config"]["Entrypoint"][0], "/fibonacci");
    }
}

#[test]
fn oci_image_tool_validates_every_compat_image() {
    // oci-image-tool's `--ref` filter calls any multi-entry index.json "not
    // unique", so each image is validated through a view holding only it.
    require("oci-image-tool");
    let dir = tempfile::tempdir().unwrap();
    let layout = packed_fibonacci(&dir.path().join("oci"));
    let mut validated = 0;
    for (name, desc) in layout.refs().unwrap() {
        let view = dir.path().join(format!("view-{validated}"));
        std::fs::create_dir_all(&view).unwrap();
        std::fs::copy(layout.root().join("oci-layout"), view.join("oci-layout")).unwrap();
        std::fs::create_dir_all(view.join("blobs/sha256")).unwrap();
        for blob in std::fs::read_dir(layout.root().join("blobs/sha256")).unwrap() {
            let blob = blob.unwrap();
            std::fs::hard_link(
                blob.path(),
                view.join("blobs/sha256").join(blob.file_name()),
            )
            .unwrap();
        }
        let index = lumos_oci::Index {
            manifests: vec![desc.clone()],
            ..lumos_oci::Index::empty()
        };
        std::fs::write(view.join("index.json"), lumos_oci::spec::to_bytes(&index)).unwrap();
        let out = Command::new("oci-image-tool")
            .args(["validate", "--type", "image"])
            .arg(&view)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.contains("Validation succeeded"),
            "{name}: {text}"
        );
        validated += 1;
    }
    assert_eq!(validated, 6);
}

#[test]
fn umoci_unpacks_and_runc_runs_the_native_scratch_image() {
    let dir = tempfile::tempdir().unwrap();
    let layout = packed_fibonacci(&dir.path().join("oci"));
    let bundle = dir.path().join("bundle");
    let rootfs = umoci_unpack(&layout, "lumos/fibonacci:native-x86_64", &bundle);
    assert!(rootfs.join("fibonacci").is_file());

    // Our own unpack gives the same file.
    let manifest = lumos_oci::image::read_manifest(
        &layout,
        &layout.resolve("lumos/fibonacci:native-x86_64").unwrap(),
    )
    .unwrap();
    let ours = dir.path().join("ours");
    let stats =
        lumos_oci::unpack::unpack_image(&layout, &manifest, &ours, &Default::default()).unwrap();
    assert_eq!(stats.files, 1);
    assert_eq!(
        std::fs::read(ours.join("fibonacci")).unwrap(),
        std::fs::read(rootfs.join("fibonacci")).unwrap()
    );

    // runc in the foreground, stdin as the request.
    let out = runc_run(&bundle, &["/fibonacci"], b"fib(10)\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "runc failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "lumos-hello: fib(10)");
}

#[test]
fn artifact_format_is_the_cncf_wasm_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let mut opts = pack_options();
    opts.wasm_format = lumos_oci::image::WasmFormat::Artifact;
    let wasm = hello_wasm();
    let arts = vec![lumos_oci::pack::ArtifactInput {
        variant: Variant::Wasm,
        path: wasm.clone(),
        engine: None,
    }];
    pack_function(
        &layout,
        "fibonacci",
        &arts,
        &BaseSpec::Scratch,
        &opts,
        &mut BaseCache::default(),
    )
    .unwrap();
    let root = layout.root().display().to_string();
    let raw = skopeo_json(&[
        "inspect",
        "--raw",
        &format!("oci:{root}:lumos/fibonacci:wasm"),
    ]);
    assert_eq!(
        raw["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(raw["layers"][0]["mediaType"], "application/wasm");
    let module = std::fs::read(&wasm).unwrap();
    assert_eq!(
        raw["layers"][0]["digest"],
        lumos_oci::Digest::sha256(&module).to_string()
    );
    let cfg = skopeo_json(&[
        "inspect",
        "--config",
        "--raw",
        &format!("oci:{root}:lumos/fibonacci:wasm"),
    ]);
    assert_eq!(cfg["architecture"], "wasm");
    assert_eq!(cfg["os"], "wasip1");
    assert_eq!(cfg["layerDigests"][0], raw["layers"][0]["digest"]);

    // The runner's unpack gives the raw module back under its title.
    let desc = layout.resolve("lumos/fibonacci:wasm").unwrap();
    let m = lumos_oci::image::read_manifest(&layout, &desc).unwrap();
    let out = dir.path().join("unpacked");
    let stats = lumos_oci::unpack::unpack_image(&layout, &m, &out, &Default::default()).unwrap();
    assert_eq!(stats.files, 1);
    assert_eq!(std::fs::read(out.join("fibonacci.wasm")).unwrap(), module);
}
