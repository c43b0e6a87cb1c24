//! The SDK's error type: what a handler returns and what the serve loop reports.

use std::fmt::Display;

/// Everything that can go wrong while handling one request.
///
/// The variant decides the `kind` of the `ERROR` frame's meta:
/// [`Error::BadRequest`] is `"bad_request"`, [`Error::Protocol`] is `"protocol"`,
/// every other variant is `"handler"`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request body (or a field of it) is not what the function accepts.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A storage call failed: the host's store failed, or storage is not available here.
    #[error("storage: {0}")]
    Storage(String),
    /// A storage key the function needs does not exist.
    #[error("storage: no object under key {0:?}")]
    NotFound(String),
    /// Data read from storage did not decode into the function's types.
    #[error("bad data under key {key:?}: {message}")]
    BadData {
        /// The storage key the data came from.
        key: String,
        /// What was wrong with it.
        message: String,
    },
    /// The function's own failure.
    #[error("{0}")]
    Handler(String),
    /// The frame stream is corrupt (wrong magic, unknown kind, oversized or truncated frame,
    /// or a frame that makes no sense at this point of the exchange).
    #[error("protocol: {0}")]
    Protocol(String),
    /// Reading or writing the channel to the host failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A handler failure with this message.
    pub fn msg(message: impl Display) -> Self {
        Error::Handler(message.to_string())
    }

    /// A bad-request failure with this message.
    pub fn bad_request(message: impl Display) -> Self {
        Error::BadRequest(message.to_string())
    }

    /// The `kind` this error has in an `ERROR` frame's meta.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadRequest(_) => ErrorKind::BadRequest,
            Error::Protocol(_) => ErrorKind::Protocol,
            _ => ErrorKind::Handler,
        }
    }
}

/// The `kind` field of an `ERROR` frame's meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The handler returned an error.
    Handler,
    /// The handler panicked.
    Panic,
    /// The request body did not decode.
    BadRequest,
    /// The frame stream is corrupt.
    Protocol,
}

impl ErrorKind {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Handler => "handler",
            ErrorKind::Panic => "panic",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Protocol => "protocol",
        }
    }
}

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
