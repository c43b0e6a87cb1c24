//! The library's error types. Each message is one line that already holds
//! its cause's text; the cause is also kept as [`std::error::Error::source`]
//! (printers such as `lumos_model::error_chain` skip a cause already said).

use std::path::PathBuf;

use lumos_model::{Runtime, Sandbox};

pub use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request that cannot work as given (an image reference, a load spec…).
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An image whose metadata or content cannot be run.
    #[error("image: {0}")]
    Image(#[from] ImageError),
    /// A path from image metadata that does not resolve inside the rootfs.
    #[error(transparent)]
    Confine(#[from] crate::confine::Refused),
    /// The runtime cannot run here, or cannot run this image.
    #[error("runtime {runtime}: {reason}")]
    Unavailable { runtime: Runtime, reason: String },
    /// The native sandbox asked for does not work on this machine.
    #[error("sandbox: {sandbox} is not usable here: {reason}")]
    SandboxUnusable {
        sandbox: Sandbox,
        /// What the sandbox probe found (recorded as text in `sandbox_probe`).
        reason: String,
    },
    /// The containerd sandbox: containerd or crun with WasmEdge missing, a
    /// pull containerd could not do, an image crun cannot run with WasmEdge.
    #[error("{0}")]
    Containerd(#[from] crate::container::containerd::ContainerdError),
    /// A deployed service's URL, or the command that brings it to zero
    /// (`bench --endpoint`).
    #[error(transparent)]
    Endpoint(#[from] crate::endpoint::EndpointError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The link to the storage server (`--baas-bandwidth`, `--baas-delay`).
    #[error("baas link: {0}")]
    Link(#[from] crate::link::LinkError),
    /// A node (`--node`): its namespace, veth pair or qdiscs.
    #[error("node {name}: {source}")]
    Node {
        name: String,
        #[source]
        source: crate::netns::NetnsError,
    },
    #[error("the instance never became ready: {0}")]
    Start(crate::host::Failure),
    #[error("oci: {0}")]
    Oci(#[from] lumos_oci::Error),
    /// The options of a wasm shim could not be put on its command line.
    #[error("cannot pass the wasm shim its options (rootfs {}): {source}", rootfs.display())]
    ShimSpec {
        rootfs: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A load level could not start one client thread per instance: the
    /// level ends (its started instances are closed) instead of running short.
    #[error(
        "load at concurrency {concurrency} stopped after starting {started} client thread(s) \
         (lower --concurrency or raise the process limit, `ulimit -u`)"
    )]
    ThreadSpawn {
        concurrency: usize,
        started: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("load at concurrency {concurrency}: a client thread panicked: {message}")]
    WorkerPanic { concurrency: usize, message: String },
}

impl Error {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// An image that cannot be run: what is wrong, where in the image, and the
/// underlying cause where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the image config has no Entrypoint or Cmd")]
    NoEntrypoint,
    /// A label or annotation whose value is not one of the names it takes.
    #[error("{field} {value:?}: {source}")]
    Name {
        /// Where the value came from, e.g. `config label dev.lumos.protocol`.
        field: String,
        value: String,
        #[source]
        source: lumos_model::UnknownName,
    },
    /// A label or annotation whose value is not the JSON it must be.
    #[error("{field}: {source}")]
    Json {
        /// Where the value came from, e.g. `annotation dev.lumos.wasi.env`.
        field: String,
        value: String,
        #[source]
        source: serde_json::Error,
    },
    /// A label or annotation that must be a port number.
    #[error("{field} {value:?}: not a port number: {source}")]
    Port {
        field: String,
        value: String,
        #[source]
        source: std::num::ParseIntError,
    },
    /// The image config blob is not JSON.
    #[error("config: {0}")]
    Config(#[source] serde_json::Error),
    /// The raw module layer of a wasm artifact could not be copied out.
    #[error("module layer: {0}")]
    ModuleLayer(#[source] std::io::Error),
    /// A local OCI layout with no image in it.
    #[error("{}: empty layout", dir.display())]
    EmptyLayout { dir: PathBuf },
    /// The entry file could not be read to tell what it is.
    #[error("entry {}: {source}", path.display())]
    Entry {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
