//! What `cargo lumos deploy` is asked for (typed; the CLI parses flags into it).

use lumos_model::Variant;

/// The RuntimeClass wasm Services run on by default: `wasmedge`, the name
/// Kwasm gives its class for WasmEdge (and the default); a node maps
/// it to a containerd runtime of the same name, e.g. crun built with WasmEdge.
pub const DEFAULT_RUNTIME_CLASS: &str = "wasmedge";
/// The port Knative gives a container when none is said, and sets in `$PORT`.
pub const DEFAULT_PORT: u16 = 8080;

/// Settings of every Service written.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployRequest {
    /// `HOST[:PORT]/NAMESPACE`, as given to `cargo lumos push`.
    pub registry: String,
    /// Only these variants; every variant the image layout holds when empty.
    pub variants: Vec<Variant>,
    /// `runtimeClassName` of wasm and AoT variants.
    pub runtime_class: String,
    /// Kubernetes namespace of the Services; none: kubectl's current one.
    pub namespace: Option<String>,
    /// The container port of `http` and `lumos` (native) functions.
    pub port: u16,
    /// `containerConcurrency`: most requests in one container at once (0: no limit).
    pub container_concurrency: u32,
    /// `resources.limits.memory`, a Kubernetes quantity.
    pub memory: Option<String>,
    /// `resources.limits.cpu`, a Kubernetes quantity.
    pub cpus: Option<String>,
    /// `autoscaling.knative.dev/min-scale`: 0 lets a Service scale to zero
    /// (every first request a cold start), 1 keeps one instance warm.
    pub min_scale: u32,
    /// `autoscaling.knative.dev/max-scale` (none: Knative's default, no limit).
    pub max_scale: Option<u32>,
    /// `autoscaling.knative.dev/target`: concurrent requests per instance the
    /// autoscaler aims at (none: Knative's default).
    pub target: Option<u32>,
}

impl DeployRequest {
    /// Defaults for images pushed to `registry`.
    pub fn new(registry: impl Into<String>) -> DeployRequest {
        DeployRequest {
            registry: registry.into(),
            variants: vec![],
            runtime_class: DEFAULT_RUNTIME_CLASS.to_string(),
            namespace: None,
            port: DEFAULT_PORT,
            container_concurrency: 0,
            memory: None,
            cpus: None,
            min_scale: 0,
            max_scale: None,
            target: None,
        }
    }
}
