//! What a cluster needs before it accepts the wasm Services (`deploy
//! --cluster-setup`): the RuntimeClass they name, and Knative's
//! `config-features` flags that let a Service set `runtimeClassName` and
//! `nodeSelector` (both ship disabled). The ConfigMap holds only those keys:
//! applied with `kubectl apply --server-side --field-manager=cargo-lumos`, it
//! sets them and leaves the rest of Knative's ConfigMap alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::service::ObjectMeta;

/// A `node.k8s.io/v1` RuntimeClass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuntimeClass {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    /// The containerd runtime on the node (its `runtimes.<handler>` entry).
    pub handler: String,
}

/// A `v1` ConfigMap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMap {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub data: BTreeMap<String, String>,
}

/// Knative Serving's namespace and feature ConfigMap.
pub const KNATIVE_NAMESPACE: &str = "knative-serving";
pub const FEATURES: &str = "config-features";
/// The flags, as Knative spells them.
pub const RUNTIME_CLASS_FLAG: &str = "kubernetes.podspec-runtimeclassname";
pub const NODE_SELECTOR_FLAG: &str = "kubernetes.podspec-nodeselector";

/// The RuntimeClass `name`, whose handler is the node runtime of the same
/// name (as Kwasm's node installer names them).
pub fn runtime_class(name: &str) -> RuntimeClass {
    RuntimeClass {
        api_version: "node.k8s.io/v1".into(),
        kind: "RuntimeClass".into(),
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        handler: name.into(),
    }
}

/// The `config-features` keys the Services need; None when they need none.
pub fn config_features(runtime_class: bool, node_selector: bool) -> Option<ConfigMap> {
    let mut data = BTreeMap::new();
    for (on, flag) in [
        (runtime_class, RUNTIME_CLASS_FLAG),
        (node_selector, NODE_SELECTOR_FLAG),
    ] {
        if on {
            data.insert(flag.to_string(), "enabled".to_string());
        }
    }
    (!data.is_empty()).then(|| ConfigMap {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        metadata: ObjectMeta {
            name: Some(FEATURES.into()),
            namespace: Some(KNATIVE_NAMESPACE.into()),
            ..Default::default()
        },
        data,
    })
}
