//! A device profile (`cargo lumos bench --device FILE[:NAME]`): the node
//! capabilities a run imitates, by name, so results can say "edge-small".

/// A named device: the CPU and memory limits every instance of a run gets.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// The profile's name (its table name in the file).
    #[serde(default)]
    pub name: String,
    /// CPUs per instance, fractional (a CFS quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Memory per instance, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
}
