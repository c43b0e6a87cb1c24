//! A function ready to start: an unpacked root filesystem and what to run in
//! it, read from the image config (entrypoint, cmd, env, working dir, labels).

use crate::engine::WasiPolicy;
use crate::runtime::Protocol;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The image as pulled, for the record.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageInfo {
    pub reference: String,
    /// Manifest digest (None for a bare file).
    pub digest: Option<String>,
    pub config_digest: Option<String>,
    pub layer_digests: Vec<String>,
    /// Sum of the layer blobs as transferred (gzip).
    pub compressed_bytes: u64,
    /// Sum of the regular files in the unpacked rootfs.
    pub unpacked_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Artifact {
    pub function: String,
    pub rootfs: PathBuf,
    /// argv inside the rootfs (entrypoint + cmd); argv[0] is absolute.
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub labels: BTreeMap<String, String>,
    pub protocol: Protocol,
    pub wasi: WasiPolicy,
    pub image: ImageInfo,
}

impl Artifact {
    /// The entry file on the host.
    pub fn entry_path(&self) -> PathBuf {
        self.rootfs.join(self.argv[0].trim_start_matches('/'))
    }

    /// A bare executable or module as a one-file rootfs (no image): `file:PATH`.
    /// The file is hard-linked (or copied) into `dir/rootfs/<name>`.
    /// Without a `protocol`, a component is `wasi-http` and anything else `lumos`.
    pub fn from_file(
        path: &Path,
        dir: &Path,
        protocol: Option<Protocol>,
    ) -> crate::Result<Artifact> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| crate::Error::Usage(format!("{}: no file name", path.display())))?
            .to_string();
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&rootfs)
            .map_err(|e| crate::Error::io("create rootfs", &rootfs, e))?;
        let dst = rootfs.join(&name);
        let _ = std::fs::remove_file(&dst);
        if std::fs::hard_link(path, &dst).is_err() {
            std::fs::copy(path, &dst).map_err(|e| crate::Error::io("copy", path, e))?;
        }
        let bytes = std::fs::metadata(&dst).map(|m| m.len()).unwrap_or(0);
        let function = name.split('.').next().unwrap_or(&name).to_string();
        let protocol = protocol.unwrap_or_else(|| {
            if entry_is_component(&dst) {
                Protocol::WasiHttp
            } else {
                Protocol::Lumos
            }
        });
        Ok(Artifact {
            function,
            rootfs,
            argv: vec![format!("/{name}")],
            env: vec![],
            cwd: "/".into(),
            labels: BTreeMap::new(),
            protocol,
            wasi: WasiPolicy::default(),
            image: ImageInfo {
                reference: format!("file:{}", path.display()),
                unpacked_bytes: bytes,
                ..Default::default()
            },
        })
    }

    /// From an OCI image config JSON and an unpacked rootfs.
    ///
    /// Labels (config `Labels` or manifest annotations) that the runner reads:
    /// `dev.lumos.function`, `dev.lumos.protocol` (lumos|stdio|http|wasi-http;
    /// without it, a component entry means wasi-http), and the
    /// WASI grants a function may ask for: `dev.lumos.wasi.env` (JSON object),
    /// `dev.lumos.wasi.dirs` (JSON array of guest paths, preopened from
    /// directories of the same path in the rootfs), `dev.lumos.wasi.network` ("true").
    pub fn from_config(
        config: &serde_json::Value,
        annotations: &BTreeMap<String, String>,
        rootfs: PathBuf,
        image: ImageInfo,
        protocol_override: Option<Protocol>,
    ) -> crate::Result<Artifact> {
        let c = config.get("config").cloned().unwrap_or_default();
        let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
            v.and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut argv = strings(c.get("Entrypoint"));
        argv.extend(strings(c.get("Cmd")));
        if argv.is_empty() {
            return Err(crate::Error::Image(
                "the image config has no Entrypoint or Cmd".into(),
            ));
        }
        if !argv[0].starts_with('/') {
            argv[0] = format!("/{}", argv[0]);
        }
        let mut labels: BTreeMap<String, String> = annotations.clone();
        if let Some(l) = c.get("Labels").and_then(|l| l.as_object()) {
            for (k, v) in l {
                if let Some(v) = v.as_str() {
                    labels.insert(k.clone(), v.to_string());
                }
            }
        }
        let protocol = match protocol_override {
            Some(p) => p,
            None => match labels.get("dev.lumos.protocol") {
                Some(p) => p.parse()?,
                None if entry_is_component(&rootfs.join(argv[0].trim_start_matches('/'))) => {
                    Protocol::WasiHttp
                }
                None => Protocol::Lumos,
            },
        };
        let mut wasi = WasiPolicy::default();
        if let Some(e) = labels.get("dev.lumos.wasi.env") {
            let m: BTreeMap<String, String> = serde_json::from_str(e)
                .map_err(|e| crate::Error::Image(format!("label dev.lumos.wasi.env: {e}")))?;
            wasi.env = m.into_iter().collect();
        }
        if let Some(d) = labels.get("dev.lumos.wasi.dirs") {
            let dirs: Vec<String> = serde_json::from_str(d)
                .map_err(|e| crate::Error::Image(format!("label dev.lumos.wasi.dirs: {e}")))?;
            for g in dirs {
                let host = rootfs.join(g.trim_start_matches('/'));
                wasi.preopens.push((host, g));
            }
        }
        wasi.network = labels
            .get("dev.lumos.wasi.network")
            .map(|v| v == "true")
            .unwrap_or(false);
        let entry_name = argv[0].rsplit('/').next().unwrap_or("function").to_string();
        let function = labels
            .get("dev.lumos.function")
            .cloned()
            .unwrap_or_else(|| {
                entry_name
                    .split('.')
                    .next()
                    .unwrap_or("function")
                    .to_string()
            });
        Ok(Artifact {
            function,
            rootfs,
            argv,
            env: strings(c.get("Env")),
            cwd: c
                .get("WorkingDir")
                .and_then(|w| w.as_str())
                .filter(|w| !w.is_empty())
                .unwrap_or("/")
                .to_string(),
            labels,
            protocol,
            wasi,
            image,
        })
    }
}

/// Whether an entry is a component (then its protocol, unless the image says
/// otherwise, is `wasi-http`). ELF files are examined only when named
/// `*.wasm` / `*.cwasm` (AoT images), so a native entry costs one 8-byte read.
fn entry_is_component(path: &Path) -> bool {
    use crate::engine::binary::{detect_file, read_header};
    let named_wasm = path
        .extension()
        .is_some_and(|e| e == "wasm" || e == "cwasm");
    let b = if named_wasm {
        detect_file(path)
    } else {
        read_header(path)
    };
    b.map(|b| b.is_component()).unwrap_or(false)
}

/// Sum of the sizes of the regular files under `dir`.
pub fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                total += m.len();
            }
        }
    }
    total
}
