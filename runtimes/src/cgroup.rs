//! A CPU limit (`--cpus`) for instances no OCI runtime confines (the process
//! and chroot sandboxes and the wasm shims): a cgroup of their own, made
//! before the spawn, joined by the child before it execs, removed after.
//! runc and crun apply the same limit from the bundle
//! (`linux.resources.cpu`), containerd from `ctr run --cpus`.
//!
//! cgroup v2 (`/sys/fs/cgroup/cgroup.controllers` lists `cpu`): a child of
//! `/sys/fs/cgroup/lumos` with `cpu.max` = "QUOTA 100000". cgroup v1 and the
//! hybrid layout (this kind of machine): a child of `/sys/fs/cgroup/cpu/lumos`
//! with `cpu.cfs_period_us` = 100000 and `cpu.cfs_quota_us` = QUOTA, the same
//! CFS bandwidth limit. Hand-written: a few file writes, where the cgroup
//! crates (cgroups-rs) bring a whole manager for every controller.

use std::path::{Path, PathBuf};

/// The CFS period of every limit, microseconds.
pub const PERIOD_US: u64 = 100_000;

/// The quota for `cpus` CPUs per [`PERIOD_US`], microseconds (at least
/// 1000, the kernel's minimum).
pub fn quota_us(cpus: f64) -> u64 {
    ((cpus * PERIOD_US as f64).round() as u64).max(1000)
}

/// A cgroup made for one instance.
#[derive(Debug, Clone)]
pub struct CpuGroup {
    /// The cgroup's directory (removed with rmdir once its processes exit).
    pub dir: PathBuf,
    /// The file a process writes "0" to in order to join it.
    pub procs: PathBuf,
}

fn v2_root() -> Option<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let c = std::fs::read_to_string(root.join("cgroup.controllers")).ok()?;
    c.split_whitespace()
        .any(|w| w == "cpu")
        .then(|| root.to_path_buf())
}

fn write(path: &Path, value: &str) -> crate::Result<()> {
    std::fs::write(path, value).map_err(|e| crate::Error::io("cgroup cpu limit", path, e))
}

fn mkdir(path: &Path) -> crate::Result<()> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(crate::Error::io("cgroup cpu limit", path, e)),
    }
}

/// Makes the cgroup of instance `id`, limited to `cpus` CPUs.
pub fn create_cpu(id: &str, cpus: f64) -> crate::Result<CpuGroup> {
    let quota = quota_us(cpus);
    let dir = if let Some(root) = v2_root() {
        let parent = root.join("lumos");
        // The cpu controller must be enabled down to the instance's parent.
        write(&root.join("cgroup.subtree_control"), "+cpu")?;
        mkdir(&parent)?;
        write(&parent.join("cgroup.subtree_control"), "+cpu")?;
        let dir = parent.join(id);
        mkdir(&dir)?;
        write(&dir.join("cpu.max"), &format!("{quota} {PERIOD_US}"))?;
        dir
    } else {
        let parent = Path::new("/sys/fs/cgroup/cpu").join("lumos");
        mkdir(&parent)?;
        let dir = parent.join(id);
        mkdir(&dir)?;
        write(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
        write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
        dir
    };
    Ok(CpuGroup {
        procs: dir.join("cgroup.procs"),
        dir,
    })
}

/// Removes a cgroup once its processes are gone (rmdir; the kernel refuses
/// while a process is still in it, so it retries for up to half a second).
pub fn remove(dir: &Path) {
    for _ in 0..50 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_is_cpus_times_the_period_with_the_kernel_minimum() {
        assert_eq!(quota_us(0.5), 50_000);
        assert_eq!(quota_us(2.0), 200_000);
        assert_eq!(quota_us(0.001), 1000);
    }
}
