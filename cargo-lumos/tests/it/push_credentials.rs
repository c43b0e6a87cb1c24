//! `cargo lumos push` against a real registry that wants a password: the
//! credentials work, and are never printed, not even with `-v`.

use lumos_test_support::{Registry, RegistryOptions};

use crate::common::*;

const USER: &str = "lumos-user";
const PASSWORD: &str = "Pa55-never-printed-7f3a";

#[test]
fn push_with_credentials_never_prints_them() {
    let reg = Registry::start(RegistryOptions::basic_auth(USER, PASSWORD));
    let ws = fixture("other-workspace");
    let target = tempfile::tempdir().unwrap();
    let manifest = ws.path().join("Cargo.toml");
    let out = run(cargo_lumos()
        .args([
            "build",
            "--image",
            "-p",
            "shouter",
            "--runtime",
            "wasm",
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target.path()));
    assert!(out.status.success(), "{}", stderr(&out));

    let push = |password: &str| {
        run(cargo_lumos()
            .args(["-vv", "push", "--registry"])
            .arg(format!("{}/lumos", reg.host()))
            .arg("--target-dir")
            .arg(target.path())
            .env("HOME", target.path()) // no ~/.docker/config.json of the machine
            .env("LUMOS_REGISTRY_USER", USER)
            .env("LUMOS_REGISTRY_PASSWORD", password))
    };
    let basic = |pw: &str| {
        use std::io::Write;
        // What a leak in an Authorization header would look like.
        let mut raw = Vec::new();
        write!(raw, "{USER}:{pw}").unwrap();
        raw
    };

    let ok = push(PASSWORD);
    let all = format!("{}{}", stdout(&ok), stderr(&ok));
    assert!(ok.status.success(), "{all}");
    assert!(
        all.contains("DEBUG") || all.contains("TRACE"),
        "-vv logs nothing: {all}"
    );
    assert!(stdout(&ok).contains("lumos/shouter:wasm@sha256:"), "{all}");
    assert!(!all.contains(PASSWORD), "the password was printed:\n{all}");
    let encoded = base64_of(&basic(PASSWORD));
    assert!(
        !all.contains(&encoded),
        "the Basic credentials were printed:\n{all}"
    );

    let wrong = "Wr0ng-secret-also-hidden";
    let refused = push(wrong);
    let all = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(!refused.status.success());
    let last = stderr(&refused).lines().last().unwrap_or("").to_string();
    assert!(
        last.contains(&reg.host()),
        "the error names the registry: {last}"
    );
    assert!(
        !all.contains(wrong) && !all.contains(&base64_of(&basic(wrong))),
        "{all}"
    );
}

/// Standard base64, written here so the test does not trust the code under test.
fn base64_of(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
