//! Where a native function runs: a real container runtime (runc, crun), else
//! unshare + chroot, else a plain process. Probed once per runner process;
//! the one used is recorded in every result.

pub mod bundle;
pub mod containerd;
pub mod containerd_auth;
pub mod seccomp;

use crate::guard::Step;
use crate::instance::{Spec, Workload};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub use lumos_model::{Probe, Sandbox};

/// Why the probe found a sandbox unusable (recorded as text in [`Probe`]).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{program}: {source}")]
    Spawn {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{command}: {status}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
    },
    #[error("needs root")]
    NeedsRoot,
}

fn version_of(bin: &'static str) -> Result<String, ProbeError> {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ProbeError::Spawn {
            program: bin,
            source,
        })?;
    if !out.status.success() {
        return Err(ProbeError::Failed {
            command: format!("{bin} --version"),
            status: out.status,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

fn unshare_works() -> Result<String, ProbeError> {
    let status = Command::new("unshare")
        .args(["-fpmiu", "--kill-child", "true"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|source| ProbeError::Spawn {
            program: "unshare",
            source,
        })?;
    if status.success() {
        Ok("unshare -fpmiu + chroot".to_string())
    } else {
        Err(ProbeError::Failed {
            command: "unshare".into(),
            status,
        })
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn probe_now() -> Probe {
    let root = is_root();
    // The probe is a record: each finding as text.
    let need_root = |r: Result<String, ProbeError>| match r {
        Ok(_) if !root => Err(ProbeError::NeedsRoot.to_string()),
        r => r.map_err(|e| e.to_string()),
    };
    let runc = need_root(version_of("runc"));
    let crun = need_root(version_of("crun"));
    let chroot = need_root(unshare_works());
    let crun_unmount_unified = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(4) == Some("/sys/fs/cgroup/unified"))
        })
        .unwrap_or(false);
    let chosen = if runc.is_ok() {
        Sandbox::Runc
    } else if crun.is_ok() {
        Sandbox::Crun
    } else if chroot.is_ok() {
        Sandbox::Chroot
    } else {
        Sandbox::Process
    };
    Probe {
        chosen,
        runc,
        crun,
        chroot,
        crun_unmount_unified,
    }
}

/// Probes once per process.
pub fn probe() -> &'static Probe {
    static P: OnceLock<Probe> = OnceLock::new();
    P.get_or_init(probe_now)
}

/// What a native instance runs.
pub struct NativeLaunch<'a> {
    pub id: &'a str,
    pub rootfs: &'a Path,
    /// Where per-instance bundles go.
    pub work: &'a Path,
    /// argv inside the rootfs; argv[0] is an absolute path in it.
    pub argv: &'a [String],
    /// argv[0] as resolved inside the rootfs (crate::confine).
    pub entry: &'a str,
    pub env: &'a [String],
    pub cwd: &'a str,
    pub memory_limit: Option<u64>,
    /// CPUs (fractional): runc and crun apply it from the bundle, containerd
    /// from `ctr run --cpus`; the other sandboxes get a cgroup from the
    /// launcher (crate::cgroup).
    pub cpus: Option<f64>,
    pub stderr_passthrough: bool,
    /// Sandboxes `containerd-*`: the image as containerd holds it.
    pub node: Option<&'a containerd::NodeImage>,
    /// The network namespace the instance runs in (`/run/netns/NAME`,
    /// crate::netns): runc and crun join it from config.json, containerd
    /// with `ctr run --with-ns`, chroot and process in the child before it
    /// execs. None: the runner's network (containerd: an empty one of its own).
    pub netns: Option<&'a Path>,
}

fn crun_wrapped(args: &str, unified: bool) -> Vec<String> {
    if unified {
        vec![
            "unshare".into(),
            "-m".into(),
            "--propagation".into(),
            "private".into(),
            "sh".into(),
            "-c".into(),
            format!("umount /sys/fs/cgroup/unified 2>/dev/null; exec crun {args}"),
        ]
    } else {
        let mut v = vec!["crun".to_string()];
        v.extend(args.split(' ').map(String::from));
        v
    }
}

/// The process spec for a native instance in `sandbox`.
pub fn spec(sandbox: Sandbox, l: &NativeLaunch<'_>) -> crate::Result<Spec> {
    let env_pairs = |env: &[String]| -> Vec<(OsString, OsString)> {
        env.iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    };
    let base_env = vec![(
        "PATH".into(),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
    )];
    match sandbox {
        Sandbox::ContainerdRunc | Sandbox::ContainerdCrunWasmedge => containerd::spec(sandbox, l),
        Sandbox::Containerd => Err(crate::Error::Usage(
            "sandbox containerd: resolve it to containerd-runc or containerd-crun-wasmedge first"
                .into(),
        )),
        Sandbox::Runc | Sandbox::Crun => {
            let bundle = l.work.join(l.id);
            bundle::write(&bundle, l)?;
            let b = bundle.display().to_string();
            let (program, args, stop, state) = if sandbox == Sandbox::Runc {
                (
                    "runc".to_string(),
                    vec![
                        "run".to_string(),
                        "--bundle".into(),
                        b.clone(),
                        l.id.to_string(),
                    ],
                    vec![
                        Step::Run(vec![
                            "runc".into(),
                            "kill".into(),
                            l.id.into(),
                            "KILL".into(),
                        ]),
                        Step::Run(vec![
                            "runc".into(),
                            "delete".into(),
                            "-f".into(),
                            l.id.into(),
                        ]),
                    ],
                    vec!["runc".to_string()],
                )
            } else {
                let unified = probe().crun_unmount_unified;
                // Bundle paths and ids we make hold no spaces or quotes.
                let run = crun_wrapped(&format!("run --bundle {b} {}", l.id), unified);
                (
                    run[0].clone(),
                    run[1..].to_vec(),
                    vec![
                        Step::Run(crun_wrapped(&format!("kill {} KILL", l.id), unified)),
                        Step::Run(crun_wrapped(&format!("delete -f {}", l.id), unified)),
                    ],
                    vec!["crun".to_string()],
                )
            };
            let mut stop = stop;
            stop.push(Step::Run(vec!["rm".into(), "-rf".into(), b]));
            Ok(Spec {
                program: program.into(),
                arg0: None,
                args: args.into_iter().map(Into::into).collect(),
                env: base_env,
                cwd: None,
                rlimit_as: None,
                cgroup_procs: None,
                stop,
                workload: Workload::ContainerState {
                    argv: state,
                    id: l.id.to_string(),
                },
                stderr_passthrough: l.stderr_passthrough,
                // In config.json (bundle::config).
                netns: None,
            })
        }
        Sandbox::Chroot => {
            // argv[0] as the image gives it: exec inside the chroot resolves it
            // with the rootfs as `/` (links re-rooted, `..` stopping at the
            // root), the same rule as crate::confine, which already checked it.
            let mut args: Vec<OsString> = ["-fpmiu", "--kill-child", "--root"]
                .iter()
                .map(Into::into)
                .collect();
            args.push(l.rootfs.into());
            args.push("--wd".into());
            args.push(l.cwd.into());
            args.extend(l.argv.iter().map(Into::into));
            let mut env = base_env;
            env.extend(env_pairs(l.env));
            Ok(Spec {
                program: "unshare".into(),
                arg0: None,
                args,
                env,
                cwd: None,
                rlimit_as: l.memory_limit,
                cgroup_procs: None,
                stop: vec![],
                workload: Workload::Descendant,
                stderr_passthrough: l.stderr_passthrough,
                netns: l.netns.map(Path::to_path_buf),
            })
        }
        Sandbox::Process => {
            // No root of its own: the runner executes the path the entry
            // resolves to inside the rootfs, resolved again now (crate::confine),
            // under the name the image gives it.
            let exe = crate::confine::file(l.rootfs, "config Entrypoint[0]", l.entry)?.host;
            let cwd = crate::confine::dir(l.rootfs, "config WorkingDir", l.cwd)?.host;
            let mut env = base_env;
            env.extend(env_pairs(l.env));
            Ok(Spec {
                program: exe,
                arg0: Some(l.argv[0].clone().into()),
                args: l.argv[1..].iter().map(Into::into).collect(),
                env,
                cwd: Some(cwd),
                rlimit_as: l.memory_limit,
                cgroup_procs: None,
                stop: vec![],
                workload: Workload::Child,
                stderr_passthrough: l.stderr_passthrough,
                netns: l.netns.map(Path::to_path_buf),
            })
        }
    }
}
