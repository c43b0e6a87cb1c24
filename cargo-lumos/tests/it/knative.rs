//! Knative Serving's Service CRD schema as a validator, for tests of
//! `cargo lumos deploy`. No Kubernetes server is reachable on this machine
//! (no apiserver, kubelet, kind or envtest package is installable), so the
//! manifests are validated against the real schema the apiserver would use:
//! the CRD's `openAPIV3Schema` turned into JSON Schema the way a strict
//! apiserver (`kubectl apply --validate=strict`) reads it:
//! - `x-kubernetes-*` keys dropped (`int-or-string` becomes integer|string);
//! - an object with `properties` and without
//!   `x-kubernetes-preserve-unknown-fields` gets `additionalProperties: false`,
//!   so a misspelled field is an error instead of being dropped.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::{json, Map, Value};

/// The CRD, copied into the repository (see tests/fixtures/knative/README.md).
pub fn crd_path() -> PathBuf {
    crate::common::repo_root().join("tests/fixtures/knative/service-crd.yaml")
}

/// A validator for `serving.knative.dev/v1` Services.
pub fn service_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(crd_path()).unwrap();
    let crd: Value = serde_norway::from_str(&text).unwrap();
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1")
        .expect("the CRD has version v1");
    let schema = strict(&version["schema"]["openAPIV3Schema"]);
    jsonschema::draft4::new(&schema).expect("the converted schema compiles")
}

/// The openAPIV3Schema node `v` as strict JSON Schema.
fn strict(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, val) in map {
                if k.starts_with("x-kubernetes-") {
                    continue;
                }
                let val = match k.as_str() {
                    // Maps of schemas: recurse into each.
                    "properties" | "patternProperties" | "definitions" => Value::Object(
                        val.as_object()
                            .unwrap()
                            .iter()
                            .map(|(name, s)| (name.clone(), strict(s)))
                            .collect(),
                    ),
                    // Values, not schemas.
                    "enum" | "default" | "example" | "required" | "description" => val.clone(),
                    _ => strict(val),
                };
                out.insert(k.clone(), val);
            }
            if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
                out.remove("type");
                out.remove("anyOf");
                out.insert("type".into(), json!(["integer", "string"]));
            }
            let preserve =
                map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if map.contains_key("properties") && !preserve {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(strict).collect()),
        other => other.clone(),
    }
}

/// Every error the validator finds in `doc`, one line each.
pub fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
