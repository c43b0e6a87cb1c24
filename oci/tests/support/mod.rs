//! Shared test support: real tools only. A `docker-registry` started on a free
//! loopback port (plain, htpasswd, token auth, TLS from a test CA) and killed by PID on
//! drop; tiny artifacts compiled here; the debian-slim stand-in built once
//! with mmdebstrap and cached.
#![allow(dead_code)]

pub mod faulty;
pub mod token_service;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Fails the test with a clear message when `tool` is not installed.
pub fn require(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in
        std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
    {
        let p = dir.join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{tool}` is not installed: run scripts/setup (apt-get install docker-registry skopeo umoci runc apache2-utils mmdebstrap oci-image-tool openssl)");
}

/// Runs a command, panicking with its output when it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A folder shared by the tests of one target dir (cached artifacts).
pub fn cache_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/lumos-oci-test-cache
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let dir = target.join("lumos-oci-test-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Default, Clone)]
pub struct RegistryOpts {
    pub htpasswd: Option<(String, String)>,
    pub tls: bool,
    /// An `auth:` section of its own, e.g. `TokenService::registry_config`.
    pub auth_section: Option<String>,
}

impl RegistryOpts {
    /// Basic auth (htpasswd) with one user.
    pub fn basic_auth(user: &str, password: &str) -> Self {
        RegistryOpts {
            htpasswd: Some((user.into(), password.into())),
            ..Default::default()
        }
    }
}

/// A running `docker-registry serve` on 127.0.0.1 and a free port.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The test CA (PEM) when started with TLS.
    pub ca: Option<PathBuf>,
}

impl Registry {
    pub fn start(opts: RegistryOpts) -> Registry {
        let bin = require("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: lumos-oci-test-secret\n",
            storage.display()
        );
        let mut ca = None;
        if opts.tls {
            let (ca_pem, cert, key) = make_tls(dir.path());
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            ca = Some(ca_pem);
        }
        if let Some((user, pass)) = &opts.htpasswd {
            require("htpasswd");
            let line = run(Command::new("htpasswd").args(["-Bbn", user, pass]));
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, line.trim()).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: lumos-test\n    path: {}\n",
                file.display()
            ));
        }
        if let Some(section) = &opts.auth_section {
            assert!(opts.htpasswd.is_none(), "one auth section only");
            config.push_str(section);
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = dir.path().join("registry.log");
        let logf = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("start docker-registry");
        let mut reg = Registry {
            child,
            port: 0,
            dir,
            ca,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(i) = text.find("listening on 127.0.0.1:") {
                let digits: String = text[i + "listening on 127.0.0.1:".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                if let Ok(p) = digits.parse() {
                    reg.port = p;
                    break;
                }
            }
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!("docker-registry exited ({status}):\n{text}");
            }
            if Instant::now() > deadline {
                panic!("docker-registry did not say where it listens:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        reg
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Blob data files the registry holds.
    pub fn stored_blobs(&self) -> usize {
        let root = self
            .dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256");
        let mut n = 0;
        if let Ok(prefixes) = std::fs::read_dir(root) {
            for p in prefixes.flatten() {
                for b in std::fs::read_dir(p.path()).into_iter().flatten().flatten() {
                    if b.path().join("data").is_file() {
                        n += 1;
                    }
                }
            }
        }
        n
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Child::kill signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test function `fibonacci` (every variant of [`artifacts`]) packed on
/// scratch with [`pack_options`] into the layout at `layout_dir` (created, or
/// packed again if it exists).
pub fn packed_fibonacci(layout_dir: &Path) -> lumos_oci::Layout {
    use lumos_oci::pack::{pack_function, BaseCache, BaseSpec};
    let layout = lumos_oci::Layout::create(layout_dir).unwrap();
    pack_function(
        &layout,
        "fibonacci",
        &artifacts(),
        &BaseSpec::Scratch,
        &pack_options(),
        &mut BaseCache::default(),
    )
    .unwrap();
    layout
}

/// Asserts that `err` says, on one line, that the `service` (`registry`,
/// `token service`) at `addr` did not answer `request` within `secs`
/// seconds; returns the message.
pub fn assert_no_answer(
    err: &lumos_oci::Error,
    service: &str,
    addr: &str,
    request: &str,
    secs: u64,
) -> String {
    let msg = err.to_string();
    let want = format!("{service} {addr}: no answer to {request} within {secs} s");
    assert!(msg.starts_with(&want), "{msg}\ndoes not start with\n{want}");
    assert!(!msg.contains('\n'), "{msg}");
    msg
}

/// Pushes the image `name` of `layout` under namespace `lumos`.
pub fn push_image(
    client: &lumos_oci::registry::Client,
    layout: &lumos_oci::Layout,
    name: &str,
) -> lumos_oci::Result<Vec<lumos_oci::registry::PushedImage>> {
    lumos_oci::registry::push_layout(client, layout, "lumos", "", &[name.to_string()], |_| {})
}

/// umoci's unpack of the image `name` of `layout` into the bundle `bundle`;
/// returns the bundle's root filesystem.
pub fn umoci_unpack(layout: &lumos_oci::Layout, name: &str, bundle: &Path) -> PathBuf {
    require("umoci");
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:{name}", layout.root().display()))
        .arg(bundle));
    bundle.join("rootfs")
}

/// Runs the umoci bundle `bundle` with runc in the foreground (no terminal,
/// no network namespace) as `args`, with `stdin` as its input; the container
/// is deleted afterwards.
pub fn runc_run(bundle: &Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let runc = require("runc");
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = serde_json::Value::Bool(false);
    cfg["process"]["args"] = serde_json::json!(args);
    if let Some(ns) = cfg["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
    }
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let id = format!(
        "lumos-oci-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut child = Command::new(&runc)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(&id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = Command::new(&runc).args(["delete", "-f", &id]).output();
    out
}

/// A self-signed certificate (`<name>.pem`) and its RSA key (`<name>.key`) in `dir`.
pub fn self_signed(dir: &Path, name: &str, subject: &str) -> (PathBuf, PathBuf) {
    require("openssl");
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject,
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    (cert, key)
}

/// A CA, and a leaf for 127.0.0.1 signed by it (rustls/openssl refuse a
/// self-signed CA used as the server certificate).
fn make_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n);
    self_signed(dir, "ca", "/CN=lumos test CA");
    std::fs::write(
        p("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(p("leaf.key"))
        .arg("-out")
        .arg(p("leaf.csr")));
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("leaf.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("leaf.ext"))
        .arg("-out")
        .arg(p("leaf.pem")));
    (p("ca.pem"), p("leaf.pem"), p("leaf.key"))
}

/// The program inside the test images: answers one request read from
/// stdin (or its arguments) with a known line.
const HELLO_RS: &str = r#"
use std::io::Read;
fn main() {
    let mut input = String::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        let _ = std::io::stdin().read_to_string(&mut input);
    } else {
        input = args.join(" ");
    }
    println!("lumos-hello: {}", input.trim());
}
"#;

fn compile(target: &str, out_name: &str, extra: &[&str]) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = cache_dir().join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(out_name);
    if out.is_file() {
        return out;
    }
    let src = dir.join("hello.rs");
    std::fs::write(&src, HELLO_RS).unwrap();
    let tmp = dir.join(format!("{out_name}.tmp-{}", std::process::id()));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    run(Command::new(rustc)
        .args([
            "--crate-name",
            "hello",
            "--edition",
            "2021",
            "-C",
            "opt-level=s",
            "-C",
            "strip=symbols",
            "-C",
            "panic=abort",
            "--target",
            target,
        ])
        .args(extra)
        .arg("-o")
        .arg(&tmp)
        .arg(&src));
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// A static x86_64 musl executable.
pub fn native_x86_64() -> PathBuf {
    compile("x86_64-unknown-linux-musl", "hello-x86_64", &[])
}

/// A static aarch64 musl executable (linked with rust-lld).
pub fn native_aarch64() -> PathBuf {
    compile(
        "aarch64-unknown-linux-musl",
        "hello-aarch64",
        &["-C", "linker=rust-lld"],
    )
}

/// A wasm32-wasip1 module.
pub fn wasm_module() -> PathBuf {
    compile("wasm32-wasip1", "hello.wasm", &[])
}

/// The artifacts of one test function with every variant.
pub fn artifacts() -> Vec<lumos_oci::pack::ArtifactInput> {
    use lumos_model::{AotEngine, Arch, Variant};
    use lumos_oci::pack::ArtifactInput;
    let wasm = wasm_module();
    vec![
        ArtifactInput {
            variant: Variant::Native(Arch::X86_64),
            path: native_x86_64(),
            engine: None,
        },
        ArtifactInput {
            variant: Variant::Native(Arch::Aarch64),
            path: native_aarch64(),
            engine: None,
        },
        ArtifactInput {
            variant: Variant::Wasm,
            path: wasm.clone(),
            engine: None,
        },
        // A stand-in for the precompiled module: packing does not look inside.
        ArtifactInput {
            variant: Variant::Aot(AotEngine::Wasmtime, Arch::X86_64),
            path: wasm.clone(),
            engine: Some("wasmtime-48.0.8".into()),
        },
        ArtifactInput {
            variant: Variant::Aot(AotEngine::Wasmedge, Arch::Aarch64),
            path: wasm,
            engine: Some("wasmedge-0.14.1".into()),
        },
    ]
}

pub fn pack_options() -> lumos_oci::pack::PackOptions {
    lumos_oci::pack::PackOptions {
        namespace: "lumos".into(),
        created: 1_700_000_000,
        source: Some("https://example.invalid/lumos".into()),
        revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
        wasm_format: lumos_oci::image::WasmFormat::Compat,
        protocol: Some(lumos_model::Protocol::Lumos),
        client: fast_client(),
    }
}

/// Client options with short backoff for tests.
pub fn fast_client() -> lumos_oci::registry::ClientOptions {
    lumos_oci::registry::ClientOptions {
        retries: 2,
        backoff: Duration::from_millis(50),
        credentials: Some(lumos_oci::registry::auth::Found::none("none (test)")),
        ..Default::default()
    }
}

/// The debian:bookworm-slim stand-in as an OCI layout (tag `bookworm-slim`),
/// built with mmdebstrap once and cached in the target dir.
pub fn debian_slim_layout() -> PathBuf {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = cache_dir().join("debian-bookworm-slim");
        let lock = std::fs::File::create(cache_dir().join("debian.lock")).unwrap();
        lock.lock().unwrap();
        if !dir.join("index.json").is_file() {
            build_debian_slim(&dir);
        }
        drop(lock);
        dir
    })
    .clone()
}

fn build_debian_slim(out: &Path) {
    require("mmdebstrap");
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("rootfs.tar");
    let mut cmd = Command::new("mmdebstrap");
    cmd.env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "--quiet",
            "--variant=minbase",
            "--mode=root",
            "--format=tar",
        ])
        .arg("--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr");
    for d in ["man", "doc", "locale", "info"] {
        cmd.arg(format!("--dpkgopt=path-exclude=/usr/share/{d}/*"));
    }
    cmd.arg("bookworm").arg(&tar);
    run(&mut cmd);
    // One deterministic gzip layer of the tarball as it is.
    let mut raw = Vec::new();
    std::fs::File::open(&tar)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let diff_id = lumos_oci::Digest::sha256(&raw);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::new(6));
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let blob = gz.finish().unwrap();
    let tmp = out.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let layout = lumos_oci::Layout::create(&tmp).unwrap();
    let layer_digest = layout.write_blob(&blob).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["bash"],
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "mmdebstrap --variant=minbase bookworm"}],
    });
    let config = serde_json::to_vec(&config).unwrap();
    let cd = layout.write_blob(&config).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": blob.len()}],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let md = layout.write_blob(&manifest).unwrap();
    let mut mdesc =
        lumos_oci::Descriptor::new(lumos_oci::spec::media::MANIFEST, md, manifest.len() as u64);
    mdesc.platform = Some(lumos_oci::Platform::new("linux", "amd64"));
    // An index with the one platform, as Docker Hub serves it.
    let index = lumos_oci::Index {
        manifests: vec![mdesc],
        ..lumos_oci::Index::empty()
    };
    let index = lumos_oci::spec::to_bytes(&index);
    let id = layout.write_blob(&index).unwrap();
    layout
        .set_refs(&[(
            "bookworm-slim".into(),
            lumos_oci::Descriptor::new(lumos_oci::spec::media::INDEX, id, index.len() as u64),
        )])
        .unwrap();
    let _ = std::fs::remove_dir_all(out);
    std::fs::rename(&tmp, out).unwrap();
}

/// Pushes the debian stand-in to `reg` as `library/debian:bookworm-slim`
/// and returns the reference to use as a base.
pub fn push_debian_slim(reg: &Registry) -> String {
    let layout = lumos_oci::Layout::open(debian_slim_layout()).unwrap();
    let desc = layout.resolve("bookworm-slim").unwrap();
    let client = lumos_oci::registry::Client::connect(&reg.host(), fast_client()).unwrap();
    let mut stats = lumos_oci::registry::PushStats::default();
    lumos_oci::registry::push(
        &client,
        &layout,
        &desc,
        "library/debian",
        Some("bookworm-slim"),
        &mut stats,
    )
    .unwrap();
    format!("{}/library/debian:bookworm-slim", reg.host())
}
