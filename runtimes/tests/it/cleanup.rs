//! A killed runner leaves no container and no process behind.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn runc_ids(bin: &str) -> Vec<String> {
    let out = Command::new(bin)
        .args(["list", "-q"])
        .output()
        .expect("list containers");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Pids whose command line mentions `needle`.
fn procs_with(needle: &str) -> Vec<u32> {
    let mut v = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(needle) {
                v.push(pid);
            }
        }
    }
    v
}

/// Live (not zombie) descendants of `root`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f[0] == "Z" {
            continue;
        }
        parent.insert(pid, f[1].parse::<u32>().unwrap_or(0));
    }
    let mut out = vec![];
    for &pid in parent.keys() {
        let mut p = pid;
        while let Some(&pp) = parent.get(&p) {
            if pp == root {
                out.push(pid);
                break;
            }
            p = pp;
        }
    }
    out
}

fn alive(pids: &[u32]) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| s.rfind(')').map(|i| &s[i + 2..i + 3]) != Some("Z"))
                .unwrap_or(false)
        })
        .collect()
}

fn kill_runner_mid_load(
    runtime: &str,
    sandbox: Option<&str>,
    fixture: &Path,
    list_bin: Option<&str>,
) {
    // A copy of the fixture of our own: the processes left behind are found
    // by its path, and other tests of this binary run the shared fixture at
    // the same time.
    let own = tempfile::tempdir().unwrap();
    let copy = own.path().join(fixture.file_name().unwrap());
    std::fs::copy(fixture, &copy).unwrap();
    let image = file_ref(&copy);
    let image = image.as_str();
    let mut cmd = Command::new(runner_exe());
    cmd.args([
        "load",
        image,
        "-r",
        runtime,
        "--concurrency",
        "3",
        "--level-requests",
        "100000",
        "--duration",
        "600",
    ])
    .args(["--body", r#"{"op":"sleep","ms":20}"#])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Some(s) = sandbox {
        cmd.args(["--sandbox", s]);
    }
    let mut runner = cmd.spawn().unwrap();
    let prefix = format!("lumos-{}-", runner.id());
    let needle = copy.to_string_lossy().into_owned();
    // Wait until its three instances run.
    let up = eventually(Duration::from_secs(30), || match list_bin {
        Some(b) => {
            runc_ids(b)
                .iter()
                .filter(|i| i.starts_with(&prefix))
                .count()
                == 3
        }
        None => descendants(runner.id()).len() >= 4,
    });
    assert!(up, "{runtime}: the runner's instances did not come up");
    // The instances and everything they started (runc, unshare, shims, the guard).
    let tree = descendants(runner.id());
    runner.kill().unwrap();
    runner.wait().unwrap();
    let clean = eventually(Duration::from_secs(15), || {
        let containers = list_bin
            .map(|b| runc_ids(b).iter().any(|i| i.starts_with(&prefix)))
            .unwrap_or(false);
        !containers
            && alive(&tree).is_empty()
            && procs_with(&needle).is_empty()
            && procs_with(&prefix).is_empty()
    });
    let left_c = list_bin.map(runc_ids).unwrap_or_default();
    assert!(
        clean,
        "{runtime} {sandbox:?}: left behind: containers {:?}, processes {:?} {:?}",
        left_c
            .iter()
            .filter(|i| i.starts_with(&prefix))
            .collect::<Vec<_>>(),
        alive(&tree),
        procs_with(&needle)
    );
}

#[test]
fn a_killed_runner_leaves_nothing_behind() {
    let f = fixtures();
    require("runc");
    require("crun");
    kill_runner_mid_load("native", Some("runc"), &f.native, Some("runc"));
    kill_runner_mid_load("native", Some("crun"), &f.native, Some("crun"));
    kill_runner_mid_load("native", Some("chroot"), &f.native, None);
    kill_runner_mid_load("wasmtime-aot", None, &f.cwasm, None);
    kill_runner_mid_load("wasmi-interp", None, &f.wasm, None);
}

/// A runner stopped by SIGTERM (or SIGKILL) mid-run leaves none of its
/// temporary directories (the throwaway cache `lumos-cache-*`, the bundles
/// `lumos-run-*`) and no container: the guard removes them.
#[test]
fn a_stopped_runner_leaves_no_temporary_directories() {
    let f = fixtures();
    require("runc");
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let tmp = tempfile::tempdir().unwrap();
        let mut runner = Command::new(runner_exe())
            .args([
                "warm",
                &file_ref(&f.native),
                "-r",
                "native",
                "--sandbox",
                "runc",
            ])
            .args(["--warmup", "0", "-n", "1000000"])
            .args(["--body", r#"{"op":"sleep","ms":20}"#])
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let prefix = format!("lumos-{}-", runner.id());
        let ours = || -> Vec<String> {
            std::fs::read_dir(tmp.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("lumos-"))
                .collect()
        };
        let up = eventually(Duration::from_secs(30), || {
            let names = ours();
            names.iter().any(|n| n.starts_with("lumos-cache-"))
                && names.iter().any(|n| n.starts_with("lumos-run-"))
                && runc_ids("runc").iter().any(|i| i.starts_with(&prefix))
        });
        assert!(
            up,
            "signal {signal}: the runner's instance did not come up: {:?}",
            ours()
        );
        // SAFETY: a signal to the child we spawned.
        assert_eq!(unsafe { libc::kill(runner.id() as i32, signal) }, 0);
        runner.wait().unwrap();
        let clean = eventually(Duration::from_secs(15), || {
            ours().is_empty() && !runc_ids("runc").iter().any(|i| i.starts_with(&prefix))
        });
        assert!(
            clean,
            "signal {signal}: left behind in $TMPDIR: {:?}",
            ours()
        );
    }
}
