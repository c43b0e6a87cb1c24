//! The error type of lumos-build. Each error keeps its cause: what failed is
//! said by the outer layer (`context`), why by its source, so a reader of the
//! chain (`{:#}` through anyhow in the binary) sees both on one line.

/// Everything that can go wrong while reading, building, packing or pushing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A root cause described in full (what is wrong and what to do).
    #[error("{0}")]
    Msg(String),
    #[error("I/O error")]
    Io(#[from] std::io::Error),
    #[error("`cargo metadata` failed")]
    Metadata(#[from] cargo_metadata::Error),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Oci(#[from] lumos_oci::Error),
    #[error("invalid JSON")]
    Json(#[from] serde_json::Error),
    #[error("invalid TOML")]
    Toml(#[from] toml::de::Error),
    #[error(transparent)]
    Name(#[from] lumos_model::UnknownName),
    #[error(transparent)]
    Wasm(#[from] lumos_wasm::Error),
    #[error(transparent)]
    NotServable(#[from] crate::deploy::NotServable),
    #[error(transparent)]
    KubeName(#[from] crate::deploy::InvalidName),
    #[error(transparent)]
    Quantity(#[from] crate::deploy::InvalidQuantity),
    #[error("invalid YAML")]
    Yaml(#[from] serde_norway::Error),
    /// What was being done when `source` happened.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Says what was being done when an error happened (the typed counterpart
/// of anyhow's `Context`: the cause is kept as the error's source).
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context.into(),
            source: Box::new(e.into()),
        })
    }
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: f().into(),
            source: Box::new(e.into()),
        })
    }
}

/// Returns early with [`Error::Msg`].
macro_rules! bail {
    ($($t:tt)*) => {
        return Err($crate::Error::Msg(format!($($t)*)))
    };
}
pub(crate) use bail;
