//! Configs, manifests and indexes of Lumos images, as DESIGN.md "Images" says:
//! native (scratch or a base image) under a linux/amd64 + linux/arm64 index,
//! wasm in the "compat" form or as the CNCF Wasm OCI artifact, and AoT.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layer::LayerBuilder;
use crate::layout::Layout;
use crate::spec::{annotation, media, to_bytes, Descriptor, Index, Manifest, Platform};
use crate::timestamp::rfc3339;

/// What every image says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMeta {
    /// First part of the name, e.g. `lumos`.
    pub namespace: String,
    /// The function, e.g. `fibonacci`.
    pub function: String,
    /// The variant, e.g. `wasm`, `native-x86_64`, `native`.
    pub variant: String,
    /// Seconds since the epoch (`SOURCE_DATE_EPOCH`, default 0).
    pub created: i64,
    /// `org.opencontainers.image.source`, when known.
    pub source: Option<String>,
    /// `org.opencontainers.image.revision`, when known.
    pub revision: Option<String>,
}

impl ImageMeta {
    /// `<namespace>/<function>:<variant>`, the name in the layout.
    pub fn ref_name(&self) -> String {
        format!("{}/{}:{}", self.namespace, self.function, self.variant)
    }

    /// The same metadata for another variant.
    pub fn with_variant(&self, variant: &str) -> Self {
        ImageMeta {
            variant: variant.to_string(),
            ..self.clone()
        }
    }

    /// The annotations every image carries.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        a.insert(annotation::CREATED.to_string(), rfc3339(self.created));
        if let Some(s) = &self.source {
            a.insert(annotation::SOURCE.to_string(), s.clone());
        }
        if let Some(r) = &self.revision {
            a.insert(annotation::REVISION.to_string(), r.clone());
        }
        a.insert(
            annotation::LUMOS_FUNCTION.to_string(),
            self.function.clone(),
        );
        a.insert(annotation::LUMOS_VARIANT.to_string(), self.variant.clone());
        a
    }

    pub(crate) fn mtime(&self) -> u64 {
        self.created.max(0) as u64
    }
}

/// How wasm and AoT images are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WasmFormat {
    /// FROM scratch, one layer holding `/<function>.wasm`, platform `wasi/wasm`,
    /// `module.wasm.image/variant: compat-smart` (crun, runwasi, Kwasm).
    #[default]
    Compat,
    /// The CNCF Wasm OCI artifact (`application/vnd.wasm.config.v0+json`,
    /// one `application/wasm` layer).
    Artifact,
}

impl std::str::FromStr for WasmFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "compat" => Ok(WasmFormat::Compat),
            "artifact" => Ok(WasmFormat::Artifact),
            other => Err(Error::Image(format!(
                "unknown wasm format `{other}` (expected `compat` or `artifact`)"
            ))),
        }
    }
}

/// For AoT images: which engine and CPU the precompiled code is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AotInfo {
    /// e.g. `wasmedge-0.14.1`, `wasmtime-48.0.8`.
    pub engine: String,
    /// `x86_64` or `aarch64`.
    pub arch: String,
}

/// A base image already in the layout (see `registry::pull`).
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// The reference it was pulled as, for the `base.name` annotation.
    pub name: String,
    /// The digest of `manifest` (the platform-specific manifest).
    pub digest: Digest,
    pub manifest: Manifest,
    /// The base's config, as stored.
    pub config: Vec<u8>,
}

/// One packed image: where it is in the layout and what it is called there.
#[derive(Debug, Clone)]
pub struct Packed {
    /// `<namespace>/<function>:<variant>`.
    pub name: String,
    /// The manifest (or index) descriptor, platform set for manifests.
    pub descriptor: Descriptor,
}

pub(crate) fn history(meta: &ImageMeta, created_by: &str) -> Value {
    json!({
        "created": rfc3339(meta.created),
        "created_by": created_by,
        "comment": "lumos",
    })
}

pub(crate) fn write_manifest(
    layout: &Layout,
    config_media_type: &str,
    config: &[u8],
    layers: Vec<Descriptor>,
    annotations: BTreeMap<String, String>,
    platform: Option<Platform>,
) -> Result<Descriptor> {
    let config_digest = layout.write_blob(config)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::MANIFEST.to_string()),
        artifact_type: None,
        config: Descriptor::new(config_media_type, config_digest, config.len() as u64),
        layers,
        subject: None,
        annotations: Some(annotations),
    };
    let bytes = to_bytes(&manifest);
    let digest = layout.write_blob(&bytes)?;
    let mut d = Descriptor::new(media::MANIFEST, digest, bytes.len() as u64);
    d.platform = platform;
    Ok(d)
}

/// Packs a wasm module (or, with `aot`, a precompiled module) as one image.
/// The file inside is always `/<function>.wasm`: runtimes pick the wasm
/// handler by that suffix.
pub fn pack_wasm(
    layout: &Layout,
    meta: &ImageMeta,
    module: &[u8],
    format: WasmFormat,
    aot: Option<&AotInfo>,
) -> Result<Packed> {
    let mut annotations = meta.annotations();
    if let Some(aot) = aot {
        annotations.insert(annotation::LUMOS_AOT_ENGINE.to_string(), aot.engine.clone());
        annotations.insert(annotation::LUMOS_AOT_ARCH.to_string(), aot.arch.clone());
    }
    let file = format!("/{}.wasm", meta.function);
    let descriptor = match format {
        WasmFormat::Compat => {
            annotations.insert(
                annotation::WASM_VARIANT.to_string(),
                "compat-smart".to_string(),
            );
            let mut builder = LayerBuilder::new(meta.mtime());
            builder.add_file(&file, module.to_vec(), 0o755)?;
            let layer = builder.build()?;
            layout.write_blob(&layer.blob)?;
            let config = json!({
                "architecture": "wasm",
                "os": "wasi",
                "created": rfc3339(meta.created),
                "config": {
                    "Entrypoint": [file],
                    "Labels": annotations,
                },
                "rootfs": { "type": "layers", "diff_ids": [layer.diff_id] },
                "history": [history(meta, &format!("lumos: COPY {} {file}", meta.variant))],
            });
            write_manifest(
                layout,
                media::CONFIG,
                &to_bytes(&config),
                vec![layer.descriptor],
                annotations,
                Some(Platform::wasi()),
            )?
        }
        WasmFormat::Artifact => {
            let digest = layout.write_blob(module)?;
            let mut layer = Descriptor::new(media::WASM_LAYER, digest.clone(), module.len() as u64);
            layer.annotations = Some(BTreeMap::from([(
                "org.opencontainers.image.title".to_string(),
                file.trim_start_matches('/').to_string(),
            )]));
            let config = json!({
                "created": rfc3339(meta.created),
                "architecture": "wasm",
                "os": "wasip1",
                "layerDigests": [digest],
            });
            let platform = Platform::new("wasip1", "wasm");
            write_manifest(
                layout,
                media::WASM_CONFIG,
                &to_bytes(&config),
                vec![layer],
                annotations,
                Some(platform),
            )?
        }
    };
    Ok(Packed {
        name: meta.ref_name(),
        descriptor,
    })
}

/// `amd64`/`arm64` for `x86_64`/`aarch64`.
fn oci_arch(arch: &str) -> Result<&'static str> {
    match arch {
        "x86_64" | "amd64" => Ok("amd64"),
        "aarch64" | "arm64" => Ok("arm64"),
        other => Err(Error::Image(format!(
            "unsupported architecture `{other}` for a native image (expected x86_64 or aarch64)"
        ))),
    }
}

fn oci_layer_media_type(m: &str) -> Result<&str> {
    Ok(match m {
        media::DOCKER_LAYER_GZIP | media::LAYER_GZIP => media::LAYER_GZIP,
        media::DOCKER_LAYER_TAR | media::LAYER_TAR => media::LAYER_TAR,
        media::LAYER_ZSTD => media::LAYER_ZSTD,
        other => {
            return Err(Error::UnsupportedMediaType {
                what: "base image layer".to_string(),
                media_type: other.to_string(),
            })
        }
    })
}

/// Packs a static executable for `arch` (`x86_64`/`aarch64`) as a linux image:
/// on scratch (one layer) or on `base` (its layers, then the function layer;
/// its config kept except entrypoint, cmd, labels, rootfs and history).
pub fn pack_native(
    layout: &Layout,
    meta: &ImageMeta,
    binary: &[u8],
    arch: &str,
    base: Option<&BaseImage>,
) -> Result<Packed> {
    let oci_arch = oci_arch(arch)?;
    let mut annotations = meta.annotations();
    let path = format!("/{}", meta.function);
    let mut builder = LayerBuilder::new(meta.mtime());
    builder.add_file(&path, binary.to_vec(), 0o755)?;
    let layer = builder.build()?;
    layout.write_blob(&layer.blob)?;

    let (mut config, mut layers) = match base {
        None => (
            json!({
                "architecture": oci_arch,
                "os": "linux",
                "config": {
                    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                },
                "rootfs": { "type": "layers", "diff_ids": [] },
                "history": [],
            }),
            Vec::new(),
        ),
        Some(base) => {
            let config: Value = serde_json::from_slice(&base.config)
                .map_err(|e| Error::json(format!("config of base image {}", base.name), e))?;
            let base_os = config.get("os").and_then(Value::as_str).unwrap_or("");
            let base_arch = config
                .get("architecture")
                .and_then(Value::as_str)
                .unwrap_or("");
            if base_os != "linux" || base_arch != oci_arch {
                return Err(Error::PlatformNotFound {
                    reference: base.name.clone(),
                    wanted: format!("linux/{oci_arch}"),
                    available: format!("{base_os}/{base_arch}"),
                });
            }
            let layers = base
                .manifest
                .layers
                .iter()
                .map(|l| {
                    let mut l = l.clone();
                    l.media_type = oci_layer_media_type(&l.media_type)?.to_string();
                    Ok(l)
                })
                .collect::<Result<Vec<_>>>()?;
            annotations.insert(annotation::BASE_NAME.to_string(), base.name.clone());
            annotations.insert(annotation::BASE_DIGEST.to_string(), base.digest.to_string());
            (config, layers)
        }
    };
    let obj = config
        .as_object_mut()
        .ok_or_else(|| Error::Image("base image config is not a JSON object".into()))?;
    obj.insert("created".into(), json!(rfc3339(meta.created)));
    let cfg = obj
        .entry("config")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| Error::Image("base image config has a non-object `config`".into()))?;
    cfg.insert("Entrypoint".into(), json!([path]));
    cfg.remove("Cmd");
    let labels = cfg.entry("Labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    let labels = labels.as_object_mut().expect("made an object above");
    for (k, v) in &annotations {
        labels.insert(k.clone(), json!(v));
    }
    let rootfs = obj
        .entry("rootfs")
        .or_insert_with(|| json!({ "type": "layers", "diff_ids": [] }));
    rootfs
        .get_mut("diff_ids")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::Image("base image config has no rootfs.diff_ids".into()))?
        .push(json!(layer.diff_id));
    let hist = obj.entry("history").or_insert_with(|| json!([]));
    if let Some(h) = hist.as_array_mut() {
        h.push(history(
            meta,
            &format!("lumos: COPY {} {path}", meta.variant),
        ));
    }
    layers.push(layer.descriptor);
    let platform = Platform::linux_for_arch(arch);
    let descriptor = write_manifest(
        layout,
        media::CONFIG,
        &to_bytes(&config),
        layers,
        annotations,
        platform,
    )?;
    Ok(Packed {
        name: meta.ref_name(),
        descriptor,
    })
}

/// The native image index over per-architecture manifests (each descriptor
/// must carry its platform, as [`pack_native`] returns them).
pub fn pack_index(layout: &Layout, meta: &ImageMeta, children: &[Descriptor]) -> Result<Packed> {
    let mut manifests: Vec<Descriptor> = children
        .iter()
        .map(|c| {
            if c.platform.is_none() {
                return Err(Error::Image(format!(
                    "index child {} has no platform",
                    c.digest
                )));
            }
            let mut c = c.clone();
            c.annotations = None;
            Ok(c)
        })
        .collect::<Result<_>>()?;
    manifests.sort_by(|a, b| {
        let key = |d: &Descriptor| d.platform.as_ref().map(|p| p.to_string());
        key(a).cmp(&key(b))
    });
    let index = Index {
        schema_version: 2,
        media_type: Some(media::INDEX.to_string()),
        artifact_type: None,
        manifests,
        annotations: Some(meta.annotations()),
    };
    let bytes = to_bytes(&index);
    let digest = layout.write_blob(&bytes)?;
    Ok(Packed {
        name: meta.ref_name(),
        descriptor: Descriptor::new(media::INDEX, digest, bytes.len() as u64),
    })
}

/// Reads the manifest a descriptor points at (digest verified).
pub fn read_manifest(layout: &Layout, desc: &Descriptor) -> Result<Manifest> {
    let bytes = layout.read_blob(&desc.digest)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::json(format!("manifest {}", desc.digest), e))
}

/// Reads the index a descriptor points at (digest verified).
pub fn read_index(layout: &Layout, desc: &Descriptor) -> Result<Index> {
    let bytes = layout.read_blob(&desc.digest)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::json(format!("index {}", desc.digest), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(variant: &str) -> ImageMeta {
        ImageMeta {
            namespace: "lumos".into(),
            function: "fibonacci".into(),
            variant: variant.into(),
            created: 0,
            source: Some("https://example.invalid/lumos".into()),
            revision: Some("abc123".into()),
        }
    }

    #[test]
    fn compat_wasm_image_has_the_specified_shape() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let p = pack_wasm(
            &layout,
            &meta("wasm"),
            b"\0asm\x01\0\0\0",
            WasmFormat::Compat,
            None,
        )
        .unwrap();
        assert_eq!(p.name, "lumos/fibonacci:wasm");
        let m = read_manifest(&layout, &p.descriptor).unwrap();
        let a = m.annotations.as_ref().unwrap();
        assert_eq!(a[annotation::WASM_VARIANT], "compat-smart");
        assert_eq!(a[annotation::CREATED], "1970-01-01T00:00:00Z");
        assert_eq!(a[annotation::LUMOS_VARIANT], "wasm");
        let config: Value =
            serde_json::from_slice(&layout.read_blob(&m.config.digest).unwrap()).unwrap();
        assert_eq!(config["os"], "wasi");
        assert_eq!(config["architecture"], "wasm");
        assert_eq!(config["config"]["Entrypoint"], json!(["/fibonacci.wasm"]));
        assert_eq!(
            config["config"]["Labels"][annotation::WASM_VARIANT],
            "compat-smart"
        );
    }

    #[test]
    fn artifact_wasm_image_has_the_cncf_shape() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let aot = AotInfo {
            engine: "wasmtime-48.0.8".into(),
            arch: "aarch64".into(),
        };
        let p = pack_wasm(
            &layout,
            &meta("aot-wasmtime-aarch64"),
            b"cwasm",
            WasmFormat::Artifact,
            Some(&aot),
        )
        .unwrap();
        let m = read_manifest(&layout, &p.descriptor).unwrap();
        assert_eq!(m.config.media_type, media::WASM_CONFIG);
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.layers[0].media_type, media::WASM_LAYER);
        assert_eq!(m.layers[0].digest, Digest::sha256(b"cwasm"));
        let config: Value =
            serde_json::from_slice(&layout.read_blob(&m.config.digest).unwrap()).unwrap();
        assert_eq!(config["os"], "wasip1");
        assert_eq!(config["layerDigests"], json!([Digest::sha256(b"cwasm")]));
        let a = m.annotations.unwrap();
        assert_eq!(a[annotation::LUMOS_AOT_ENGINE], "wasmtime-48.0.8");
        assert_eq!(a[annotation::LUMOS_AOT_ARCH], "aarch64");
    }

    #[test]
    fn native_on_base_keeps_base_config_and_layers() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let base_layer = Descriptor::new(media::DOCKER_LAYER_GZIP, Digest::sha256(b"base"), 4);
        let base_config = to_bytes(&json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin", "LANG=C.UTF-8"], "User": "1000", "Cmd": ["bash"]},
            "rootfs": {"type": "layers", "diff_ids": [Digest::sha256(b"basetar")]},
        }));
        let base = BaseImage {
            name: "127.0.0.1:5000/library/debian:bookworm-slim".into(),
            digest: Digest::sha256(b"m"),
            manifest: Manifest {
                schema_version: 2,
                media_type: Some(media::DOCKER_MANIFEST.into()),
                artifact_type: None,
                config: Descriptor::of(media::DOCKER_CONFIG, &base_config),
                layers: vec![base_layer],
                subject: None,
                annotations: None,
            },
            config: base_config,
        };
        let p = pack_native(
            &layout,
            &meta("native-x86_64"),
            b"\x7fELF",
            "x86_64",
            Some(&base),
        )
        .unwrap();
        let m = read_manifest(&layout, &p.descriptor).unwrap();
        assert_eq!(m.layers.len(), 2);
        assert_eq!(m.layers[0].media_type, media::LAYER_GZIP);
        assert_eq!(m.layers[0].digest, Digest::sha256(b"base"));
        let config: Value =
            serde_json::from_slice(&layout.read_blob(&m.config.digest).unwrap()).unwrap();
        assert_eq!(config["config"]["User"], "1000");
        assert_eq!(config["config"]["Env"][1], "LANG=C.UTF-8");
        assert_eq!(config["config"]["Entrypoint"], json!(["/fibonacci"]));
        assert!(config["config"].get("Cmd").is_none());
        assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        // The wrong architecture is refused with the platform named.
        let err = pack_native(
            &layout,
            &meta("native-aarch64"),
            b"x",
            "aarch64",
            Some(&base),
        )
        .unwrap_err();
        assert!(err.to_string().contains("linux/arm64"), "{err}");
    }

    #[test]
    fn index_lists_both_platforms() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let a = pack_native(&layout, &meta("native-x86_64"), b"x86", "x86_64", None).unwrap();
        let b = pack_native(&layout, &meta("native-aarch64"), b"arm", "aarch64", None).unwrap();
        let idx = pack_index(&layout, &meta("native"), &[b.descriptor, a.descriptor]).unwrap();
        let index = read_index(&layout, &idx.descriptor).unwrap();
        let platforms: Vec<_> = index
            .manifests
            .iter()
            .map(|d| d.platform.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    }
}
