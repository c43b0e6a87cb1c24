//! Link arguments for a binary that links libwasmedge from the private
//! sysroot of scripts/install-wasmedge. Shared by runtimes/build.rs and
//! cargo-lumos/build.rs (whose binary is the bench's runner and shim).

/// Emits the link arguments: `lib` holds libwasmedge.so.0 and the trixie
/// libraries it needs, `loader` is the path of that sysroot's dynamic loader.
pub fn emit_link_args(lib: &str, loader: &str) {
    println!("cargo:rustc-link-arg=-Wl,--allow-shlib-undefined");
    println!("cargo:rustc-link-arg=-Wl,-rpath-link,{lib}");
    // DT_RPATH, not DT_RUNPATH: it also applies to the libraries libwasmedge pulls in (libLLVM, libffi…).
    println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    println!("cargo:rustc-link-arg=-Wl,--dynamic-linker={loader}");
}
