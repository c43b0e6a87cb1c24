//! The containerd sandbox (`--sandbox containerd`): a private containerd
//! (lumos-services' [`Containerd`]) pulls the image itself from the registry
//! and runs each instance as a Kubernetes node with Kwasm would:
//! native images with runc (`containerd-runc`), wasm and WasmEdge AoT images
//! with crun built with WasmEdge (`containerd-crun-wasmedge`: the
//! `module.wasm.image/variant: compat-smart` annotation, a `.wasm` entrypoint).
//!
//! We talk to containerd with `ctr` rather than its gRPC API (the
//! `containerd-client` crate): ctr is what Debian ships with the daemon, so its
//! version always matches; `ctr run` without `-t` already wires the task's
//! stdin and stdout to its own (the frames go through it) and creates and
//! removes the container and its snapshot; and the crate would bring a
//! tonic/prost/tokio gRPC stack and protobuf code generation into the runner
//! for what one process spawn does. The cost, about 10 ms of ctr's own start
//! per instance, is part of the measured start, as kubelet's own calls are on
//! a node.
//!
//! Each instance has a network namespace of its own, as a pod does: an
//! `http` function's instance gets a [`crate::netns::Netns`] (a veth pair to
//! the root namespace, a /30 of 10.233.0.0/16, as a CNI plugin gives a pod)
//! joined with `ctr run --with-ns network:/run/netns/NAME`, and the runner
//! reaches it at the namespace's address, so two instances of a function on
//! a fixed port do not collide; making it is part of the instance's start,
//! as a pod's network is. Other protocols (frames over stdio) get the empty
//! namespace ctr makes by default. An instance placed on a bench node joins
//! the node's namespace instead.
//!
//! containerd's pull uses the registry credentials the runner's own pulls
//! use; how the password reaches ctr without a command line:
//! [`super::containerd_auth`].
//!
//! ctr 1.6 does not forward the end of its stdin to the task, so the
//! `stdio` protocol (request on stdin until EOF) is refused here.

use crate::artifact::{image_info, Artifact};
use crate::guard::Step;
use crate::instance::{Spec, Workload};
use crate::runtime::{Protocol, Runtime};
use lumos_model::Sandbox;
use lumos_oci::spec::media;
use lumos_services::Containerd;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The annotation crun (and runwasi, Kwasm) reads to run a wasm entrypoint
/// with its wasm handler, and the value it wants.
pub const COMPAT_ANNOTATION: &str = "module.wasm.image/variant";
pub const COMPAT_SMART: &str = "compat-smart";

/// Where scripts/setup installs crun built with WasmEdge.
pub const CRUN_WASMEDGE_DEFAULT: &str = "/opt/lumos/crun-wasmedge/bin/crun";

/// Why the containerd sandbox cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ContainerdError {
    /// containerd (or ctr, or its runc shim) is missing, or did not start.
    #[error("cannot start a private containerd: {0}")]
    Start(#[source] lumos_services::Error),
    #[error(
        "crun built with WasmEdge is not at {} (run scripts/setup, which builds it with \
         scripts/install-crun-wasmedge; or set $LUMOS_CRUN_WASMEDGE)", path.display()
    )]
    CrunMissing { path: PathBuf },
    #[error(
        "{} has no WasmEdge handler (`crun --version`: {version}); run scripts/setup \
         (scripts/install-crun-wasmedge)", path.display()
    )]
    CrunWithoutWasmedge { path: PathBuf, version: String },
    /// containerd could not pull the image; `reason` is ctr's last line.
    #[error("containerd could not pull {reference}: {reason}{hint}")]
    Pull {
        reference: String,
        reason: String,
        hint: String,
    },
    /// The credentials for the registry could not be looked up.
    #[error("credentials for {registry}: {source}")]
    Credentials {
        registry: String,
        #[source]
        source: Box<lumos_oci::Error>,
    },
    /// Credentials ctr cannot take through its password prompt.
    #[error("credentials for {registry} from {source_name} cannot be given to ctr: {why}")]
    UnusableCredentials {
        registry: String,
        source_name: String,
        why: &'static str,
    },
    /// The pseudo-terminal ctr reads the password from.
    #[error("cannot give ctr the registry password on a pseudo-terminal: {source}")]
    Pty {
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Ctr {
        what: &'static str,
        #[source]
        source: lumos_services::Error,
    },
    #[error(
        "containerd holds {reference}, but its {what} blob {digest} is not in its content store"
    )]
    Content {
        reference: String,
        what: &'static str,
        digest: String,
    },
    /// A wasm image without the annotation crun needs to run it with WasmEdge.
    #[error(
        "image {reference}: no annotation {COMPAT_ANNOTATION}={COMPAT_SMART}: crun runs a wasm \
         entrypoint with WasmEdge only when the image (or the pod) carries it, as on a Kwasm \
         node; without it crun execs the module and fails (\"Exec format error\"); pack the \
         image with `--wasm-format compat`"
    )]
    NoCompatSmart { reference: String },
    #[error(
        "image {reference}: entrypoint {entry} does not end in .wasm: crun's WasmEdge handler \
         runs only a .wasm entrypoint"
    )]
    NotDotWasm { reference: String, entry: String },
}

/// Where crun built with WasmEdge is: `$LUMOS_CRUN_WASMEDGE`, else
/// [`CRUN_WASMEDGE_DEFAULT`] (not checked).
pub(crate) fn crun_wasmedge_path() -> PathBuf {
    std::env::var_os("LUMOS_CRUN_WASMEDGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| CRUN_WASMEDGE_DEFAULT.into())
}

/// crun built with WasmEdge ([`crun_wasmedge_path`]), checked to have the
/// WasmEdge handler by running `crun --version` once per process and path:
/// running it again before each start would load crun into the page cache
/// between a `cold-node` drop and the timed start.
pub fn crun_wasmedge() -> Result<PathBuf, ContainerdError> {
    static CHECKED: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let path = crun_wasmedge_path();
    if !path.is_file() {
        return Err(ContainerdError::CrunMissing { path });
    }
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if checked.as_ref() == Some(&path) {
        return Ok(path);
    }
    let out = std::process::Command::new(&path)
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    let version = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).replace('\n', " "),
        Err(e) => e.to_string(),
    };
    if !version.contains("+WASM:wasmedge") {
        return Err(ContainerdError::CrunWithoutWasmedge {
            path,
            version: version.trim().to_string(),
        });
    }
    *checked = Some(path.clone());
    Ok(path)
}

/// Starts a private containerd with its images in `root` (None: a new
/// directory, removed when it stops).
pub fn start(root: Option<&Path>) -> Result<Arc<Containerd>, ContainerdError> {
    Containerd::start(root)
        .map(Arc::new)
        .map_err(ContainerdError::Start)
}

/// An image containerd holds, mounted read-only where the runner reads it
/// (entry, labels); unmounted when the last user drops it.
pub struct NodeImage {
    pub containerd: Arc<Containerd>,
    /// The name containerd knows the image by (the reference pulled).
    pub reference: String,
    /// The image carries `module.wasm.image/variant: compat-smart`.
    pub compat_smart: bool,
    mount: PathBuf,
}

impl std::fmt::Debug for NodeImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeImage")
            .field("reference", &self.reference)
            .field("mount", &self.mount)
            .finish()
    }
}

impl Drop for NodeImage {
    fn drop(&mut self) {
        let m = self.mount.display().to_string();
        let _ = self
            .containerd
            .run_ctr(&["images", "unmount", "--rm", m.as_str()]);
        let _ = std::fs::remove_dir(&self.mount);
    }
}

/// An image made ready by containerd.
pub struct Pulled {
    pub artifact: Artifact,
    /// containerd's pull (fetch and unpack into its snapshotter, which it
    /// does as one step); zero when containerd held the image already.
    pub pull: Duration,
    pub was_empty: bool,
    /// Reading the image's metadata and mounting it for the runner: not a
    /// phase of the node's cold start, left out of the timings.
    pub untimed: Duration,
}

fn is_loopback(host: &str) -> bool {
    let h = host.rsplit_once(':').map_or(host, |(h, _)| h);
    h == "localhost" || h.starts_with("127.") || h == "[::1]"
}

/// The image's top-level descriptor as containerd records it (`ctr images ls`).
fn listed(ctrd: &Containerd, reference: &str) -> Result<Option<(String, String)>, ContainerdError> {
    let filter = format!("name=={reference}");
    let out = ctrd
        .run_ctr(&["images", "ls", filter.as_str()])
        .map_err(|source| ContainerdError::Ctr {
            what: "list containerd's images",
            source,
        })?;
    // REF TYPE DIGEST SIZE …
    Ok(out.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 3 && f[0] == reference).then(|| (f[1].to_string(), f[2].to_string()))
    }))
}

fn blob(
    ctrd: &Containerd,
    reference: &str,
    what: &'static str,
    digest: &str,
) -> Result<Vec<u8>, ContainerdError> {
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    let p = ctrd
        .root
        .join("io.containerd.content.v1.content/blobs")
        .join(alg)
        .join(hex);
    std::fs::read(&p).map_err(|_| ContainerdError::Content {
        reference: reference.to_string(),
        what,
        digest: digest.to_string(),
    })
}

fn descriptor(media_type: &str, digest: &str, size: u64) -> crate::Result<lumos_oci::Descriptor> {
    serde_json::from_value(serde_json::json!({
        "mediaType": media_type, "digest": digest, "size": size
    }))
    .map_err(|e| crate::Error::Usage(format!("containerd listed a bad digest {digest}: {e}")))
}

/// Makes `reference` ready in containerd: pulled by containerd itself unless
/// it holds it already (a node's `imagePullPolicy: IfNotPresent`), then
/// read (config, annotations) and mounted read-only in `mounts` for the runner.
/// `fresh`: containerd was just started on an empty root, so it is not asked
/// whether it holds the image (a `ctr` start that would only time ctr itself).
pub fn pull(
    ctrd: &Arc<Containerd>,
    fresh: bool,
    reference: &str,
    insecure: bool,
    mounts: &Path,
    protocol: Option<Protocol>,
) -> crate::Result<Pulled> {
    let t0 = Instant::now();
    let held = if fresh {
        None
    } else {
        listed(ctrd, reference)?
    };
    let was_empty = held.is_none();
    // Finding credentials and checking the registry's token service are no
    // part of containerd's pull: left out of its time.
    let mut auth_time = Duration::ZERO;
    if was_empty {
        let t_auth = Instant::now();
        let host = lumos_oci::reference::Reference::parse(reference)?.registry;
        // Looked up as the runner's own pulls do; the password goes to ctr's
        // prompt, never on its command line (containerd_auth).
        let found = super::containerd_auth::lookup(&host)?;
        super::containerd_auth::check_token_service(&host, &found, insecure)?;
        auth_time = t_auth.elapsed();
        let user = found.credentials.as_ref().map(|c| c.username.as_str());
        let mut cmd = ctrd.ctr();
        cmd.args(super::containerd_auth::pull_args(
            reference,
            insecure || is_loopback(&host),
            user,
        ));
        let out = super::containerd_auth::run_pull(cmd, &host, &found)?;
        if !out.status.success() {
            let stderr =
                super::containerd_auth::redact(&String::from_utf8_lossy(&out.stderr), &found);
            let reason = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("ctr images pull failed")
                .trim()
                .trim_start_matches("ctr: ")
                .to_string();
            let hint = if reason.contains("401") || reason.contains("nauthorized") {
                let who = if reason.contains("token") {
                    "the token service of registry"
                } else {
                    "registry"
                };
                match found.credentials {
                    Some(_) => format!(
                        " ({who} {host} refused the credentials from {})",
                        found.source
                    ),
                    None => format!(
                        " (the containerd sandbox pulled without credentials: {}; set \
                         LUMOS_REGISTRY_USER and LUMOS_REGISTRY_PASSWORD, or log in with docker)",
                        found.source
                    ),
                }
            } else if reason.contains("connection refused") {
                " (is the registry running?)".into()
            } else {
                String::new()
            };
            return Err(ContainerdError::Pull {
                reference: reference.to_string(),
                reason,
                hint,
            }
            .into());
        }
    }
    let pull = if was_empty {
        t0.elapsed().saturating_sub(auth_time)
    } else {
        Duration::ZERO
    };
    let t1 = Instant::now();
    let (media_type, digest) = match held {
        Some(h) => h,
        None => listed(ctrd, reference)?.ok_or_else(|| ContainerdError::Pull {
            reference: reference.to_string(),
            reason: "ctr pulled it but containerd does not list it".into(),
            hint: String::new(),
        })?,
    };
    let top = blob(ctrd, reference, "manifest", &digest)?;
    let top_desc = descriptor(&media_type, &digest, top.len() as u64)?;
    let (desc, bytes) = if media::is_index(&media_type) {
        let idx = lumos_oci::image::parse_index(&top, &top_desc, &format!("index of {reference}"))?;
        let want = lumos_oci::registry::pull::host_platform();
        let d = lumos_oci::registry::pull::select_platform(&idx, &want, reference)?.clone();
        let b = blob(ctrd, reference, "manifest", d.digest.as_str())?;
        (d, b)
    } else {
        (top_desc, top)
    };
    let manifest =
        lumos_oci::image::parse_manifest(&bytes, &desc, &format!("manifest of {reference}"))?;
    let config_bytes = blob(ctrd, reference, "config", manifest.config.digest.as_str())?;
    let config: serde_json::Value =
        serde_json::from_slice(&config_bytes).map_err(crate::error::ImageError::Config)?;
    let annotations: BTreeMap<String, String> = manifest.annotations.clone().unwrap_or_default();
    let compat_smart = annotations.get(COMPAT_ANNOTATION).map(String::as_str) == Some(COMPAT_SMART)
        || config
            .pointer(&format!(
                "/config/Labels/{}",
                COMPAT_ANNOTATION.replace('/', "~1")
            ))
            .and_then(|v| v.as_str())
            == Some(COMPAT_SMART);
    let mount = mounts.join(format!("image-{}", crate::instance::new_instance_id()));
    std::fs::create_dir_all(&mount).map_err(|e| crate::Error::io("create", &mount, e))?;
    let m = mount.display().to_string();
    ctrd.run_ctr(&["images", "mount", reference, m.as_str()])
        .map_err(|source| ContainerdError::Ctr {
            what: "mount the image read-only for the runner",
            source,
        })?;
    let node = Arc::new(NodeImage {
        containerd: ctrd.clone(),
        reference: reference.to_string(),
        compat_smart,
        mount: mount.clone(),
    });
    let image = image_info(reference, desc.digest.to_string(), &manifest, &mount);
    let mut artifact = Artifact::from_config(&config, &annotations, mount, image, protocol)?;
    artifact.node = Some(node);
    Ok(Pulled {
        artifact,
        pull,
        was_empty,
        untimed: t1.elapsed() + auth_time,
    })
}

/// Checks that `artifact` can run in `sandbox` (a containerd one) with
/// `runtime`, as crun and runc would take it, before anything starts.
pub fn validate(artifact: &Artifact, sandbox: Sandbox, runtime: Runtime) -> crate::Result<()> {
    let reference = &artifact.image.reference;
    if artifact.protocol == Protocol::Stdio {
        return Err(crate::Error::SandboxUnusable {
            sandbox,
            reason: "protocol stdio needs the end of the request on stdin, which `ctr run` (containerd 1.6) \
                     does not pass to the task; serve the function with protocol lumos or http"
                .into(),
        });
    }
    if sandbox == Sandbox::ContainerdCrunWasmedge {
        crun_wasmedge()?;
        if !artifact.entry.ends_with(".wasm") {
            return Err(crate::Error::Unavailable {
                runtime,
                reason: ContainerdError::NotDotWasm {
                    reference: reference.clone(),
                    entry: artifact.entry.clone(),
                }
                .to_string(),
            });
        }
        let has_compat = artifact.node.as_ref().is_some_and(|n| n.compat_smart);
        if !has_compat {
            return Err(ContainerdError::NoCompatSmart {
                reference: reference.clone(),
            }
            .into());
        }
        // crun's WasmEdge runs a universal module's AoT section when it has
        // one: the runtime asked for must be what will run.
        let module = std::fs::read(artifact.entry_path()).map_err(|source| {
            crate::error::ImageError::Entry {
                path: artifact.entry_path(),
                source,
            }
        })?;
        let aot = matches!(lumos_wasm::wasmedge_section::read(&module), Ok(Some(_)));
        match (runtime, aot) {
            (Runtime::WasmedgeAot, false) => return Err(crate::Error::Unavailable {
                runtime,
                reason:
                    "the image's module has no WasmEdge AoT section: use an aot-wasmedge-<arch> \
                             image, or runtime wasmedge-interp"
                        .into(),
            }),
            (Runtime::WasmedgeInterp, true) => {
                return Err(crate::Error::Unavailable {
                    runtime,
                    reason:
                        "the image's module is WasmEdge AoT-compiled, whose native code crun's \
                             WasmEdge runs: use runtime wasmedge-aot, or the plain wasm image"
                            .into(),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// The process spec of one instance: `ctr run` of the image held by
/// containerd, its stdio the task's.
pub fn spec(sandbox: Sandbox, l: &super::NativeLaunch<'_>) -> crate::Result<Spec> {
    let node = l.node.ok_or_else(|| {
        crate::Error::Usage(format!(
            "sandbox {sandbox}: the image was not pulled by containerd"
        ))
    })?;
    let ctrd = &node.containerd;
    let sock = ctrd.socket.display().to_string();
    let pid_file = l.work.join(format!("{}.pid", l.id));
    let mut args: Vec<String> = vec![
        "--address".into(),
        sock.clone(),
        "run".into(),
        "--rm".into(),
        "--pid-file".into(),
        pid_file.display().to_string(),
    ];
    if let Some(ns) = l.netns {
        args.extend(["--with-ns".into(), format!("network:{}", ns.display())]);
    }
    if let Some(m) = l.memory_limit {
        args.extend(["--memory-limit".into(), m.to_string()]);
    }
    if let Some(c) = l.cpus {
        args.extend(["--cpus".into(), c.to_string()]);
    }
    if sandbox == Sandbox::ContainerdCrunWasmedge {
        // As a Kwasm node: crun (with WasmEdge) as the runc binary, the
        // annotation passed on to the OCI spec crun reads.
        args.extend([
            "--runc-binary".into(),
            crun_wasmedge()?.display().to_string(),
            "--annotation".into(),
            format!("{COMPAT_ANNOTATION}={COMPAT_SMART}"),
        ]);
    }
    for e in l.env {
        args.extend(["--env".into(), e.clone()]);
    }
    args.push(node.reference.clone());
    args.push(l.id.to_string());
    // The whole argv: ctr's arguments replace the image's.
    args.extend(l.argv.iter().cloned());
    let ctr = ctrd.ctr_program().display().to_string();
    let run = |a: &[&str]| {
        let mut v = vec![ctr.clone(), "--address".into(), sock.clone()];
        v.extend(a.iter().map(|s| s.to_string()));
        Step::Run(v)
    };
    Ok(Spec {
        program: ctrd.ctr_program().to_path_buf(),
        arg0: None,
        args: args.into_iter().map(Into::into).collect(),
        env: vec![(
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        )],
        cwd: None,
        rlimit_as: None,
        cgroup_procs: None,
        stop: vec![
            run(&["tasks", "delete", "--force", l.id]),
            run(&["containers", "delete", l.id]),
            Step::Run(vec![
                "rm".into(),
                "-f".into(),
                pid_file.display().to_string(),
            ]),
        ],
        workload: Workload::PidFile(pid_file),
        stderr_passthrough: l.stderr_passthrough,
        // ctr's --with-ns.
        netns: None,
    })
}

/// The program that starts the container (runc, or crun built with WasmEdge).
pub fn runtime_binary(sandbox: Sandbox) -> Option<PathBuf> {
    match sandbox {
        // Only where it is: the probe must not run it (and load it).
        Sandbox::ContainerdCrunWasmedge => Some(crun_wasmedge_path()).filter(|p| p.is_file()),
        _ => crate::node::which("runc"),
    }
}
