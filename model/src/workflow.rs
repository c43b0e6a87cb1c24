//! Workflows: chains of functions, each step's response the next step's
//! request (`cargo lumos bench --chain A,B` or `--workflow NAME`), and what
//! a workflow row records beside its makespan.

use crate::names::named_enum;
use crate::{LatencyStats, Mode, Runtime, Sandbox};

/// How a step's response becomes the next step's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ChainData {
    /// The response's bytes are sent as they are.
    #[default]
    Inline,
    /// Through the BaaS store the runner serves functions from (its memory,
    /// or the `--baas` Redis): the response is put under a key and the next
    /// request is fetched from that key.
    Storage,
}

named_enum!(ChainData, "chain data", {
    Inline => "inline",
    Storage => "storage",
});

/// One step of a workflow row.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkflowStep {
    pub function: String,
    pub runtime: Runtime,
    /// The sandbox a native step ran in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
    /// From the step's request being ready to its response read: the
    /// request's round trip (warm), plus the step's image pull and unpack
    /// (cold) and its instance's start until ready (cold, cold-cached).
    #[serde(default)]
    pub latency_ms: Option<LatencyStats>,
    /// From the previous step's response read to this step's request ready
    /// (None for the first step): a copy in memory (`inline`), or a put of
    /// the response into the store and a get of it back (`storage`).
    #[serde(default)]
    pub handover_ms: Option<LatencyStats>,
    /// The manifest digest of the image the step ran, for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
}

/// What a row of mode `workflow` records beside its makespan (the row's
/// `latency_ms`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkflowRecord {
    /// The `[workspace.metadata.lumos.workflows.NAME]` it came from; None
    /// for `--chain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How every step's instance started: `cold` (a new instance of an image
    /// pulled into an empty cache, each step), `cold-cached` (a new instance
    /// of an image the node holds, each step) or `warm` (one ready instance
    /// per step, serving every chained request).
    pub start: Mode,
    pub chain_data: ChainData,
    /// The steps in order, each with the runtime it ran on (`--placement`).
    pub steps: Vec<WorkflowStep>,
    /// sha256 of the last step's first OK response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_response_sha256: Option<String>,
    /// Its first bytes (at most [`WorkflowRecord::FINAL_RESPONSE_HEAD`]), as
    /// text (invalid UTF-8 replaced), so a reader can check the chain's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_response: Option<String>,
}

impl WorkflowRecord {
    /// How much of the final response is kept in `final_response`, bytes.
    pub const FINAL_RESPONSE_HEAD: usize = 1024;

    /// `a@native > b@wasmtime-aot`: the steps and where they ran.
    pub fn placement(&self) -> String {
        self.steps
            .iter()
            .map(|s| format!("{}@{}", s.function, s.runtime))
            .collect::<Vec<_>>()
            .join(" > ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_data_names_and_a_record_round_trip() {
        assert_eq!("storage".parse::<ChainData>().unwrap(), ChainData::Storage);
        let e = "disk".parse::<ChainData>().unwrap_err().to_string();
        assert!(e.contains("inline, storage"), "{e}");
        let r = WorkflowRecord {
            start: Mode::Warm,
            steps: vec![
                WorkflowStep {
                    function: "a".into(),
                    runtime: Runtime::Native,
                    ..Default::default()
                },
                WorkflowStep {
                    function: "b".into(),
                    runtime: Runtime::WasmtimeAot,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(r.placement(), "a@native > b@wasmtime-aot");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["chain_data"], "inline");
        assert_eq!(j["start"], "warm");
        let back: WorkflowRecord = serde_json::from_value(j).unwrap();
        assert_eq!(back, r);
    }
}
