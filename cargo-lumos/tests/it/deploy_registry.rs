//! `cargo lumos deploy --check-pushed` against a real `docker-registry`: a
//! Service never names an image that was built but never pushed, and a
//! pushed image is named by the digest the registry has.

use std::path::Path;

use crate::common::*;
use lumos_test_support::images::{packed_fibonacci, push_image};
use lumos_test_support::{Registry, RegistryOptions};

/// A workspace whose function `fibonacci` serves HTTP, with its images
/// (every variant) packed into `<ws>/target/lumos/oci`.
fn workspace(dir: &Path) -> lumos_oci::Layout {
    write(
        &dir.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"fibonacci\"]\n",
    );
    write(
        &dir.join("fibonacci/Cargo.toml"),
        "[package]\nname = \"fibonacci\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package.metadata.lumos]\nprotocol = \"http\"\n",
    );
    write(&dir.join("fibonacci/src/main.rs"), "fn main() {}\n");
    packed_fibonacci(&dir.join("target/lumos/oci"))
}

fn deploy(ws: &Path, registry: &str) -> std::process::Output {
    run(cargo_lumos()
        .arg("deploy")
        .arg("--manifest-path")
        .arg(ws.join("Cargo.toml"))
        .args([
            "--registry",
            registry,
            "--variant",
            "wasm",
            "--check-pushed",
            "--timeout",
            "3",
        ]))
}

fn one_line_error(out: &std::process::Output) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "succeeded: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(stdout(out).is_empty());
    err
}

#[test]
fn only_pushed_images_are_deployed() {
    let reg = Registry::start(RegistryOptions::default());
    let ws = tempfile::tempdir().unwrap();
    let layout = workspace(ws.path());
    let registry = format!("{}/lumos", reg.host());

    // Built and packed, never pushed.
    let err = one_line_error(&deploy(ws.path(), &registry));
    assert!(err.contains("fibonacci wasm"), "{err}");
    assert!(err.contains("was never pushed"), "{err}");
    assert!(err.contains("cargo lumos push"), "{err}");

    let client = lumos_oci::registry::Client::connect(&reg.host(), Default::default()).unwrap();
    let pushed = push_image(&client, &layout, "lumos/fibonacci:wasm").unwrap();
    let out = deploy(ws.path(), &registry);
    assert!(out.status.success(), "{}", stderr(&out));
    let want = format!("image: {}/lumos/fibonacci@{}", reg.host(), pushed[0].digest);
    assert!(
        stdout(&out).contains(&want),
        "{want} not in {}",
        stdout(&out)
    );

    // The registry down: one line naming it.
    let host = reg.host();
    drop(reg);
    let err = one_line_error(&deploy(ws.path(), &registry));
    assert!(err.contains(&host), "{err}");
}
