//! When the lumos-runtimes linked in carries WasmEdge (cargo feature
//! `wasmedge`), this binary links libwasmedge too: it is the bench's runner
//! and wasm shim. Give it the private sysroot's library path and loader, as
//! runtimes/build.rs does for lumos-runner; without them it cannot start.

#[path = "../runtimes/build/wasmedge_link.rs"]
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
