//! Bad input to `cargo lumos build`: a clear one-line error naming what is
//! wrong, a non-zero exit, and nothing half-written.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A one-member workspace whose function has the given metadata and source.
fn one_function(dir: &Path, name: &str, metadata: &str, main_rs: &str) {
    write(
        &dir.join(name).join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package.metadata.lumos]\n{metadata}\n"
        ),
    );
    write(&dir.join(name).join("src/main.rs"), main_rs);
}

fn workspace(dir: &Path, members: &[&str]) {
    let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            list.join(", ")
        ),
    );
}

const HELLO: &str = "fn main() { println!(\"hi\"); }\n";

fn last_line(out: &std::process::Output) -> String {
    stderr(out).lines().last().unwrap_or("").to_string()
}

#[test]
fn a_workspace_without_functions_builds_nothing_and_succeeds() {
    let ws = tempfile::tempdir().unwrap();
    workspace(ws.path(), &["lib"]);
    write(
        &ws.path().join("lib/Cargo.toml"),
        "[package]\nname = \"lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(&ws.path().join("lib/src/lib.rs"), "");
    let target = ws.path().join("target");
    let out = build_in(ws.path(), &target, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no function in the workspace"),
        "{}",
        stderr(&out)
    );
    assert!(!target.join("lumos/build.json").exists());

    // Naming a package that is not a function is an error.
    let out = build_in(ws.path(), &target, &["-p", "lib"]);
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(
        line.contains("`lib`") && line.contains("[package.metadata.lumos]"),
        "{line}"
    );
    let out = build_in(ws.path(), &target, &["-p", "nope"]);
    assert!(!out.status.success());
    assert!(
        last_line(&out).contains("`nope` is not a member"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_metadata_key_is_named_with_its_file() {
    let ws = tempfile::tempdir().unwrap();
    workspace(ws.path(), &["f"]);
    one_function(ws.path(), "f", "runtime = [\"wasm\"]", HELLO);
    let out = build_in(ws.path(), &ws.path().join("target"), &[]);
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(line.contains("unknown key `runtime`"), "{line}");
    assert!(
        line.contains(&ws.path().join("f/Cargo.toml").display().to_string()),
        "{line}"
    );

    // The same in the workspace table.
    write(
        &ws.path().join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"f\"]\n[workspace.metadata.lumos]\nbass = \"scratch\"\n",
    );
    one_function(ws.path(), "f", "", HELLO);
    let out = build_in(ws.path(), &ws.path().join("target"), &[]);
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(
        line.contains("unknown key `bass`") && line.contains("workspace.metadata.lumos"),
        "{line}"
    );
}

#[test]
fn unknown_runtime_arch_and_engine_names_are_refused() {
    let ws = fixture("other-workspace");
    for (flag, value) in [
        ("--runtime", "jvm"),
        ("--arch", "riscv64"),
        ("--aot-engine", "wamr"),
    ] {
        let out = build_in(ws.path(), &ws.path().join("target"), &[flag, value]);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        let err = stderr(&out);
        assert!(err.contains(value) && err.contains(flag), "{err}");
    }
    let out = build_in(
        ws.path(),
        &ws.path().join("target"),
        &["--aot-opt-level", "9", "--runtime", "aot"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("invalid value") && err.contains("--aot-opt-level"),
        "{err}"
    );
}

#[test]
fn a_missing_rust_target_names_the_rustup_command() {
    let ws = fixture("other-workspace");
    // A rustc whose sysroot has no standard library for any target.
    let fake = tempfile::tempdir().unwrap();
    let rustc = fake.path().join("rustc");
    write(
        &rustc,
        &format!(
            "#!/bin/sh\necho {}\n",
            fake.path().join("sysroot").display()
        ),
    );
    std::fs::set_permissions(&rustc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = run(cargo_lumos()
        .env("RUSTC", &rustc)
        .args(["build", "--runtime", "wasm", "--manifest-path"])
        .arg(ws.path().join("Cargo.toml")));
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(line.contains("rustup target add wasm32-wasip1"), "{line}");
}

#[test]
fn a_missing_linker_names_the_package_that_installs_one() {
    let ws = fixture("other-workspace");
    write(
        &ws.path().join(".cargo/config.toml"),
        "[target.aarch64-unknown-linux-musl]\nlinker = \"no-such-linker-lumos\"\n",
    );
    let out = build_in(
        ws.path(),
        &ws.path().join("target"),
        &["--runtime", "native", "--arch", "aarch64"],
    );
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(
        line.contains("no-such-linker-lumos") && line.contains("apt-get install"),
        "{line}"
    );
    assert!(line.contains(".cargo/config.toml"), "{line}");
}

#[test]
fn a_missing_wasmedge_sysroot_names_the_setup_script() {
    let ws = fixture("other-workspace");
    let empty = tempfile::tempdir().unwrap();
    let build = || {
        run(cargo_lumos()
            .env("LUMOS_WASMEDGE_ROOT", empty.path())
            .args(["build", "--runtime", "aot", "--aot-engine", "wasmedge"])
            .args(["--arch", "x86_64", "--manifest-path"])
            .arg(ws.path().join("Cargo.toml")))
    };
    let out = build();
    // The fixture's functions do not support aot: nothing to build, nothing checked.
    assert!(out.status.success(), "{}", stderr(&out));
    // A function that supports aot makes the missing sysroot an error.
    shouter_supports_only_aot(ws.path());
    let out = build();
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(
        line.contains("scripts/install-wasmedge") && line.contains("0.14.1"),
        "{line}"
    );
}

#[test]
fn a_compile_error_in_one_function_still_builds_and_reports_the_others() {
    let ws = tempfile::tempdir().unwrap();
    workspace(ws.path(), &["good", "broken"]);
    one_function(ws.path(), "good", "", HELLO);
    one_function(
        ws.path(),
        "broken",
        "",
        "fn main() { let x: u32 = \"not a number\"; }\n",
    );
    let target = ws.path().join("target");
    let out = build_in(ws.path(), &target, &["--runtime", "wasm"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("error[E0308]"),
        "cargo's diagnostics are shown: {err}"
    );
    assert!(last_line(&out).contains("broken"), "{err}");
    let json = build_json(&target);
    assert_eq!(
        artifacts(&json, "good").len(),
        1,
        "the good function is still built and listed"
    );
    assert!(json["functions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["name"] != "broken"));
}

#[test]
fn an_interrupted_aot_compile_leaves_no_artifact_that_looks_valid() {
    require("qemu-aarch64-static");
    let ws = fixture("other-workspace");
    shouter_supports_only_aot(ws.path());
    let target = ws.path().join("target");
    // The aarch64 WasmEdge compile runs under qemu for many seconds: kill the build in it.
    let mut child = cargo_lumos()
        .args([
            "build",
            "-p",
            "shouter",
            "--runtime",
            "aot",
            "--aot-engine",
            "wasmedge",
            "--arch",
            "aarch64",
        ])
        .arg("--manifest-path")
        .arg(ws.path().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let started = Instant::now();
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("Compiling shouter aot-wasmedge-aarch64") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the compile never started"
        );
    }
    std::thread::sleep(Duration::from_millis(1500));
    // Kill the whole process group's worth: the build and the emulated compiler.
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = Command::new("pkill")
        .args(["-f", &target.display().to_string()])
        .status();

    let final_artifact = target.join("lumos/shouter/aot-wasmedge-aarch64/shouter.wasm");
    assert!(
        !final_artifact.exists(),
        "a killed build left {}",
        final_artifact.display()
    );
    let cache = target.join("lumos/.cache/aot-wasmedge");
    for entry in walk(&cache) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".lumos-tmp-"),
            "a killed compile left a cache entry {}",
            entry.display()
        );
    }
    assert!(
        !target.join("lumos/build.json").exists(),
        "build.json must not list an unfinished build"
    );

    // The next build finishes and lists exactly what is on disk.
    let out = build_in(
        ws.path(),
        &target,
        &[
            "-p",
            "shouter",
            "--runtime",
            "aot",
            "--aot-engine",
            "wasmedge",
            "--arch",
            "x86_64",
        ],
    );
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    assert!(
        walk(&target.join("lumos")).iter().all(|p| !p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".lumos-tmp-")),
        "the next build sweeps what the killed one left"
    );
    for (_, path, bytes, sha) in artifacts(&build_json(&target), "shouter") {
        assert_eq!(std::fs::metadata(&path).unwrap().len(), bytes);
        assert_eq!(sha256(&path), sha);
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Makes the fixture's `shouter` a function of the `aot` family only.
fn shouter_supports_only_aot(ws: &Path) {
    write(
        &ws.join("shouter/Cargo.toml"),
        "[package]\nname = \"shouter\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[package.metadata.lumos]\nruntimes = [\"aot\"]\n",
    );
}

/// Relative paths (issue 7, item 6): `--manifest-path sub/Cargo.toml` used to
/// fail with "manifest path does not exist", since cargo runs in the
/// workspace root and got the path unchanged. Every path flag is made
/// absolute against the current directory at parse time.
#[test]
fn relative_manifest_and_target_paths_are_taken_from_the_current_directory() {
    let here = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/fixtures/other-workspace"),
        &here.path().join("sub"),
    );
    let out = run(cargo_lumos()
        .current_dir(here.path())
        .args(["build", "--manifest-path", "sub/Cargo.toml"])
        .args(["--target-dir", "out", "--runtime", "wasm", "-p", "greeter"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let json = build_json(&here.path().join("out"));
    assert_eq!(artifacts(&json, "greeter").len(), 1, "{json}");

    // The commands that read the build output take them the same way.
    let out = run(cargo_lumos()
        .current_dir(here.path())
        .args(["image", "--manifest-path", "sub/Cargo.toml"])
        .args(["--target-dir", "out"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(here.path().join("out/lumos/oci/index.json").is_file());
}

/// Metadata `profile = "--help"` used to reach cargo as a flag: a profile
/// name is checked where the metadata is read, and the error names the key
/// and the file. On the command line the same rule holds.
#[test]
fn a_profile_name_that_is_a_flag_is_refused_naming_the_key_and_file() {
    let ws = tempfile::tempdir().unwrap();
    workspace(ws.path(), &["f"]);
    one_function(ws.path(), "f", "profile = \"--help\"", HELLO);
    let target = ws.path().join("target");
    let out = build_in(ws.path(), &target, &["--runtime", "wasm"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    let line = last_line(&out);
    assert!(
        line.contains("`profile`") && line.contains("--help"),
        "{line}"
    );
    assert!(
        line.contains(&ws.path().join("f/Cargo.toml").display().to_string()),
        "{line}"
    );
    assert!(!target.join("lumos/build.json").exists());

    for bad in ["--profile=--help", "--profile=../x", "--profile=a b"] {
        let out = build_in(ws.path(), &target, &[bad]);
        assert!(!out.status.success(), "{bad} was accepted");
        let err = stderr(&out);
        assert!(
            err.contains("--profile") && err.contains("profile name"),
            "{bad}: {err}"
        );
    }
}

/// Every numeric flag of `cargo lumos bench` is range-checked at parse time
/// (issue 7): `--concurrency 100000` used to panic in `thread::scope`,
/// `--concurrency 18446744073709551615` panicked, `--timeout-ms 0` made every
/// request time out with exit 0. Refused before anything is read or built:
/// the manifest named here does not exist.
#[test]
fn bench_numeric_flags_out_of_range_are_refused_before_anything_runs() {
    let none = tempfile::tempdir().unwrap();
    let manifest = none.path().join("no-such/Cargo.toml");
    for (flag, value) in [
        ("--concurrency", "0"),
        ("--concurrency", "100000"),
        ("--concurrency", "18446744073709551615"),
        ("--concurrency", "1,4097"),
        ("--timeout-ms", "0"),
        ("--timeout-ms", "3600001"),
        ("--memory-mib", "18446744073709551615"),
        ("--repeat", "0"),
        ("--requests", "0"),
        ("--warmup", "1000001"),
        ("--rate", "0"),
        ("--rate", "NaN"),
        ("--rate", "inf"),
        ("--load-duration", "0"),
        ("--load-duration", "-1"),
        ("--load-requests", "0"),
    ] {
        let arg = format!("{flag}={value}");
        let out = bench(&manifest, &none.path().join("t"), &[&arg]);
        assert!(!out.status.success(), "{arg} was accepted");
        let err = stderr(&out);
        let first = err.lines().next().unwrap_or("");
        let refused = value.rsplit(',').next().unwrap();
        assert!(
            first.starts_with("error: ")
                && first.contains(flag)
                && first.contains(refused)
                && first.contains("is not"),
            "{arg}: {err}"
        );
    }
    // What depends on two flags: an open-loop schedule of more requests per
    // level than the bound.
    let out = bench(
        &manifest,
        &none.path().join("t"),
        &[
            "--load",
            "constant",
            "--rate",
            "1000000",
            "--load-duration",
            "86400",
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("requests per level"), "{err}");
    assert!(!none.path().join("t").exists());
}

#[test]
fn bad_cpu_limits_and_device_profiles_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let devices = dir.path().join("devices.toml");
    write(
        &devices,
        "[edge-small]\ncpus = 0.5\nmemory_mib = 256\n[cloud]\ncpus = 2\n",
    );
    let d = devices.display().to_string();
    for (args, want) in [
        (vec!["--cpus", "0"], "--cpus"),
        (vec!["--cpus", "half"], "--cpus"),
        (vec!["--device", &format!("{d}:pi")], "no profile \"pi\""),
        (vec!["--device", &d], "holds 2 profiles"),
        (
            vec!["--device", "/nonexistent/devices.toml"],
            "/nonexistent/devices.toml",
        ),
        (
            vec!["--device", &format!("{d}:cloud"), "--cpus", "1"],
            "--cpus",
        ),
    ] {
        let out = run(cargo_lumos()
            .current_dir(dir.path())
            .arg("bench")
            .args(&args));
        assert!(!out.status.success(), "{args:?} succeeded");
        // clap's own errors add a usage line after the error.
        let err = stderr(&out);
        let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or("");
        assert!(line.contains(want), "{args:?}: {err}");
        assert!(
            !dir.path().join("target").exists(),
            "{args:?} started building"
        );
    }
}

/// `--baas-bandwidth` takes tc's rate syntax within 8kbit..=10gbit and
/// `--baas-delay` a duration with its unit up to 1 s: anything else is one
/// error line naming the flag and the value, before anything is built.
#[test]
fn bad_baas_link_flags_are_refused_naming_the_flag_and_value() {
    let none = tempfile::tempdir().unwrap();
    let manifest = none.path().join("no-such/Cargo.toml");
    for (flag, value) in [
        ("--baas-bandwidth", "10mbits"),
        ("--baas-bandwidth", "fast"),
        ("--baas-bandwidth", "1kbit"),
        ("--baas-bandwidth", "20gbit"),
        ("--baas-delay", "20"),
        ("--baas-delay", "-5ms"),
        ("--baas-delay", "2s"),
    ] {
        let arg = format!("{flag}={value}");
        let out = bench(&manifest, &none.path().join("t"), &[&arg]);
        assert!(!out.status.success(), "{arg} was accepted");
        let err = stderr(&out);
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.starts_with("error: ") && first.contains(flag) && first.contains(value),
            "{arg}: {err}"
        );
    }
    assert!(!none.path().join("t").exists());
}

#[test]
fn bad_neighbours_are_one_line_errors_before_anything_is_built() {
    let manifest = repo_root().join("Cargo.toml");
    for (args, want) in [
        // Unknown function: checked against the workspace, before building.
        (
            vec!["-p", "fibonacci", "--neighbour", "nope"],
            "--neighbour nope@native: `nope` is not a function of the workspace",
        ),
        (
            vec!["-p", "fibonacci", "--neighbour", "fibonacci@jvm"],
            "unknown runtime `jvm`",
        ),
        (
            vec!["-p", "fibonacci", "--neighbour", "fibonacci:0"],
            "rate 0: must be above 0",
        ),
        (
            vec!["-p", "fibonacci", "--neighbour", "fibonacci:fast"],
            "rate `fast`: not a number",
        ),
        (
            vec!["-p", "fibonacci", "--neighbour", "@native:5"],
            "no function name",
        ),
        (
            vec!["-p", "fibonacci", "--no-neighbour-baseline"],
            "required arguments were not provided",
        ),
        (
            vec![
                "--chain",
                "encrypt-message,decrypt-message",
                "--neighbour",
                "fibonacci",
            ],
            "--neighbour fibonacci@native: not for a workflow",
        ),
    ] {
        let target = tempfile::tempdir().unwrap();
        let out = bench(&manifest, target.path(), &args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        // clap's own errors add a usage line after the error.
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one error line:\n{err}");
        assert!(
            lines[0].contains(want) && err.contains("--neighbour"),
            "{args:?}: {err}"
        );
        assert!(
            !target.path().join("lumos").exists(),
            "{args:?} started building"
        );
    }
}
