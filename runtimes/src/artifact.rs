//! A function ready to start: an unpacked root filesystem and what to run in
//! it, read from the image config (entrypoint, cmd, env, working dir, labels).

use crate::error::ImageError;
use crate::runtime::Protocol;
use lumos_shim::WasiPolicy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use lumos_model::ImageInfo;

#[derive(Debug, Clone)]
pub struct Artifact {
    pub function: String,
    pub rootfs: PathBuf,
    /// argv inside the rootfs (entrypoint + cmd), as the image gives it
    /// (argv[0] made absolute); what runs is `entry`.
    pub argv: Vec<String>,
    /// argv[0] resolved inside the rootfs (`confine`): absolute, no `..`, no
    /// symlink in it; a regular file.
    pub entry: String,
    pub env: Vec<String>,
    /// The working directory, resolved inside the rootfs like `entry`.
    pub cwd: String,
    pub labels: BTreeMap<String, String>,
    pub protocol: Protocol,
    /// The protocol came from `--protocol` or the image's `dev.lumos.protocol`
    /// label (false: assumed `lumos`).
    pub protocol_declared: bool,
    /// `http`: the fixed port the program listens on (`dev.lumos.port`, or
    /// the runner's `--port`); None: the runner picks one and sets `$PORT`.
    pub port: Option<u16>,
    pub wasi: WasiPolicy,
    pub image: ImageInfo,
    /// Under the containerd sandbox: the image as containerd holds it (the
    /// rootfs above is its read-only mount, for reading only).
    pub node: Option<std::sync::Arc<crate::container::containerd::NodeImage>>,
}

impl Artifact {
    /// The entry file on the host (inside the rootfs, as resolved).
    pub fn entry_path(&self) -> PathBuf {
        self.rootfs.join(self.entry.trim_start_matches('/'))
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
        // A component's protocol is a fact of the file, as good as declared.
        let (protocol, protocol_declared) = match protocol {
            Some(p) => (p, true),
            None if entry_is_component(&dst, &name) => (Protocol::WasiHttp, true),
            None => (Protocol::Lumos, false),
        };
        Ok(Artifact {
            function,
            rootfs,
            argv: vec![format!("/{name}")],
            entry: format!("/{name}"),
            env: vec![],
            cwd: "/".into(),
            labels: BTreeMap::new(),
            protocol,
            protocol_declared,
            port: None,
            wasi: WasiPolicy::default(),
            image: ImageInfo {
                reference: format!("file:{}", path.display()),
                unpacked_bytes: bytes,
                ..Default::default()
            },
            node: None,
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
    ///
    /// Every path among them (argv[0], `WorkingDir`, `dev.lumos.wasi.dirs`)
    /// is resolved inside the rootfs by [`crate::confine`] or refused with an
    /// error naming the field and the value.
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
        let entrypoint = strings(c.get("Entrypoint"));
        let entry_field = if entrypoint.is_empty() {
            "config Cmd[0]"
        } else {
            "config Entrypoint[0]"
        };
        let mut argv = entrypoint;
        argv.extend(strings(c.get("Cmd")));
        if argv.is_empty() {
            return Err(ImageError::NoEntrypoint.into());
        }
        let entry_in_root = crate::confine::file(&rootfs, entry_field, &argv[0])?;
        let entry = entry_in_root.guest.clone();
        if !argv[0].starts_with('/') {
            argv[0] = format!("/{}", argv[0]);
        }
        let config_labels = c.get("Labels").and_then(|l| l.as_object());
        let mut labels: BTreeMap<String, String> = annotations.clone();
        if let Some(l) = config_labels {
            for (k, v) in l {
                if let Some(v) = v.as_str() {
                    labels.insert(k.clone(), v.to_string());
                }
            }
        }
        // Where a label's value came from, for errors.
        let origin = |key: &str| {
            if config_labels.is_some_and(|l| l.contains_key(key)) {
                format!("config label {key}")
            } else {
                format!("annotation {key}")
            }
        };
        let (protocol, protocol_declared) = match protocol_override {
            Some(p) => (p, true),
            None => match labels.get("dev.lumos.protocol") {
                Some(p) => (
                    p.parse().map_err(|source| ImageError::Name {
                        field: origin("dev.lumos.protocol"),
                        value: p.clone(),
                        source,
                    })?,
                    true,
                ),
                None if entry_is_component(&entry_in_root.fd_path(), &entry) => {
                    (Protocol::WasiHttp, true)
                }
                None => (Protocol::Lumos, false),
            },
        };
        let port = match labels.get("dev.lumos.port") {
            Some(p) => Some(p.parse::<u16>().map_err(|source| ImageError::Port {
                field: origin("dev.lumos.port"),
                value: p.clone(),
                source,
            })?),
            None => None,
        };
        let mut wasi = WasiPolicy::default();
        if let Some(e) = labels.get("dev.lumos.wasi.env") {
            let m: BTreeMap<String, String> =
                serde_json::from_str(e).map_err(|source| ImageError::Json {
                    field: origin("dev.lumos.wasi.env"),
                    value: e.clone(),
                    source,
                })?;
            wasi.env = m.into_iter().collect();
        }
        if let Some(d) = labels.get("dev.lumos.wasi.dirs") {
            let field = origin("dev.lumos.wasi.dirs");
            let dirs: Vec<String> = serde_json::from_str(d).map_err(|source| ImageError::Json {
                field: field.clone(),
                value: d.clone(),
                source,
            })?;
            for (i, g) in dirs.into_iter().enumerate() {
                // The guest sees the directory under the name it asked for; the
                // shim opens it at the path it resolves to inside the rootfs.
                let r = crate::confine::dir(&rootfs, &format!("{field}[{i}]"), &g)?;
                wasi.preopens.push((PathBuf::from(r.guest), g));
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
        let cwd = match c
            .get("WorkingDir")
            .and_then(|w| w.as_str())
            .filter(|w| !w.is_empty())
        {
            Some(w) => crate::confine::dir(&rootfs, "config WorkingDir", w)?.guest,
            None => "/".to_string(),
        };
        Ok(Artifact {
            function,
            rootfs,
            argv,
            entry,
            env: strings(c.get("Env")),
            cwd,
            labels,
            protocol,
            protocol_declared,
            port,
            wasi,
            image,
            node: None,
        })
    }
}

/// Whether an entry is a component (then its protocol, unless the image says
/// otherwise, is `wasi-http`), read at `path`. ELF files are examined only
/// when `name` ends in `.wasm` / `.cwasm` (AoT images), so a native entry
/// costs one 8-byte read.
fn entry_is_component(path: &Path, name: &str) -> bool {
    use lumos_wasm::binary::{detect_file, read_header};
    let named_wasm = name.ends_with(".wasm") || name.ends_with(".cwasm");
    let b = if named_wasm {
        detect_file(path)
    } else {
        read_header(path)
    };
    b.map(|b| b.is_component()).unwrap_or(false)
}

/// What the record says of an image: its reference and digest, its
/// manifest's config and layer digests, its compressed size (config and
/// layers) and the size of its unpacked `rootfs`. One for every way an
/// image reaches a node (the runner's own pull, containerd's).
pub fn image_info(
    reference: &str,
    digest: String,
    manifest: &lumos_oci::Manifest,
    rootfs: &Path,
) -> ImageInfo {
    ImageInfo {
        reference: reference.to_string(),
        digest: Some(digest),
        config_digest: Some(manifest.config.digest.to_string()),
        layer_digests: manifest
            .layers
            .iter()
            .map(|l| l.digest.to_string())
            .collect(),
        compressed_bytes: manifest.config.size
            + manifest.layers.iter().map(|l| l.size).sum::<u64>(),
        unpacked_bytes: tree_bytes(rootfs),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ImageError;

    /// A rootfs with one entry file, and a config running it with `labels`.
    fn config_with(labels: serde_json::Value) -> (tempfile::TempDir, serde_json::Value) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.wasm"), b"\0asm\x01\0\0\0").unwrap();
        let config = serde_json::json!({
            "config": { "Entrypoint": ["/f.wasm"], "Labels": labels }
        });
        (dir, config)
    }

    fn from_config(labels: serde_json::Value) -> crate::Result<Artifact> {
        let (dir, config) = config_with(labels);
        Artifact::from_config(
            &config,
            &BTreeMap::new(),
            dir.path().to_path_buf(),
            ImageInfo::default(),
            None,
        )
    }

    #[test]
    fn the_fixed_port_comes_from_its_label() {
        let a = from_config(serde_json::json!({ "dev.lumos.port": "3030" })).unwrap();
        assert_eq!(a.port, Some(3030));
        assert_eq!(from_config(serde_json::json!({})).unwrap().port, None);
        let e = from_config(serde_json::json!({ "dev.lumos.port": "70000" })).unwrap_err();
        assert!(
            e.to_string()
                .contains("config label dev.lumos.port \"70000\": not a port number"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_label_names_its_field_and_value_and_keeps_its_cause() {
        let e = from_config(serde_json::json!({ "dev.lumos.protocol": "grpc" })).unwrap_err();
        assert_eq!(
            e.to_string(),
            "image: config label dev.lumos.protocol \"grpc\": unknown protocol `grpc` \
             (expected one of: lumos, stdio, http, wasi-http)"
        );
        let crate::Error::Image(ImageError::Name {
            field,
            value,
            source,
        }) = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(
            (field.as_str(), value.as_str()),
            ("config label dev.lumos.protocol", "grpc")
        );
        assert_eq!(source.value, "grpc");
        // Printed as one line, the cause is not said twice.
        assert_eq!(lumos_model::error_chain(&e), e.to_string());

        let e = from_config(serde_json::json!({ "dev.lumos.wasi.env": "[1]" })).unwrap_err();
        let crate::Error::Image(ImageError::Json { field, value, .. }) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (field.as_str(), value.as_str()),
            ("config label dev.lumos.wasi.env", "[1]")
        );
        assert!(
            std::error::Error::source(&e)
                .and_then(|s| s.source())
                .is_some_and(|s| s.is::<serde_json::Error>()),
            "{e:?}"
        );
    }
}
