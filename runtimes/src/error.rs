//! The library's error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("image: {0}")]
    Image(String),
    /// A path from image metadata that does not resolve inside the rootfs.
    #[error(transparent)]
    Confine(#[from] crate::confine::Refused),
    #[error("runtime {runtime}: {msg}")]
    Unavailable { runtime: String, msg: String },
    #[error("sandbox: {0}")]
    Sandbox(String),
    #[error("store: {0}")]
    Store(String),
    #[error("the instance never became ready: {0}")]
    Start(crate::host::Failure),
    #[error("oci: {0}")]
    Oci(String),
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
