//! The Knative Serving `serving.knative.dev/v1` Service, as far as Lumos
//! writes it: typed so that a misspelled field cannot be written (the
//! apiserver would drop it silently without `--validate=strict`).
//! Field names and meanings follow the Service CRD's openAPIV3Schema
//! (Knative Serving 1.23) and the Kubernetes PodSpec it embeds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `apiVersion` of every Service written.
pub const API_VERSION: &str = "serving.knative.dev/v1";
/// `kind` of every Service written.
pub const KIND: &str = "Service";

/// A Knative Service: one function in one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ServiceSpec,
}

/// `metadata` of the Service and of its revision template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMeta {
    /// Absent in a revision template (Knative names revisions itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Absent: the namespace `kubectl` is pointed at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `spec`: only the revision template (traffic goes to the latest revision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    pub template: RevisionTemplate,
}

/// `spec.template`: what each revision's pods look like. Its annotations
/// reach the pods (autoscaling settings, the wasm variant annotation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionTemplate {
    pub metadata: ObjectMeta,
    pub spec: RevisionSpec,
}

/// `spec.template.spec`: Knative's subset of a PodSpec plus its own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionSpec {
    /// Most requests one container serves at once; 0: no limit.
    pub container_concurrency: u32,
    /// The RuntimeClass that runs wasm (Kwasm's `wasmedge`: crun built with
    /// WasmEdge). Knative accepts it only with the `config-features` flag
    /// `kubernetes.podspec-runtimeclassname: enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    /// `kubernetes.io/arch` for variants built for one CPU. Knative accepts
    /// it only with `kubernetes.podspec-nodeselector: enabled`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    pub containers: Vec<Container>,
}

/// The function's one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    pub name: String,
    /// `registry/namespace/function@sha256:…` (or `:tag` when no digest is known).
    pub image: String,
    pub image_pull_policy: PullPolicy,
    /// The one port Knative's queue-proxy forwards requests to; Knative
    /// sets `$PORT` in the container to it.
    pub ports: Vec<ContainerPort>,
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
}

/// `imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullPolicy {
    /// Pull only when the node does not have the image (a digest never changes).
    IfNotPresent,
    Always,
    Never,
}

/// `ports[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerPort {
    /// `http1` (HTTP/1.1) or `h2c`: how Knative speaks to the container.
    pub name: String,
    pub container_port: u16,
}

/// `resources`: limits only (Kubernetes then requests the same).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// `memory` and `cpu` as Kubernetes quantities (`128Mi`, `500m`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }
}
