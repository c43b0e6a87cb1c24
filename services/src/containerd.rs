//! A private containerd (Debian's `containerd`, 1.6 on bookworm): its own
//! root (images, snapshots), state directory and gRPC socket, written in a
//! `config.toml` of its own, so it never meets a system containerd. The CRI
//! plugin is disabled (no kubelet talks to it; it would also want AppArmor).
//!
//! On a hybrid cgroup host (cgroup v1 plus an empty `/sys/fs/cgroup/unified`)
//! crun refuses to start containers; containerd (and so its shims, runc and
//! crun) then runs in a mount namespace of its own with `unified` unmounted
//! (`unshare -m --propagation slave`: mounts made on the host, such as
//! network namespaces, still reach it). FACTS.md "Node stack".
//!
//! Clients talk to it with `ctr --address SOCKET` ([`Containerd::ctr`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::service::Service;

/// A running private containerd; stopped by PID when dropped, after its
/// tasks are killed and its containers removed.
pub struct Containerd {
    service: Option<Service>,
    ctr: PathBuf,
    /// The gRPC socket clients use (`ctr --address`).
    pub socket: PathBuf,
    /// Images, content and snapshots (kept when given by the caller).
    pub root: PathBuf,
    /// `containerd --version`'s first line.
    pub version: String,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Containerd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Containerd")
            .field("pid", &self.pid())
            .field("socket", &self.socket)
            .field("root", &self.root)
            .finish()
    }
}

fn has_unified_cgroup_mount() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(4) == Some("/sys/fs/cgroup/unified"))
        })
        .unwrap_or(false)
}

impl Containerd {
    /// Starts a private containerd with its images in `root` (created;
    /// None: a new directory removed when it stops) and its state and socket
    /// in a new temporary directory; waits until it serves.
    ///
    /// `$LUMOS_CONTAINERD` names the containerd executable (default: found
    /// on PATH or in the sbin directories).
    pub fn start(root: Option<&Path>) -> crate::Result<Containerd> {
        let bin = match std::env::var_os("LUMOS_CONTAINERD") {
            Some(p) if Path::new(&p).is_file() => PathBuf::from(p),
            Some(p) => {
                return Err(crate::Error::Missing {
                    program: format!("{} ($LUMOS_CONTAINERD)", Path::new(&p).display()),
                    install: crate::program::install_hint("containerd"),
                })
            }
            None => crate::require_program("containerd")?,
        };
        let ctr = crate::require_program("ctr")?;
        crate::require_program("containerd-shim-runc-v2")?;
        let version = Command::new(&bin)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        // Short paths: a unix socket path is at most 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix("lumos-ctrd-")
            .tempdir_in("/tmp")
            .map_err(|e| crate::Error::io("create", "/tmp", e))?;
        let d = dir.path();
        let root = root.map_or_else(|| d.join("root"), Path::to_path_buf);
        std::fs::create_dir_all(&root).map_err(|e| crate::Error::io("create", &root, e))?;
        let socket = d.join("ctrd.sock");
        let config = d.join("config.toml");
        let toml = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
            root = root.display(),
            state = d.join("state").display(),
            socket = socket.display(),
            opt = d.join("opt").display(),
        );
        std::fs::write(&config, toml).map_err(|e| crate::Error::io("write", &config, e))?;
        let mut cmd;
        if has_unified_cgroup_mount() {
            // `exec`: the PID stays containerd's, so stopping by PID stops it.
            cmd = Command::new(crate::require_program("unshare")?);
            cmd.args(["-m", "--propagation", "slave", "sh", "-c"])
                .arg(format!(
                    "umount /sys/fs/cgroup/unified 2>/dev/null; exec '{}' --config '{}'",
                    bin.display(),
                    config.display()
                ));
        } else {
            cmd = Command::new(&bin);
            cmd.arg("--config").arg(&config);
        }
        let mut service = Service::spawn(cmd, &d.join("containerd.log"))?;
        service.wait_for_log("containerd successfully booted", Duration::from_secs(30))?;
        Ok(Containerd {
            service: Some(service),
            ctr,
            socket,
            root,
            version,
            dir,
        })
    }

    /// `ctr --address SOCKET` (add the subcommand and its arguments).
    pub fn ctr(&self) -> Command {
        let mut c = Command::new(&self.ctr);
        c.arg("--address").arg(&self.socket);
        c
    }

    /// The `ctr` executable.
    pub fn ctr_program(&self) -> &Path {
        &self.ctr
    }

    /// The process id of containerd.
    pub fn pid(&self) -> u32 {
        self.service.as_ref().map_or(0, Service::pid)
    }

    /// Where state, socket, config and log are.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything containerd logged so far.
    pub fn log(&self) -> String {
        self.service.as_ref().map(Service::log).unwrap_or_default()
    }

    /// Runs `ctr ARGS` quietly; its stderr on failure.
    pub fn run_ctr(&self, args: &[&str]) -> crate::Result<String> {
        let out = self
            .ctr()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| crate::Error::io("run", &self.ctr, e))?;
        if !out.status.success() {
            return Err(crate::Error::Command {
                command: format!("ctr {}", args.join(" ")),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Kills every task, removes every container (their shims then exit),
    /// then stops containerd by PID.
    pub fn stop(&mut self) {
        let Some(mut service) = self.service.take() else {
            return;
        };
        let first_column = |out: crate::Result<String>| -> Vec<String> {
            out.map(|o| {
                o.lines()
                    .skip(1)
                    .filter_map(|l| l.split_whitespace().next().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
        };
        for task in first_column(self.run_ctr(&["tasks", "ls"])) {
            let _ = self.run_ctr(&["tasks", "delete", "--force", &task]);
        }
        for c in first_column(self.run_ctr(&["containers", "ls"])) {
            let _ = self.run_ctr(&["containers", "delete", &c]);
        }
        service.stop(Duration::from_secs(2));
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.stop();
    }
}
