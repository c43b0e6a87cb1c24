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
    /// A registry host, repository, namespace, tag or tag prefix that the
    /// distribution spec's grammar does not allow.
    #[error("{what} `{value}`: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: String,
    },
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
    #[error(
        "unpacked size exceeds the limit of {limit} bytes ({}; UnpackLimits::max_bytes)",
        human_bytes(*limit)
    )]
    TooLarge { limit: u64 },
    #[error("more than {limit} entries (the limit on entries, UnpackLimits::max_entries)")]
    TooManyEntries { limit: u64 },
    #[error("unreadable layer data: {source}")]
    LayerData {
        #[source]
        source: std::io::Error,
    },
    #[error("layer {digest}: {source}")]
    Layer {
        digest: Digest,
        #[source]
        source: Box<Error>,
    },
    #[error("{what} is {size} bytes, over the limit of {limit} bytes for manifests, indexes and configs")]
    DocumentTooLarge { what: String, size: u64, limit: u64 },
    #[error("{service} {host}: no answer to {request} within {}{detail}", seconds(*after))]
    Deadline {
        /// `registry` or `token service`.
        service: &'static str,
        /// `host[:port]`.
        host: String,
        /// What was waited for, e.g. `GET /v2/`.
        request: String,
        after: std::time::Duration,
        /// More about the last attempt, starting with `; ` (or empty).
        detail: String,
    },
    #[error("{service} {host}: {request}: {source}")]
    Transfer {
        service: &'static str,
        host: String,
        request: String,
        #[source]
        source: std::io::Error,
    },
}

/// `10 s`, `2.5 s`.
pub(crate) fn seconds(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{s:.1} s")
    }
}

/// `8 GiB`, `4 MiB`, `1.5 KiB`, `12 bytes`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if n >= size {
            return if n.is_multiple_of(size) {
                format!("{} {unit}", n / size)
            } else {
                format!("{:.1} {unit}", n as f64 / size as f64)
            };
        }
    }
    format!("{n} bytes")
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
