//! An OCI runtime bundle (`config.json`, in the shape `runc spec` writes)
//! for one instance: the shared unpacked rootfs read-only, the runner's
//! network (the function shares the host's loopback) or the network
//! namespace it is placed in (a bench node), a memory limit, and
//! the confinement of [`super::seccomp`] (capabilities, seccomp profile,
//! `noNewPrivileges`, masked and read-only /proc and /sys paths).

use super::seccomp;
use super::NativeLaunch;
use serde_json::json;
use std::path::Path;

pub fn config(l: &NativeLaunch<'_>) -> serde_json::Value {
    let mut env =
        vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()];
    env.extend(l.env.iter().cloned());
    let caps = json!(seccomp::CAPABILITIES);
    let mut resources = json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    if let Some(m) = l.memory_limit {
        resources["memory"] = json!({ "limit": m, "swap": m });
    }
    if let Some(c) = l.cpus {
        resources["cpu"] = json!({
            "quota": crate::cgroup::quota_us(c),
            "period": crate::cgroup::PERIOD_US,
        });
    }
    let mut namespaces = json!([
        { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }
    ]);
    if let (Some(p), Some(list)) = (l.netns, namespaces.as_array_mut()) {
        list.push(json!({ "type": "network", "path": p }));
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": l.argv,
            "env": env,
            "cwd": l.cwd,
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
                "inheritable": [], "ambient": []
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": l.rootfs, "readonly": true },
        "hostname": "lumos",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/sys", "type": "none", "source": "/sys",
              "options": ["rbind", "nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "nodev", "mode=1777", "size=65536k"] }
        ],
        "linux": {
            "resources": resources,
            "namespaces": namespaces,
            "maskedPaths": seccomp::MASKED_PATHS,
            "readonlyPaths": seccomp::READONLY_PATHS,
            "seccomp": seccomp::profile()
        }
    })
}

pub fn write(bundle: &Path, l: &NativeLaunch<'_>) -> crate::Result<()> {
    std::fs::create_dir_all(bundle).map_err(|e| crate::Error::io("create bundle", bundle, e))?;
    let p = bundle.join("config.json");
    let bytes = serde_json::to_vec_pretty(&config(l)).expect("config serialises");
    std::fs::write(&p, bytes).map_err(|e| crate::Error::io("write config.json", p, e))
}
