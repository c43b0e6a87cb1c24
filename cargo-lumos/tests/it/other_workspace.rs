//! `cargo lumos build` in a workspace that is not Lumos itself
//! (tests/fixtures/other-workspace): its own `.cargo/config.toml`, a package
//! without metadata, a workspace default overridden by a package.

use std::process::Command;

use crate::common::*;

#[test]
fn builds_someone_elses_workspace_and_honours_its_config() {
    let ws = fixture("other-workspace");
    let target = tempfile::tempdir().unwrap();
    let out = build_in(
        ws.path(),
        target.path(),
        &["--all-runtimes", "--message-format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let json = build_json(target.path());
    let names: Vec<&str> = json["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["greeter", "shouter"],
        "plain-lib has no metadata and must be skipped"
    );
    for f in json["functions"].as_array().unwrap() {
        assert_eq!(
            f["protocol"], "stdio",
            "workspace default protocol applies: {f}"
        );
    }

    // The workspace allows native and wasm; shouter overrides it with wasm only.
    let greeter = artifacts(&json, "greeter");
    let variants: Vec<&str> = greeter.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(variants, ["native-aarch64", "native-x86_64", "wasm"]);
    let shouter = artifacts(&json, "shouter");
    assert_eq!(
        shouter.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(),
        ["wasm"]
    );

    // Every listed artifact is where build.json says, with that size and digest,
    // under <target-dir>/lumos/<function>/<variant>/.
    for (variant, path, bytes, sha) in greeter.iter().chain(&shouter) {
        assert!(
            path.starts_with(target.path().join("lumos")),
            "{}",
            path.display()
        );
        assert_eq!(
            path.parent().unwrap().file_name().unwrap(),
            variant.as_str()
        );
        assert_eq!(std::fs::metadata(path).unwrap().len(), *bytes);
        assert_eq!(&sha256(path), sha);
    }

    // --message-format json: one object per artifact on stdout.
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(lines
        .iter()
        .all(|l| l["reason"] == "lumos-artifact" && l["sha256"].is_string()));

    // The native binaries are static, for the right CPU, and were built with
    // the fixture's .cargo/config.toml in force.
    let x86 = &greeter.iter().find(|a| a.0 == "native-x86_64").unwrap().1;
    let arm = &greeter.iter().find(|a| a.0 == "native-aarch64").unwrap().1;
    assert_static_elf(x86, "X86-64");
    assert_static_elf(arm, "AArch64");
    let said = run_with_stdin(&mut Command::new(x86), b"world");
    assert_eq!(
        stdout(&said).trim(),
        "hello from the fixture's .cargo/config.toml: world"
    );
    let qemu = require("qemu-aarch64-static");
    let said = run_with_stdin(Command::new(qemu).arg(arm), b"arm");
    assert_eq!(
        stdout(&said).trim(),
        "hello from the fixture's .cargo/config.toml: arm"
    );

    // The wasm module runs in a real engine.
    let wasm = &shouter[0].1;
    let said = run_with_stdin(
        wasmedge().arg("--force-interpreter").arg(wasm),
        b"quiet please",
    );
    assert!(said.status.success(), "{}", stderr(&said));
    assert_eq!(stdout(&said).trim(), "QUIET PLEASE");
}

#[test]
fn a_second_build_changes_nothing() {
    let ws = fixture("other-workspace");
    let target = tempfile::tempdir().unwrap();
    let first = build_in(
        ws.path(),
        target.path(),
        &["--runtime", "native,wasm", "--arch", "x86_64"],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let before = std::fs::read(target.path().join("lumos/build.json")).unwrap();
    let mtimes = |json: &serde_json::Value| -> Vec<std::time::SystemTime> {
        ["greeter", "shouter"]
            .iter()
            .flat_map(|f| artifacts(json, f))
            .map(|a| std::fs::metadata(&a.1).unwrap().modified().unwrap())
            .collect()
    };
    let t0 = mtimes(&build_json(target.path()));

    let second = build_in(
        ws.path(),
        target.path(),
        &[
            "--runtime",
            "native,wasm",
            "--arch",
            "x86_64",
            "--message-format",
            "json",
        ],
    );
    assert!(second.status.success(), "{}", stderr(&second));
    for line in stdout(&second).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["fresh"], true, "rebuilt although nothing changed: {v}");
    }
    assert_eq!(
        before,
        std::fs::read(target.path().join("lumos/build.json")).unwrap()
    );
    assert_eq!(
        t0,
        mtimes(&build_json(target.path())),
        "artifacts were rewritten"
    );

    // A change to one function rebuilds that one only.
    let main = ws.path().join("shouter/src/main.rs");
    let src = std::fs::read_to_string(&main).unwrap();
    write(
        &main,
        &src.replace("to_uppercase()", "to_uppercase().replace(' ', \"_\")"),
    );
    let third = build_in(
        ws.path(),
        target.path(),
        &[
            "--runtime",
            "native,wasm",
            "--arch",
            "x86_64",
            "--message-format",
            "json",
        ],
    );
    assert!(third.status.success(), "{}", stderr(&third));
    let rebuilt: Vec<String> = stdout(&third)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["fresh"] == false)
        .map(|v| {
            format!(
                "{}/{}",
                v["function"].as_str().unwrap(),
                v["variant"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(rebuilt, ["shouter/wasm"]);
}

#[test]
fn works_as_cargo_lumos_and_as_cargo_dash_lumos() {
    let ws = fixture("other-workspace");
    let target = tempfile::tempdir().unwrap();
    let out = run(lumos_test_support::unlinted(&mut Command::new(env!(
        "CARGO_BIN_EXE_cargo-lumos"
    )))
    .arg("build")
    .arg("--manifest-path")
    .arg(ws.path().join("Cargo.toml"))
    .arg("--target-dir")
    .arg(target.path())
    .args(["-p", "shouter", "--runtime", "wasm"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(artifacts(&build_json(target.path()), "shouter").len(), 1);
}
