//! The error type of lumos-bench: what stopped a bench before or between
//! cells (a cell that fails is a row with status `failed`, not an error).

/// What can stop a bench.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting that cannot work, described in full.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Build(#[from] lumos_build::Error),
    #[error(transparent)]
    Runtimes(#[from] lumos_runtimes::Error),
    /// A payload's storage object could not be written to the store.
    #[error("preloading {key} into {store}: {source}")]
    Preload {
        key: String,
        store: String,
        #[source]
        source: Box<lumos_runtimes::StoreError>,
    },
    #[error("starting the throwaway registry")]
    Registry(#[from] lumos_services::Error),
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--device: {}: not a device profile file", path.display())]
    Device {
        path: std::path::PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{}: not a payloads file", path.display())]
    Payloads {
        path: std::path::PathBuf,
        #[source]
        source: toml::de::Error,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns early with [`Error::Usage`].
macro_rules! bail {
    ($($t:tt)*) => {
        return Err($crate::Error::Usage(format!($($t)*)))
    };
}
pub(crate) use bail;

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}
