//! Links against the private WasmEdge sysroot that scripts/install-wasmedge
//! unpacks (Debian trixie packages): its libwasmedge needs trixie's glibc and
//! libLLVM, so this binary gets that sysroot's dynamic loader and library
//! path (FACTS.md, "WasmEdge"). `LUMOS_WASMEDGE_ROOT` moves the sysroot
//! (default /opt/lumos/wasmedge); the target's CPU picks its amd64 or arm64 half.

fn main() {
    println!("cargo:rerun-if-env-changed=LUMOS_WASMEDGE_ROOT");
    let root =
        std::env::var("LUMOS_WASMEDGE_ROOT").unwrap_or_else(|_| "/opt/lumos/wasmedge".into());
    let target = std::env::var("TARGET").unwrap_or_default();
    let (deb_arch, triple, loader) = if target.starts_with("aarch64") {
        ("arm64", "aarch64-linux-gnu", "ld-linux-aarch64.so.1")
    } else {
        ("amd64", "x86_64-linux-gnu", "ld-linux-x86-64.so.2")
    };
    let lib = format!("{root}/{deb_arch}/usr/lib/{triple}");
    if !std::path::Path::new(&lib).join("libwasmedge.so.0").exists() {
        panic!(
            "lumos-shim-wasmedge needs WasmEdge 0.14.1 in {lib}: run scripts/install-wasmedge \
             (or scripts/setup)"
        );
    }
    let loader = format!("{lib}/{loader}");
    // src/ffi.rs declares the C API (`#[link(name = "wasmedge")]`); it is found here.
    println!("cargo:rustc-link-search=native={lib}");
    println!("cargo:rustc-link-arg=-Wl,--allow-shlib-undefined");
    println!("cargo:rustc-link-arg=-Wl,-rpath-link,{lib}");
    // DT_RPATH, not DT_RUNPATH: it also applies to the libraries libwasmedge pulls in (libLLVM, libffi…).
    println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    println!("cargo:rustc-link-arg=-Wl,--dynamic-linker={loader}");
}
