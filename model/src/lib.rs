//! The shared vocabulary of Lumos and its stable output schemas, in the
//! spirit of `nextest-metadata`: every crate speaks these types, and strings
//! appear only at the edges (command-line parsing, serde).
//!
//! - vocabulary: [`Arch`], [`AotEngine`], [`RuntimeFamily`], [`Variant`],
//!   [`Runtime`], [`Protocol`], [`Mode`], [`Status`], [`Sandbox`], [`Arrival`],
//!   [`ChainData`], [`Rate`] (tc's rate syntax);
//! - schemas: [`BuildManifest`] (`<target-dir>/lumos/build.json`),
//!   [`RunResult`] (what `lumos-runner` prints), [`BenchOutput`] (what
//!   `cargo lumos bench --json` writes), and the figures they share
//!   ([`LatencyStats`], [`ColdStart`], [`Phases`], [`LoadLevel`],
//!   [`BaasLink`], [`NodeRecord`], …).
//!
//! The JSON documents carry `schema_version` ([`SCHEMA_VERSION`]); fields are
//! only ever added within a version (docs/results-schema.md).

mod arch;
mod arrival;
mod bench;
mod build_manifest;
mod device;
mod endpoint;
mod figures;
mod limits;
mod link;
mod machine;
mod mode;
mod names;
mod neighbour;
mod placement;
mod protocol;
mod run;
mod runtime;
mod sandbox;
mod skip;
mod status;
mod variant;
mod workflow;

pub use arch::Arch;
pub use arrival::{Arrival, LoadMode};
pub use bench::{BenchOutput, RunRow, Settings};
pub use build_manifest::{BuildArtifact, BuildManifest, FunctionArtifacts};
pub use device::Device;
pub use endpoint::EndpointRecord;
pub use figures::{ColdEvidence, ColdStart, LatencyStats, LoadLevel, Overhead, Phases, Residency};
pub use limits::Limits;
pub use link::{parse_delay, BaasLink, BaasLinkSpec, BadLinkValue, Rate};
pub use machine::{Machine, Versions};
pub use mode::Mode;
pub use names::UnknownName;
pub use neighbour::{Neighbour, NeighbourRecord, NeighbourSpecError, MAX_NEIGHBOUR_RATE};
pub use placement::{is_node_name, NodeRecord, NodeSpec, NodeSpecError, MAX_NODE_NAME};
pub use protocol::Protocol;
pub use run::{CacheInfo, ImageInfo, PayloadInfo, Probe, RunResult};
pub use runtime::Runtime;
pub use sandbox::Sandbox;
pub use skip::{Skip, SkipSpecError};
pub use status::Status;
pub use variant::{AotEngine, RuntimeFamily, Variant};
pub use workflow::{ChainData, WorkflowRecord, WorkflowStep};

/// Version of the JSON documents this crate describes (`schema_version`).
pub const SCHEMA_VERSION: u32 = 1;

/// An error and its causes on one line (`error: cause: cause`), as results
/// record it; a cause already contained in the text before it is not repeated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}
