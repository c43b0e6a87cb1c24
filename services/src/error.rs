//! The error type of lumos-services.

use std::path::PathBuf;

/// What can go wrong while starting an outside program.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{program}` is not installed ({install})")]
    Missing {
        program: String,
        install: &'static str,
    },
    #[error("{what}: {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} exited before it was ready ({status}); its log: {log}")]
    Exited {
        program: String,
        status: std::process::ExitStatus,
        log: String,
    },
    #[error("{program} was not ready within {secs} s (waited for its log to say `{wanted}`); its log: {log}")]
    NotReady {
        program: String,
        secs: u64,
        wanted: String,
        log: String,
    },
    #[error("{command} failed ({status}): {stderr}")]
    Command {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

impl Error {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
