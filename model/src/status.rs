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
    /// The run could not be made (see `error`): no figure stands for it.
    Failed,
    /// The runtime cannot run here or the function does not support it.
    Unavailable,
}

named_enum!(Status, "status", {
    Ok => "ok",
    Errors => "errors",
    Failed => "failed",
    Unavailable => "unavailable",
});

impl Status {
    /// Whether the row's figures may be shown (ok or with some errors).
    pub fn has_figures(self) -> bool {
        matches!(self, Status::Ok | Status::Errors)
    }
}
