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
//!
//! The judge is Python's `jsonschema` (Draft 4, as the apiserver's
//! structural schemas), installed by scripts/setup in /opt/lumos/python:
//! an outside implementation of the standard, as skopeo and umoci judge the
//! images, and no Rust validator to compile into the test build (the
//! `jsonschema` crate was ~1 minute of CPU there).
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Map, Value};

/// The CRD, copied into the repository (see tests/fixtures/knative/README.md).
pub fn crd_path() -> PathBuf {
    crate::common::repo_root().join("tests/fixtures/knative/service-crd.yaml")
}

/// The strict schema of `serving.knative.dev/v1` Services, in a file the judge reads.
pub struct Validator {
    schema: tempfile::NamedTempFile,
}

/// The Python of scripts/setup's venv, which has `jsonschema`.
fn python() -> PathBuf {
    let p = PathBuf::from(
        std::env::var("LUMOS_PYTHON").unwrap_or_else(|_| "/opt/lumos/python/bin/python3".into()),
    );
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup (it installs jsonschema there)",
        p.display()
    );
    p
}

/// Validates the JSON document on stdin against the schema file argv[1]
/// (Draft 4); prints each error as `message at /json/pointer`, one a line.
const JUDGE: &str = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft4Validator.check_schema(schema)
doc = json.load(sys.stdin)
for e in jsonschema.Draft4Validator(schema).iter_errors(doc):
    path = "".join("/" + str(p) for p in e.absolute_path)
    print((e.message + " at " + path).replace(chr(10), " "))
"#;

/// A validator for `serving.knative.dev/v1` Services.
pub fn service_validator() -> Validator {
    let text = std::fs::read_to_string(crd_path()).unwrap();
    let crd: Value = serde_norway::from_str(&text).unwrap();
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1")
        .expect("the CRD has version v1");
    let schema = strict(&version["schema"]["openAPIV3Schema"]);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    serde_json::to_writer(&mut file, &schema).unwrap();
    file.flush().unwrap();
    let v = Validator { schema: file };
    // The converted schema must itself be valid Draft 4: the judge checks it
    // first and fails (so `errors` panics) when it is not.
    errors(&v, &json!({}));
    v
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
pub fn errors(validator: &Validator, doc: &Value) -> Vec<String> {
    let mut child = Command::new(python())
        .args(["-c", JUDGE])
        .arg(validator.schema.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python jsonschema judge");
    serde_json::to_writer(child.stdin.take().unwrap(), doc).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the jsonschema judge failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}
