//! The one error type of `lumos-oci`.

use std::path::PathBuf;

use crate::digest::Digest;

/// Everything that can go wrong while packing, pushing, pulling or unpacking.
///
/// Messages never contain credentials: neither the `Authorization` header
/// nor a password or token is ever put into one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: invalid JSON: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid digest `{0}` (expected `sha256:` and 64 lower-case hex digits)")]
    InvalidDigest(String),
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{what}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("invalid image reference `{reference}`: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("OCI layout {}: {reason}", path.display())]
    Layout { path: PathBuf, reason: String },
    #[error("{0}")]
    Image(String),
    #[error("{what}: not a readable wasm component: {source}")]
    Component {
        what: String,
        #[source]
        source: wasmparser::BinaryReaderError,
    },
    #[error("unsupported media type `{media_type}` for {what}")]
    UnsupportedMediaType { what: String, media_type: String },
    #[error("{reference}: no image for platform {wanted} (the image has: {available})")]
    PlatformNotFound {
        reference: String,
        wanted: String,
        available: String,
    },
    #[error("registry {registry} unreachable after {attempts} attempts: {reason}")]
    Unreachable {
        registry: String,
        attempts: u32,
        reason: String,
    },
    #[error(
        "registry {registry} refused access to {repository} (HTTP 401 Unauthorized); \
         credentials used: {source_description}. Credentials are looked up in \
         LUMOS_REGISTRY_USER/LUMOS_REGISTRY_PASSWORD, then in the Docker config \
         ($DOCKER_CONFIG/config.json or ~/.docker/config.json: credHelpers, auths, credsStore)"
    )]
    Unauthorized {
        registry: String,
        repository: String,
        source_description: String,
    },
    #[error("registry {registry}: {method} {path}: HTTP {status}: {message}")]
    Registry {
        registry: String,
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("unsafe layer entry `{path}`: {reason}")]
    UnsafeEntry { path: String, reason: String },
    #[error("unpacked size exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A JSON error while reading or writing `context`.
    pub fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            context: context.into(),
            source,
        }
    }
}
