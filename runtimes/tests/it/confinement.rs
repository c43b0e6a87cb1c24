//! What a native function gets in runc and crun: runc's default
//! capabilities (no more), a seccomp profile that refuses mounts and new
//! namespaces (a user namespace too, which needs no capability), and the
//! masked /proc paths. Asked from inside by the fixture itself.

use crate::common::*;
use lumos_runtimes::container::seccomp::CAPABILITY_MASK;
use lumos_runtimes::host::Reply;
use lumos_runtimes::launch::Slot;
use lumos_runtimes::{Job, Runner, Runtime, Sandbox};

fn ask(sb: Sandbox) -> serde_json::Value {
    let mut o = opts();
    o.sandbox = Some(sb);
    let runner = Runner::new(o).unwrap();
    let p = runner
        .prepare(&Job::from_opts(
            &runner.opts,
            &file_ref(&fixtures().native),
            Runtime::Native,
            b"",
        ))
        .unwrap();
    let l = runner.launcher(&p, Runtime::Native, &[]).unwrap();
    let mut slot = Slot::new(l);
    match slot.call(br#"{"op":"confinement"}"#).result {
        Ok(Reply::Ok { body, .. }) => serde_json::from_slice(&body).unwrap(),
        other => panic!("{sb:?}: {other:?}"),
    }
}

#[test]
fn a_native_container_is_confined() {
    require("runc");
    require("crun");
    for sb in [Sandbox::Runc, Sandbox::Crun] {
        let v = ask(sb);
        let cap = u64::from_str_radix(v["cap_eff"].as_str().unwrap(), 16).unwrap();
        assert_eq!(
            cap, CAPABILITY_MASK,
            "{sb:?}: CapEff {cap:#x}, expected {CAPABILITY_MASK:#x}: {v}"
        );
        const EPERM: i64 = 1;
        for call in ["unshare_newns", "unshare_newuser", "mount"] {
            assert_eq!(v[call].as_i64(), Some(EPERM), "{sb:?}: {call}: {v}");
        }
    }
}

#[test]
fn the_bundle_asks_for_the_confinement() {
    let t = tempfile::tempdir().unwrap();
    let argv = vec!["/f".to_string()];
    let l = lumos_runtimes::container::NativeLaunch {
        id: "x",
        rootfs: t.path(),
        work: t.path(),
        argv: &argv,
        entry: "/f",
        env: &[],
        cwd: "/",
        memory_limit: None,
        cpus: Some(0.5),
        stderr_passthrough: false,
        node: None,
        netns: None,
    };
    let c = lumos_runtimes::container::bundle::config(&l);
    // --cpus 0.5: half of each 100 ms CFS period.
    assert_eq!(c["linux"]["resources"]["cpu"]["quota"], 50_000);
    assert_eq!(c["linux"]["resources"]["cpu"]["period"], 100_000);
    assert_eq!(c["process"]["noNewPrivileges"], true);
    assert_eq!(c["root"]["readonly"], true);
    assert_eq!(c["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
    let refused: Vec<&str> = c["linux"]["seccomp"]["syscalls"][0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for name in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "ptrace",
        "kexec_load",
        "init_module",
        "finit_module",
        "delete_module",
        "reboot",
        "swapon",
        "swapoff",
        "bpf",
        "perf_event_open",
        "keyctl",
        "add_key",
        "request_key",
        "pivot_root",
        "open_by_handle_at",
        "userfaultfd",
        "acct",
        "settimeofday",
        "clock_settime",
        "iopl",
        "ioperm",
        "syslog",
    ] {
        assert!(refused.contains(&name), "{name} is not refused");
    }
    let masked = c["linux"]["maskedPaths"].as_array().unwrap();
    for p in ["/proc/kcore", "/proc/keys", "/sys/firmware"] {
        assert!(masked.iter().any(|m| m == p), "{p} is not masked");
    }
}
