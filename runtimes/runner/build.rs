//! When the lumos-runtimes linked in carries WasmEdge (its feature
//! `wasmedge`), this binary links libwasmedge: give it the private sysroot's
//! library path and loader (runtimes/build.rs passes them on as
//! `DEP_LUMOS_WASMEDGE_*`); without them it cannot start.

#[path = "../build/wasmedge_link.rs"]
mod wasmedge_link;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_LUMOS_WASMEDGE_LIB");
    println!("cargo:rerun-if-env-changed=DEP_LUMOS_WASMEDGE_LOADER");
    if let (Ok(lib), Ok(loader)) = (
        std::env::var("DEP_LUMOS_WASMEDGE_LIB"),
        std::env::var("DEP_LUMOS_WASMEDGE_LOADER"),
    ) {
        wasmedge_link::emit_link_args(&lib, &loader);
    }
}
