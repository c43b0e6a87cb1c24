//! What a native function's container may do beyond its namespaces: the
//! capability set, the seccomp profile, and the masked and read-only /proc
//! and /sys paths (runc and crun apply all of it from `config.json`).
//!
//! The seccomp profile refuses (EPERM, as Docker's does) every system call
//! that Docker's default profile leaves out for a container without extra
//! capabilities: mounts and namespaces, kernel modules and kexec, reboot and
//! swap, clocks, keyrings, BPF and perf, ptrace and cross-process memory,
//! handles to files by number, userfaultfd, io_uring, raw port I/O, the
//! kernel log, other processes' pages, obsolete calls. `clone` with a
//! namespace flag is refused too, and `clone3` answers ENOSYS (its flags sit
//! in memory a filter cannot read), so libc falls back to `clone`, as under
//! Docker.
//!
//! Why a list of refusals and not Docker's allowlist: an allowlist must name
//! every call the C libraries and runtimes of functions may make, on every
//! kernel; one missing name breaks a function with a bare EPERM. The calls
//! listed here are what makes a container escape or reach the host's kernel
//! state; everything else a function does is ordinary. Names the host's
//! libseccomp does not know are skipped by runc and crun.

use serde_json::{json, Value};

/// The capabilities a function's process has (bounding, effective,
/// permitted; none inheritable or ambient). `runc spec`'s default set, which
/// is a subset of Docker's 14: of those, NET_RAW is left out because the
/// container shares the host's network namespace (raw sockets there would
/// see the host's traffic); CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETUID,
/// SETGID, SETFCAP, SETPCAP, MKNOD and SYS_CHROOT are left out because a
/// function on a read-only rootfs has no use for them.
pub const CAPABILITIES: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// Bits of [`CAPABILITIES`] as `/proc/PID/status` shows them (`CapEff`).
pub const CAPABILITY_MASK: u64 = (1 << 29) | (1 << 5) | (1 << 10);

/// Refused with EPERM.
pub const REFUSED: &[&str] = &[
    // mounts, namespaces, root changes
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "unshare",
    "setns",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    // kernel modules, kexec, reboot, swap, accounting, quotas
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "nfsservctl",
    // the host's clocks and kernel log
    "settimeofday",
    "stime",
    "clock_settime",
    "clock_settime64",
    "clock_adjtime",
    "clock_adjtime64",
    "syslog",
    // keyrings
    "keyctl",
    "add_key",
    "request_key",
    // BPF, perf, tracing other processes and their memory
    "bpf",
    "perf_event_open",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "lookup_dcookie",
    "fanotify_init",
    // files by handle (the shocker escape), userfaultfd, io_uring
    "open_by_handle_at",
    "name_to_handle_at",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // raw I/O ports, vm86, other processes' pages
    "iopl",
    "ioperm",
    "vm86",
    "vm86old",
    "move_pages",
    "migrate_pages",
    // obsolete or unused
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "vhangup",
];

/// `CLONE_NEWNS`, `CLONE_NEWCGROUP`, `CLONE_NEWUTS`, `CLONE_NEWIPC`,
/// `CLONE_NEWUSER`, `CLONE_NEWPID`, `CLONE_NEWNET` (`CLONE_NEWTIME` exists
/// only for `clone3` and `unshare`, both refused whole).
const CLONE_NAMESPACE_FLAGS: &[u64] = &[
    0x0002_0000,
    0x0200_0000,
    0x0400_0000,
    0x0800_0000,
    0x1000_0000,
    0x2000_0000,
    0x4000_0000,
];

fn architectures() -> Value {
    // The host's own and its compat ABIs: a refusal must hold for a 32-bit
    // call too (int 0x80 on x86_64).
    if cfg!(target_arch = "aarch64") {
        json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    } else {
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    }
}

/// `linux.seccomp` of the bundle.
pub fn profile() -> Value {
    let eperm = 1;
    let enosys = 38;
    let mut rules = vec![
        json!({ "names": REFUSED, "action": "SCMP_ACT_ERRNO", "errnoRet": eperm }),
        json!({ "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": enosys }),
    ];
    // One rule per flag: the arguments of one rule are ANDed, rules are ORed.
    for flag in CLONE_NAMESPACE_FLAGS {
        rules.push(json!({
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": eperm,
            "args": [{ "index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ" }]
        }));
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": architectures(),
        "syscalls": rules
    })
}

/// `linux.maskedPaths`: Docker's defaults (runc's, plus `/proc/interrupts`
/// and `/sys/devices/virtual/powercap`, the RAPL energy counters).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// `linux.readonlyPaths`: runc's and Docker's defaults.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_matches_the_names() {
        let bit = |n: &str| match n {
            "CAP_AUDIT_WRITE" => 29,
            "CAP_KILL" => 5,
            "CAP_NET_BIND_SERVICE" => 10,
            other => panic!("{other}"),
        };
        let m = CAPABILITIES.iter().fold(0u64, |m, c| m | (1 << bit(c)));
        assert_eq!(m, CAPABILITY_MASK);
        assert!(!CAPABILITIES.contains(&"CAP_NET_RAW"));
        assert!(!CAPABILITIES.contains(&"CAP_SYS_ADMIN"));
    }
}
