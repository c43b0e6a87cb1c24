//! With the `wasmedge` feature, link against the private WasmEdge sysroot
//! that scripts/install-wasmedge unpacks (Debian trixie packages): its
//! libwasmedge needs trixie's glibc and libLLVM, so the binaries get that
//! sysroot's dynamic loader and library path (FACTS.md, "WasmEdge").
//!
//! The package `links = "lumos_wasmedge"`, so packages that depend on it get
//! `DEP_LUMOS_WASMEDGE_LIB` / `DEP_LUMOS_WASMEDGE_LOADER` when WasmEdge is
//! linked in and can give their own binaries the same arguments
//! (cargo-lumos/build.rs): link arguments do not reach dependents by themselves.

#[path = "build/wasmedge_link.rs"]
mod wasmedge_link;

fn main() {
    println!("cargo:rerun-if-env-changed=LUMOS_WASMEDGE_ROOT");
    if let Ok(v) =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("--version")
            .output()
    {
        let v = String::from_utf8_lossy(&v.stdout).trim().to_string();
        println!("cargo:rustc-env=LUMOS_RUSTC_VERSION={v}");
    }
    if std::env::var_os("CARGO_FEATURE_WASMEDGE").is_none() {
        return;
    }
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
            "the `wasmedge` feature needs WasmEdge 0.14.1 in {lib}: run scripts/install-wasmedge \
             (and build with WASMEDGE_DIR={root}/sdk LIBCLANG_PATH=/usr/lib/llvm-19/lib)"
        );
    }
    let loader = format!("{lib}/{loader}");
    wasmedge_link::emit_link_args(&lib, &loader);
    println!("cargo:lib={lib}");
    println!("cargo:loader={loader}");
}
