//! How the runner talks to a function (metadata `protocol`).

use crate::names::named_enum;

/// How a function is invoked (DESIGN.md "Functions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// The SDK's frames on stdin/stdout; one long-lived instance.
    #[default]
    Lumos,
    /// One request on stdin, the response on stdout; one instance per request.
    Stdio,
    /// The function serves HTTP itself (`POST /` on `$PORT` or a fixed port).
    Http,
}

named_enum!(Protocol, "protocol", {
    Lumos => "lumos",
    Stdio => "stdio",
    Http => "http",
});
