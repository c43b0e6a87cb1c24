//! A row measured against a deployed service (`cargo lumos bench
//! --endpoint URL` / `--endpoints FILE`) instead of an instance the runner
//! started.

/// Where a row's requests went, and how its cold requests were prepared.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EndpointRecord {
    /// The URL requests were posted to (an ingress, or the service).
    pub url: String,
    /// The `Host` header they carried (Knative-style
    /// `<service>.<namespace>.<domain>` with `--endpoint`).
    pub host: String,
    /// Cold rows: `sh -c` command run before each cold request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_command: Option<String>,
    /// Cold rows without a command: seconds waited before each cold request
    /// (for the service to scale to zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_wait_s: Option<f64>,
    /// Cold rows: requests sent per repeat until one was answered other than
    /// by a refused connection or a 502/503/504, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cold_attempts: Vec<u32>,
}
