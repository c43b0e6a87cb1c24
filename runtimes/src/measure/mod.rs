//! Measurements: latency statistics, cold start phases, load generation.

pub mod latency;
pub mod load;
