//! Modes of measurement.

use crate::names::named_enum;

/// What a result row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Mode {
    /// A new instance from an empty image cache: pull, unpack, start, ready, first response.
    #[default]
    Cold,
    /// Requests to a ready instance, after discarded warm-up requests.
    Warm,
    /// Throughput and latency at concurrency levels.
    Load,
}

named_enum!(Mode, "mode", {
    Cold => "cold",
    Warm => "warm",
    Load => "load",
});
