//! Configs, manifests and indexes of Lumos images, as DESIGN.md "Images" says:
//! native (scratch or a base image) under a linux/amd64 + linux/arm64 index,
//! wasm in the "compat" form or as the CNCF Wasm OCI artifact, and AoT.

use std::collections::BTreeMap;

use lumos_model::{AotEngine, Arch, Protocol, Variant};
use serde_json::{json, Value};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layer::LayerBuilder;
use crate::layout::Layout;
use crate::spec::{
    annotation, media, to_bytes, Descriptor, Index, Manifest, Platform, MAX_DOCUMENT_BYTES,
};
use crate::timestamp::rfc3339;

/// The tag of the index over a function's native variants (each variant's
/// own image is tagged [`Variant::image_tag`]).
pub const NATIVE_INDEX_TAG: &str = "native";

/// What every image of a function says about itself. Which image of the
/// function it is (its variant, hence its tag and `dev.lumos.variant`)
/// follows from what is packed: [`pack_native`]'s architecture,
/// [`pack_wasm`]'s AoT engine, or the [`pack_index`] tagged
/// [`NATIVE_INDEX_TAG`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMeta {
    /// First part of the name, e.g. `lumos`.
    pub namespace: String,
    /// The function, e.g. `fibonacci`.
    pub function: String,
    /// Seconds since the epoch (`SOURCE_DATE_EPOCH`, default 0).
    pub created: i64,
    /// `org.opencontainers.image.source`, when known.
    pub source: Option<String>,
    /// `org.opencontainers.image.revision`, when known.
    pub revision: Option<String>,
    /// `dev.lumos.protocol`, when known: the runner invokes the function
    /// that way without being told.
    pub protocol: Option<Protocol>,
    /// `dev.lumos.port` (and `ExposedPorts`): the fixed port an `http`
    /// function listens on; None: it listens on `$PORT`.
    pub port: Option<u16>,
    /// The config's `Cmd`: arguments after the entrypoint.
    pub args: Vec<String>,
}

impl ImageMeta {
    /// `<namespace>/<function>:<tag>`, the name of one image in the layout.
    pub fn ref_name(&self, tag: &str) -> String {
        format!("{}/{}:{tag}", self.namespace, self.function)
    }

    /// The annotations every image carries; `variant` is the image's tag
    /// (`dev.lumos.variant`).
    pub(crate) fn annotations(&self, variant: &str) -> BTreeMap<String, String> {
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
        a.insert(annotation::LUMOS_VARIANT.to_string(), variant.to_string());
        if let Some(p) = self.protocol {
            a.insert(annotation::LUMOS_PROTOCOL.to_string(), p.to_string());
        }
        if let Some(p) = self.port {
            a.insert(annotation::LUMOS_PORT.to_string(), p.to_string());
        }
        a
    }

    /// `Cmd` and `ExposedPorts`, where there is something to say.
    fn invocation(&self, cfg: &mut serde_json::Map<String, Value>) {
        if !self.args.is_empty() {
            cfg.insert("Cmd".into(), json!(self.args));
        }
        if let Some(p) = self.port {
            cfg.insert("ExposedPorts".into(), json!({ format!("{p}/tcp"): {} }));
        }
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
    pub engine: AotEngine,
    pub arch: Arch,
    /// The engine and its version as the build recorded it, e.g.
    /// `wasmtime-48.0.8` (a version label, kept as written); None: the
    /// engine's name. Carried as `dev.lumos.aot.engine`.
    pub engine_id: Option<String>,
}

impl AotInfo {
    /// The variant an image of this code is: `aot-<engine>-<arch>`.
    pub fn variant(&self) -> Variant {
        Variant::Aot(self.engine, self.arch)
    }
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
    /// `<namespace>/<function>:<tag>`.
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

/// Packs a wasm module (variant `wasm`) or, with `aot`, a precompiled module
/// (variant `aot-<engine>-<arch>`) as one image. The file inside is always
/// `/<function>.wasm`: runtimes pick the wasm handler by that suffix.
pub fn pack_wasm(
    layout: &Layout,
    meta: &ImageMeta,
    module: &[u8],
    format: WasmFormat,
    aot: Option<&AotInfo>,
) -> Result<Packed> {
    pack_wasm_file(layout, meta, module, format, aot, &WasmKind::Module)
}

/// What a wasm image holds, for the few fields the two kinds differ in.
pub(crate) enum WasmKind {
    /// A wasm32-wasip1 core module: `os` `wasi` (compat) / `wasip1` (artifact).
    Module,
    /// A wasm32-wasip2 component: `os` `wasip2` in both forms,
    /// `dev.lumos.protocol: wasi-http`, and in the artifact config the
    /// `component` field (its imports and exports) when known.
    Component(Option<crate::component::ComponentInfo>),
}

/// The one packing of a wasm image (module or component, plain or AoT) in
/// either [`WasmFormat`]: `payload` becomes `/<function>.wasm`.
pub(crate) fn pack_wasm_file(
    layout: &Layout,
    meta: &ImageMeta,
    payload: &[u8],
    format: WasmFormat,
    aot: Option<&AotInfo>,
    kind: &WasmKind,
) -> Result<Packed> {
    let variant = aot.map_or(Variant::Wasm, AotInfo::variant).image_tag();
    let mut annotations = meta.annotations(&variant);
    if let WasmKind::Component(_) = kind {
        annotations.insert(
            annotation::LUMOS_PROTOCOL.to_string(),
            Protocol::WasiHttp.to_string(),
        );
    }
    if let Some(aot) = aot {
        let engine = aot
            .engine_id
            .clone()
            .unwrap_or_else(|| aot.engine.to_string());
        annotations.insert(annotation::LUMOS_AOT_ENGINE.to_string(), engine);
        annotations.insert(annotation::LUMOS_AOT_ARCH.to_string(), aot.arch.to_string());
    }
    let file = format!("/{}.wasm", meta.function);
    let descriptor = match format {
        WasmFormat::Compat => {
            annotations.insert(
                annotation::WASM_VARIANT.to_string(),
                "compat-smart".to_string(),
            );
            let mut builder = LayerBuilder::new(meta.mtime());
            builder.add_file(&file, payload.to_vec(), 0o755)?;
            let layer = builder.build()?;
            layout.write_blob(&layer.blob)?;
            let mut cfg = serde_json::Map::new();
            cfg.insert("Entrypoint".into(), json!([file]));
            cfg.insert("Labels".into(), json!(annotations));
            meta.invocation(&mut cfg);
            let platform = match kind {
                WasmKind::Module => Platform::wasi(),
                WasmKind::Component(_) => Platform::wasip2(),
            };
            let config = json!({
                "architecture": "wasm",
                "os": platform.os,
                "created": rfc3339(meta.created),
                "config": cfg,
                "rootfs": { "type": "layers", "diff_ids": [layer.diff_id] },
                "history": [history(meta, &format!("lumos: COPY {variant} {file}"))],
            });
            write_manifest(
                layout,
                media::CONFIG,
                &to_bytes(&config),
                vec![layer.descriptor],
                annotations,
                Some(platform),
            )?
        }
        WasmFormat::Artifact => {
            let digest = layout.write_blob(payload)?;
            let mut layer =
                Descriptor::new(media::WASM_LAYER, digest.clone(), payload.len() as u64);
            layer.annotations = Some(BTreeMap::from([(
                annotation::TITLE.to_string(),
                file.trim_start_matches('/').to_string(),
            )]));
            let platform = match kind {
                WasmKind::Module => Platform::new("wasip1", "wasm"),
                WasmKind::Component(_) => Platform::wasip2(),
            };
            let mut config = json!({
                "created": rfc3339(meta.created),
                "architecture": "wasm",
                "os": platform.os,
                "layerDigests": [digest],
            });
            if let WasmKind::Component(Some(info)) = kind {
                config["component"] = json!(info);
            }
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
        name: meta.ref_name(&variant),
        descriptor,
    })
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

/// Packs a static executable for `arch` as a linux image (variant
/// `native-<arch>`): on scratch (one layer) or on `base` (its layers, then
/// the function layer; its config kept except entrypoint, cmd, labels,
/// rootfs and history).
pub fn pack_native(
    layout: &Layout,
    meta: &ImageMeta,
    binary: &[u8],
    arch: Arch,
    base: Option<&BaseImage>,
) -> Result<Packed> {
    let variant = Variant::Native(arch).image_tag();
    let oci_arch = arch.debian();
    let mut annotations = meta.annotations(&variant);
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
    meta.invocation(cfg);
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
        h.push(history(meta, &format!("lumos: COPY {variant} {path}")));
    }
    layers.push(layer.descriptor);
    let descriptor = write_manifest(
        layout,
        media::CONFIG,
        &to_bytes(&config),
        layers,
        annotations,
        Some(Platform::linux(arch)),
    )?;
    Ok(Packed {
        name: meta.ref_name(&variant),
        descriptor,
    })
}

/// The native image index over per-architecture manifests (each descriptor
/// must carry its platform, as [`pack_native`] returns them), tagged
/// [`NATIVE_INDEX_TAG`].
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
        annotations: Some(meta.annotations(NATIVE_INDEX_TAG)),
    };
    let bytes = to_bytes(&index);
    let digest = layout.write_blob(&bytes)?;
    Ok(Packed {
        name: meta.ref_name(NATIVE_INDEX_TAG),
        descriptor: Descriptor::new(media::INDEX, digest, bytes.len() as u64),
    })
}

/// Reads the manifest a descriptor points at (size bounded, digest
/// verified, media types checked as [`parse_manifest`] does).
pub fn read_manifest(layout: &Layout, desc: &Descriptor) -> Result<Manifest> {
    let bytes = layout.read_document(desc)?;
    parse_manifest(&bytes, desc, &format!("manifest {}", desc.digest))
}

/// Reads the index a descriptor points at (as [`read_manifest`]).
pub fn read_index(layout: &Layout, desc: &Descriptor) -> Result<Index> {
    let bytes = layout.read_document(desc)?;
    parse_index(&bytes, desc, &format!("index {}", desc.digest))
}

/// Parses the document `desc` points at, of the kind `kind` names
/// (`image manifest`, `image index`) and `is_kind` recognises by media type:
/// the descriptor's media type must be of that kind, the document no larger
/// than [`MAX_DOCUMENT_BYTES`], and its own `mediaType`, when set, the
/// descriptor's (a descriptor saying "manifest" over an index is refused as
/// such, before its fields are looked at). `what` names it in errors.
fn parse_document<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    desc: &Descriptor,
    what: &str,
    kind: &str,
    is_kind: fn(&str) -> bool,
) -> Result<T> {
    if !is_kind(&desc.media_type) {
        return Err(Error::UnsupportedMediaType {
            what: format!("{what} (expected an {kind})"),
            media_type: desc.media_type.clone(),
        });
    }
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(Error::DocumentTooLarge {
            what: what.to_string(),
            size: bytes.len() as u64,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| Error::json(what, e))?;
    if let Some(Value::String(m)) = v.get("mediaType") {
        if *m != desc.media_type {
            return Err(Error::Image(format!(
                "{what}: the document says mediaType `{m}` but its descriptor says `{}`",
                desc.media_type
            )));
        }
    }
    serde_json::from_value(v).map_err(|e| Error::json(what, e))
}

/// Parses the image manifest `desc` points at: the descriptor's media type
/// must be an image manifest's (OCI or Docker v2), and the document's own
/// `mediaType`, when set, the same. `what` names it in errors.
pub fn parse_manifest(bytes: &[u8], desc: &Descriptor, what: &str) -> Result<Manifest> {
    parse_document(bytes, desc, what, "image manifest", media::is_manifest)
}

/// Parses the image index `desc` points at (checked as [`parse_manifest`]).
pub fn parse_index(bytes: &[u8], desc: &Descriptor, what: &str) -> Result<Index> {
    parse_document(bytes, desc, what, "image index", media::is_index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ImageMeta {
        ImageMeta {
            namespace: "lumos".into(),
            function: "fibonacci".into(),
            created: 0,
            source: Some("https://example.invalid/lumos".into()),
            revision: Some("abc123".into()),
            protocol: Some(Protocol::Lumos),
            port: None,
            args: vec![],
        }
    }

    /// Metadata `port` and `args` travel in the image: `dev.lumos.port`
    /// (label and annotation), `ExposedPorts`, and `Cmd` after the entrypoint.
    #[test]
    fn fixed_port_and_args_are_in_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let fixed = ImageMeta {
            port: Some(3030),
            args: vec!["30".into()],
            protocol: Some(Protocol::Http),
            ..meta()
        };
        let p = pack_wasm(
            &layout,
            &fixed,
            b"\0asm\x01\0\0\0",
            WasmFormat::Compat,
            None,
        )
        .unwrap();
        let m = read_manifest(&layout, &p.descriptor).unwrap();
        assert_eq!(
            m.annotations.as_ref().unwrap()[annotation::LUMOS_PORT],
            "3030"
        );
        let config: Value =
            serde_json::from_slice(&layout.read_blob(&m.config.digest).unwrap()).unwrap();
        let c = &config["config"];
        assert_eq!(c["Cmd"], json!(["30"]));
        assert_eq!(c["ExposedPorts"], json!({"3030/tcp": {}}));
        assert_eq!(c["Labels"][annotation::LUMOS_PORT], "3030");
        // Without them, nothing is added.
        let p = pack_wasm(
            &layout,
            &meta(),
            b"\0asm\x01\0\0\0",
            WasmFormat::Compat,
            None,
        )
        .unwrap();
        let m = read_manifest(&layout, &p.descriptor).unwrap();
        let config: Value =
            serde_json::from_slice(&layout.read_blob(&m.config.digest).unwrap()).unwrap();
        assert!(
            config["config"].get("Cmd").is_none() && config["config"].get("ExposedPorts").is_none()
        );
    }

    #[test]
    fn compat_wasm_image_has_the_specified_shape() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let p = pack_wasm(
            &layout,
            &meta(),
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
        // The runner reads how to invoke the function from the image.
        assert_eq!(a[annotation::LUMOS_PROTOCOL], "lumos");
        assert_eq!(
            config["config"]["Labels"][annotation::LUMOS_PROTOCOL],
            "lumos"
        );
    }

    #[test]
    fn artifact_wasm_image_has_the_cncf_shape() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let aot = AotInfo {
            engine: AotEngine::Wasmtime,
            arch: Arch::Aarch64,
            engine_id: Some("wasmtime-48.0.8".into()),
        };
        let p = pack_wasm(&layout, &meta(), b"cwasm", WasmFormat::Artifact, Some(&aot)).unwrap();
        assert_eq!(p.name, "lumos/fibonacci:aot-wasmtime-aarch64");
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
        assert_eq!(a[annotation::LUMOS_VARIANT], "aot-wasmtime-aarch64");
        // Without the engine's version, its name.
        let aot = AotInfo {
            engine_id: None,
            ..aot
        };
        let p = pack_wasm(&layout, &meta(), b"cwasm", WasmFormat::Artifact, Some(&aot)).unwrap();
        let m = read_manifest(&layout, &p.descriptor).unwrap();
        assert_eq!(
            m.annotations.unwrap()[annotation::LUMOS_AOT_ENGINE],
            "wasmtime"
        );
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
        let p = pack_native(&layout, &meta(), b"\x7fELF", Arch::X86_64, Some(&base)).unwrap();
        assert_eq!(p.name, "lumos/fibonacci:native-x86_64");
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
        let err = pack_native(&layout, &meta(), b"x", Arch::Aarch64, Some(&base)).unwrap_err();
        assert!(err.to_string().contains("linux/arm64"), "{err}");
    }

    #[test]
    fn index_lists_both_platforms() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let a = pack_native(&layout, &meta(), b"x86", Arch::X86_64, None).unwrap();
        let b = pack_native(&layout, &meta(), b"arm", Arch::Aarch64, None).unwrap();
        let idx = pack_index(&layout, &meta(), &[b.descriptor, a.descriptor]).unwrap();
        assert_eq!(idx.name, "lumos/fibonacci:native");
        let index = read_index(&layout, &idx.descriptor).unwrap();
        let platforms: Vec<_> = index
            .manifests
            .iter()
            .map(|d| d.platform.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    }
}
