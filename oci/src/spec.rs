//! The OCI image-spec documents this crate writes and reads: descriptors,
//! manifests, indexes and platforms, plus the media types in use.
//!
//! Own types rather than `oci-spec`'s: annotations and labels must serialise
//! in a fixed order (BTreeMap) for byte-identical manifests, and documents
//! read from registries must keep fields this crate does not know.

use std::collections::BTreeMap;
use std::fmt;

use lumos_model::Arch;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// The most bytes a manifest, index, image config or `index.json` may have,
/// wherever it comes from (a registry, a local layout, the cache). Real
/// ones are a few KiB; 4 MiB is the limit containerd and the distribution
/// registry use for manifests.
pub const MAX_DOCUMENT_BYTES: u64 = 4 << 20;

pub mod media {
    pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
    /// CNCF Wasm OCI artifact config.
    pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
    /// CNCF Wasm OCI artifact layer: the raw module.
    pub const WASM_LAYER: &str = "application/wasm";

    /// Every manifest media type this crate accepts from a registry.
    pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.docker.distribution.manifest.v2+json";

    /// Whether `m` names an index (OCI or Docker manifest list).
    pub fn is_index(m: &str) -> bool {
        m == INDEX || m == DOCKER_LIST
    }

    /// Whether `m` names an image manifest (OCI or Docker v2).
    pub fn is_manifest(m: &str) -> bool {
        m == MANIFEST || m == DOCKER_MANIFEST
    }
}

/// Well-known annotation keys.
pub mod annotation {
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
    pub const TITLE: &str = "org.opencontainers.image.title";
    pub const CREATED: &str = "org.opencontainers.image.created";
    pub const SOURCE: &str = "org.opencontainers.image.source";
    pub const REVISION: &str = "org.opencontainers.image.revision";
    pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
    pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
    pub const WASM_VARIANT: &str = "module.wasm.image/variant";
    pub const LUMOS_FUNCTION: &str = "dev.lumos.function";
    pub const LUMOS_VARIANT: &str = "dev.lumos.variant";
    /// How the function is invoked: `lumos`, `stdio` or `http`.
    pub const LUMOS_PROTOCOL: &str = "dev.lumos.protocol";
    /// `http` on a fixed port: the port the program listens on.
    pub const LUMOS_PORT: &str = "dev.lumos.port";
    pub const LUMOS_AOT_ENGINE: &str = "dev.lumos.aot.engine";
    pub const LUMOS_AOT_ARCH: &str = "dev.lumos.aot.arch";
}

/// An OS/architecture pair (plus optional variant) an image runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str) -> Self {
        Platform {
            architecture: architecture.to_string(),
            os: os.to_string(),
            os_version: None,
            os_features: None,
            variant: None,
        }
    }

    /// `linux/amd64` for `x86_64`, `linux/arm64` for `aarch64`.
    pub fn linux(arch: Arch) -> Self {
        Platform::new("linux", arch.debian())
    }

    /// `wasi/wasm`, the platform of compat wasm images.
    pub fn wasi() -> Self {
        Platform::new("wasi", "wasm")
    }

    /// `wasip2/wasm`, the platform of component images (both forms).
    pub fn wasip2() -> Self {
        Platform::new("wasip2", "wasm")
    }

    /// Whether a platform found in an index satisfies this wanted one
    /// (os and architecture equal; variant compared only where both have one,
    /// so `arm64` matches `arm64/v8`).
    pub fn matches(&self, candidate: &Platform) -> bool {
        self.os == candidate.os
            && self.architecture == candidate.architecture
            && match (&self.variant, &candidate.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('/');
        let os = parts.next()?;
        let arch = parts.next()?;
        let mut p = Platform::new(os, arch);
        p.variant = parts.next().map(str::to_string);
        if parts.next().is_some() || os.is_empty() || arch.is_empty() {
            return None;
        }
        Some(p)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// The descriptor of `bytes` with media type `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Self {
        Descriptor::new(media_type, Digest::sha256(bytes), bytes.len() as u64)
    }

    /// The value of an annotation, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An image manifest (OCI, or Docker v2 read from a registry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (OCI, or a Docker manifest list read from a registry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Index {
    /// An empty OCI index.
    pub fn empty() -> Self {
        Index {
            schema_version: 2,
            media_type: Some(media::INDEX.to_string()),
            artifact_type: None,
            manifests: Vec::new(),
            annotations: None,
        }
    }
}

/// Canonical bytes of a document this crate writes: compact JSON of the
/// typed value (field order fixed by the types, maps sorted).
pub fn to_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialising an in-memory document cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm64_matches_with_and_without_variant() {
        let mut want = Platform::linux(Arch::Aarch64);
        assert!(want.matches(&Platform::new("linux", "arm64")));
        want.variant = Some("v8".into());
        assert!(want.matches(&Platform::new("linux", "arm64")));
        assert!(!want.matches(&Platform::new("linux", "amd64")));
        let mut v7 = Platform::new("linux", "arm64");
        v7.variant = Some("v7".into());
        assert!(!want.matches(&v7));
    }

    #[test]
    fn manifest_keeps_unknown_media_types_and_round_trips() {
        let text = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#;
        let m: Manifest = serde_json::from_str(text).unwrap();
        assert_eq!(String::from_utf8(to_bytes(&m)).unwrap(), text);
    }
}
