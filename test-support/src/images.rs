//! Test images packed with lumos-oci: the `hello` programs as the function
//! `fibonacci` with every variant, and pushing a layout's image.

use std::path::Path;
use std::time::Duration;

use crate::fixtures::{hello_aarch64, hello_wasm, hello_x86_64};

/// The test function `fibonacci` (every variant of [`artifacts`]) packed on
/// scratch with [`pack_options`] into the layout at `layout_dir` (created, or
/// packed again if it exists).
pub fn packed_fibonacci(layout_dir: &Path) -> lumos_oci::Layout {
    use lumos_oci::pack::{pack_function, BaseCache, BaseSpec};
    let layout = lumos_oci::Layout::create(layout_dir).unwrap();
    pack_function(
        &layout,
        "fibonacci",
        &artifacts(),
        &BaseSpec::Scratch,
        &pack_options(),
        &mut BaseCache::default(),
    )
    .unwrap();
    layout
}

/// The artifacts of one test function with every variant.
pub fn artifacts() -> Vec<lumos_oci::pack::ArtifactInput> {
    use lumos_model::{AotEngine, Arch, Variant};
    use lumos_oci::pack::ArtifactInput;
    let wasm = hello_wasm();
    vec![
        ArtifactInput {
            variant: Variant::Native(Arch::X86_64),
            path: hello_x86_64(),
            engine: None,
        },
        ArtifactInput {
            variant: Variant::Native(Arch::Aarch64),
            path: hello_aarch64(),
            engine: None,
        },
        ArtifactInput {
            variant: Variant::Wasm,
            path: wasm.clone(),
            engine: None,
        },
        // A stand-in for the precompiled module: packing does not look inside.
        ArtifactInput {
            variant: Variant::Aot(AotEngine::Wasmtime, Arch::X86_64),
            path: wasm.clone(),
            engine: Some("wasmtime-48.0.8".into()),
        },
        ArtifactInput {
            variant: Variant::Aot(AotEngine::Wasmedge, Arch::Aarch64),
            path: wasm,
            engine: Some("wasmedge-0.14.1".into()),
        },
    ]
}

pub fn pack_options() -> lumos_oci::pack::PackOptions {
    lumos_oci::pack::PackOptions {
        namespace: "lumos".into(),
        created: 1_700_000_000,
        source: Some("https://example.invalid/lumos".into()),
        revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
        wasm_format: lumos_oci::image::WasmFormat::Compat,
        protocol: Some(lumos_model::Protocol::Lumos),
        client: fast_client(),
    }
}

/// Client options with short backoff for tests.
pub fn fast_client() -> lumos_oci::registry::ClientOptions {
    lumos_oci::registry::ClientOptions {
        retries: 2,
        backoff: Duration::from_millis(50),
        credentials: Some(lumos_oci::registry::auth::Found::none("none (test)")),
        ..Default::default()
    }
}

/// Pushes the image `name` of `layout` under namespace `lumos`.
pub fn push_image(
    client: &lumos_oci::registry::Client,
    layout: &lumos_oci::Layout,
    name: &str,
) -> lumos_oci::Result<Vec<lumos_oci::registry::PushedImage>> {
    lumos_oci::registry::push_layout(client, layout, "lumos", "", &[name.to_string()], |_| {})
}
