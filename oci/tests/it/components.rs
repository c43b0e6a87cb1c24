//! Component images (wasi:http functions) as skopeo reads them: the CNCF
//! artifact with `os: wasip2` and the `component` field, and the compat form.

use std::process::Command;
use std::sync::OnceLock;

use crate::support::*;
use lumos_model::{AotEngine, Arch};
use lumos_oci::component::{component_info, pack_component};
use lumos_oci::image::{AotInfo, ImageMeta, WasmFormat};
use lumos_oci::{spec::annotation, Layout};
use serde_json::Value;

/// tests/fixtures/wasi-http-hello built for wasm32-wasip2 (a component).
fn component() -> &'static [u8] {
    static C: OnceLock<Vec<u8>> = OnceLock::new();
    C.get_or_init(|| {
        let p = lumos_test_support::fixtures::wasi_http_hello();
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    })
}

fn meta() -> ImageMeta {
    ImageMeta {
        namespace: "lumos".into(),
        function: "hello".into(),
        created: 0,
        source: None,
        revision: None,
        protocol: None,
        port: None,
        args: vec![],
    }
}

fn skopeo_json(args: &[&str]) -> Value {
    require("skopeo");
    let out = run(Command::new("skopeo").args(args));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo {args:?}: {e}: {out}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_fixture_is_an_http_handler_component() {
    let info = component_info("wasi_http_hello.wasm", component()).unwrap();
    assert!(info.is_http_handler(), "{info:?}");
    assert_eq!(info.exports, ["wasi:http/incoming-handler@0.2.12"]);
    assert!(
        info.imports.iter().any(|i| i == "wasi:http/types@0.2.12"),
        "{info:?}"
    );
}

#[test]
fn artifact_form_has_os_wasip2_and_the_component_field() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let c = component();
    let p = pack_component(&layout, &meta(), Some(c), WasmFormat::Artifact, None).unwrap();
    layout
        .set_refs(&[(p.name.clone(), p.descriptor.clone())])
        .unwrap();
    let image = format!("oci:{}:lumos/hello:wasm", layout.root().display());

    let raw = skopeo_json(&["inspect", "--raw", &image]);
    assert_eq!(
        raw["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(raw["layers"].as_array().unwrap().len(), 1);
    assert_eq!(raw["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(
        raw["layers"][0]["digest"],
        lumos_oci::Digest::sha256(c).to_string()
    );
    assert_eq!(raw["annotations"][annotation::LUMOS_PROTOCOL], "wasi-http");

    let cfg = skopeo_json(&["inspect", "--config", "--raw", &image]);
    assert_eq!(cfg["architecture"], "wasm");
    assert_eq!(cfg["os"], "wasip2");
    assert_eq!(cfg["layerDigests"][0], raw["layers"][0]["digest"]);
    let exports = strings(&cfg["component"]["exports"]);
    let imports = strings(&cfg["component"]["imports"]);
    assert_eq!(exports, ["wasi:http/incoming-handler@0.2.12"]);
    assert!(
        imports.contains(&"wasi:http/types@0.2.12".to_string()),
        "{imports:?}"
    );
    assert!(
        imports.contains(&"wasi:io/streams@0.2.12".to_string()),
        "{imports:?}"
    );

    // The platform of the manifest in the layout's index.
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.root().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["platform"]["os"], "wasip2");
    assert_eq!(index["manifests"][0]["platform"]["architecture"], "wasm");
}

#[test]
fn compat_form_and_aot_variant() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let c = component();
    let wasm = pack_component(&layout, &meta(), Some(c), WasmFormat::Compat, None).unwrap();
    let aot_info = AotInfo {
        engine: AotEngine::Wasmtime,
        arch: Arch::X86_64,
        engine_id: Some("wasmtime-48.0.8".into()),
    };
    // A stand-in for the .cwasm: packing does not look inside it, only at
    // the component it was made from.
    let cwasm = b"\x7fELF stand-in";
    let aot = pack_component(
        &layout,
        &meta(),
        Some(c),
        WasmFormat::Artifact,
        Some((&aot_info, cwasm)),
    )
    .unwrap();
    layout
        .set_refs(&[
            (wasm.name.clone(), wasm.descriptor.clone()),
            (aot.name.clone(), aot.descriptor.clone()),
        ])
        .unwrap();
    let root = layout.root().display().to_string();

    let image = format!("oci:{root}:lumos/hello:wasm");
    let raw = skopeo_json(&["inspect", "--raw", &image]);
    assert_eq!(
        raw["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(
        raw["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(raw["annotations"][annotation::WASM_VARIANT], "compat-smart");
    assert_eq!(raw["annotations"][annotation::LUMOS_PROTOCOL], "wasi-http");
    let cfg = skopeo_json(&["inspect", "--config", &image]);
    assert_eq!(cfg["os"], "wasip2");
    assert_eq!(cfg["architecture"], "wasm");
    assert_eq!(cfg["config"]["Entrypoint"][0], "/hello.wasm");
    assert_eq!(
        cfg["config"]["Labels"][annotation::LUMOS_PROTOCOL],
        "wasi-http"
    );
    // umoci unpacks its layer to the component itself (`raw unpack`: umoci
    // writes a runtime config.json only for os linux).
    require("umoci");
    let rootfs = dir.path().join("rootfs");
    run(Command::new("umoci")
        .args([
            "raw",
            "unpack",
            "--rootless",
            "--image",
            &format!("{root}:lumos/hello:wasm"),
        ])
        .arg(&rootfs));
    assert_eq!(std::fs::read(rootfs.join("hello.wasm")).unwrap(), c);

    let image = format!("oci:{root}:lumos/hello:aot-wasmtime-x86_64");
    let raw = skopeo_json(&["inspect", "--raw", &image]);
    assert_eq!(
        raw["layers"][0]["digest"],
        lumos_oci::Digest::sha256(cwasm).to_string()
    );
    assert_eq!(
        raw["annotations"][annotation::LUMOS_AOT_ENGINE],
        "wasmtime-48.0.8"
    );
    let cfg = skopeo_json(&["inspect", "--config", "--raw", &image]);
    assert_eq!(cfg["os"], "wasip2");
    assert_eq!(
        strings(&cfg["component"]["exports"]),
        ["wasi:http/incoming-handler@0.2.12"]
    );
}

#[test]
fn a_core_module_is_not_packed_as_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let module = std::fs::read(hello_wasm()).unwrap();
    let e = pack_component(&layout, &meta(), Some(&module), WasmFormat::Artifact, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a WebAssembly component (a core module"),
        "{e}"
    );
}
