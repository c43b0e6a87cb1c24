//! The outcome of a result row.

use crate::names::named_enum;

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Status {
    /// Every request answered OK.
    #[default]
    Ok,
    /// The row stands, but some requests or repeats failed (see `errors`).
    Errors,
    /// The cell's figures stand but rest on fewer measured requests than
    /// asked for: the time cap (`--max-time`) ended it first. Its n is the
    /// row's `latency_ms.n` (and `ok`).
    Partial,
    /// The run could not be made (see `error`): no figure stands for it.
    Failed,
    /// The runtime cannot run here or the function does not support it.
    Unavailable,
}

named_enum!(Status, "status", {
    Ok => "ok",
    Errors => "errors",
    Partial => "partial",
    Failed => "failed",
    Unavailable => "unavailable",
});

impl Status {
    /// Whether the row's figures may be shown (ok, with some errors, or
    /// partial).
    pub fn has_figures(self) -> bool {
        matches!(self, Status::Ok | Status::Errors | Status::Partial)
    }
}
