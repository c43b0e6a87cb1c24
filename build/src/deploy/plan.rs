//! From the workspace's functions and the pushed images to one Knative
//! Service per function and variant.

use std::collections::{BTreeMap, BTreeSet};

use lumos_model::{Protocol, Variant};
use lumos_oci::reference::split_registry;
use lumos_oci::Digest;

use super::image_ref::{pushed_reference, LocalImages};
use super::names::{check_label, kube_spelling, service_name};
use super::quantity::quantity;
use super::request::DeployRequest;
use super::service::{
    Container, ContainerPort, ObjectMeta, PullPolicy, Resources, RevisionSpec, RevisionTemplate,
    Service, ServiceSpec, API_VERSION, KIND,
};
use super::serving::{serving, Serving};
use crate::error::{bail, Context as _, Result};
use crate::Function;

/// The pod annotation that makes crun (and Kwasm's shims) run a `.wasm`
/// entrypoint as wasm instead of executing it.
pub const WASM_VARIANT_ANNOTATION: &str = "module.wasm.image/variant";
/// Its value for images that hold a wasm module as their entrypoint.
pub const WASM_VARIANT: &str = "compat-smart";
/// The node label of a node's CPU.
pub const ARCH_LABEL: &str = "kubernetes.io/arch";
/// Labels naming the function and variant (values as Lumos spells them).
pub const FUNCTION_LABEL: &str = "lumos.dev/function";
pub const VARIANT_LABEL: &str = "lumos.dev/variant";
/// Ports Knative's queue-proxy keeps for itself.
pub const RESERVED_PORTS: &[u16] = &[8012, 8013, 8022, 9090, 9091];

/// One Service and what it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The function's name (metadata `name`, else its binary's).
    pub function: String,
    /// The package that builds this variant (of twins, the one whose
    /// `runtimes` hold its family).
    pub package: String,
    pub variant: Variant,
    /// Where the image is in the registry: `NAMESPACE/<function>` …
    pub repository: String,
    /// … and its manifest's digest.
    pub digest: Digest,
    pub service: Service,
}

/// Everything `deploy` writes, and what the cluster must have for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub deployments: Vec<Deployment>,
    /// One line each: names respelled for Kubernetes, Knative feature flags
    /// and RuntimeClasses the Services rely on.
    pub notes: Vec<String>,
}

/// Checks the settings that do not depend on the workspace.
pub fn check(req: &DeployRequest) -> Result<()> {
    split_registry(&req.registry).with_context(|| format!("--registry {}", req.registry))?;
    if let Some(ns) = &req.namespace {
        check_label(ns).with_context(|| "--namespace")?;
    }
    check_label(&req.runtime_class).with_context(|| "--runtime-class")?;
    if req.port == 0 {
        bail!("--port 0: a container port is 1 to 65535");
    }
    if RESERVED_PORTS.contains(&req.port) {
        bail!(
            "--port {}: Knative keeps ports {:?} for its queue-proxy",
            req.port,
            RESERVED_PORTS
        );
    }
    for (flag, q) in [("--memory", &req.memory), ("--cpus", &req.cpus)] {
        if let Some(q) = q {
            quantity(q).with_context(|| flag)?;
        }
    }
    if let Some(max) = req.max_scale {
        if max == 0 {
            bail!("--max-scale 0: at least 1 (leave the flag out for no limit)");
        }
        if req.min_scale > max {
            bail!("--min-scale {} is above --max-scale {max}", req.min_scale);
        }
    }
    if req.target == Some(0) {
        bail!("--target 0: at least 1 concurrent request per instance");
    }
    Ok(())
}

/// One Service per selected function and variant, in function then variant
/// order. Twins (packages with one metadata `name`, disjoint `runtimes`) are
/// one function: each variant is deployed once, from the twin that builds it.
pub fn plan(functions: &[Function], images: &LocalImages, req: &DeployRequest) -> Result<Plan> {
    check(req)?;
    let (host, namespace) = split_registry(&req.registry)?;
    let mut out = Plan::default();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for first in functions {
        if !done.insert(first.name.as_str()) {
            continue;
        }
        let function = first.name.as_str();
        let twins: Vec<&Function> = functions.iter().filter(|f| f.name == function).collect();
        // The package that builds `variant`: of twins, the one whose
        // `runtimes` hold its family.
        let builder = |variant: Variant| {
            twins
                .iter()
                .copied()
                .find(|f| f.config.runtimes.contains(&variant.family()))
        };
        let packages = || {
            twins
                .iter()
                .map(|f| format!("`{}`", f.package))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let kube = kube_spelling(function);
        check_label(&kube).with_context(|| format!("function `{function}`"))?;
        if kube != function {
            out.notes.push(format!(
                "function `{function}` is named `{kube}` in Kubernetes"
            ));
        }
        let explicit = !req.variants.is_empty();
        let variants = if explicit {
            let mut v = req.variants.clone();
            v.sort();
            v.dedup();
            v
        } else {
            // Images of a family no selected package builds (the other twin
            // left out by `-p`, or a stale image) are not this selection's.
            images
                .variants(function)
                .into_iter()
                .filter(|&v| builder(v).is_some())
                .collect()
        };
        if variants.is_empty() {
            bail!(
                "{function}: no images in {} (run `cargo lumos image -p {}` and `cargo lumos push`)",
                images.dir().display(),
                first.package
            );
        }
        // Asked for by name, a variant Knative cannot serve, or that no
        // selected package builds, is refused; among the packed ones (no
        // --variant), it is left out with a note, unless none is left.
        let mut servable = Vec::new();
        let mut refused = None;
        for variant in variants {
            let Some(f) = builder(variant) else {
                bail!(
                    "{function} {variant}: package {} does not build it (its `runtimes` leave out {})",
                    packages(),
                    variant.family()
                );
            };
            match serving(function, f.config.protocol, variant) {
                Ok(how) => {
                    if f.config.protocol == Protocol::Lumos && how == Serving::Wasm {
                        out.notes.push(format!(
                            "{function} {variant}: the SDK's HTTP mode in wasm (WasmEdge sockets) has no storage: its storage calls fail there"
                        ));
                    }
                    servable.push((f, variant, how));
                }
                Err(e) if explicit => return Err(e.into()),
                Err(e) => {
                    out.notes.push(format!("not deployed: {e}"));
                    refused.get_or_insert(e);
                }
            }
        }
        if let (true, Some(e)) = (servable.is_empty(), refused) {
            return Err(e.into());
        }
        for (f, variant, how) in servable {
            let Some((layout_name, digest)) = images.find(function, variant) else {
                bail!(
                    "{function} {variant}: no image in {} (run `cargo lumos build --image -p {}` for it, then `cargo lumos push`)",
                    images.dir().display(),
                    f.package
                );
            };
            let (repository, image) = pushed_reference(&host, &namespace, layout_name, digest)?;
            let name = service_name(function, variant)
                .with_context(|| format!("{function} {variant}: Service name"))?;
            if let Some(other) = names.insert(name.clone(), function.to_string()) {
                bail!(
                    "functions `{other}` and `{function}` would both be the Knative Service `{name}`"
                );
            }
            out.deployments.push(Deployment {
                function: function.to_string(),
                package: f.package.clone(),
                variant,
                repository,
                digest: digest.clone(),
                service: service(&name, function, variant, how, image, req),
            });
        }
    }
    let wasm = out
        .deployments
        .iter()
        .any(|d| d.service.spec.template.spec.runtime_class_name.is_some());
    if wasm {
        out.notes.push(format!(
            "wasm Services need the RuntimeClass `{}` (Kwasm installs it) and Knative's config-features `kubernetes.podspec-runtimeclassname: enabled`",
            req.runtime_class
        ));
    }
    let pinned = out
        .deployments
        .iter()
        .any(|d| !d.service.spec.template.spec.node_selector.is_empty());
    if pinned {
        out.notes.push(
            "Services for one CPU need Knative's config-features `kubernetes.podspec-nodeselector: enabled`".into(),
        );
    }
    Ok(out)
}

/// The Service `name` for `function` in `variant`, running `image`.
fn service(
    name: &str,
    function: &str,
    variant: Variant,
    how: Serving,
    image: String,
    req: &DeployRequest,
) -> Service {
    let labels: BTreeMap<String, String> = [
        ("app.kubernetes.io/name", name.to_string()),
        ("app.kubernetes.io/managed-by", "cargo-lumos".to_string()),
        (FUNCTION_LABEL, function.to_string()),
        (VARIANT_LABEL, variant.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut annotations = BTreeMap::new();
    let mut scale = |key: &str, value: u32| {
        annotations.insert(format!("autoscaling.knative.dev/{key}"), value.to_string());
    };
    scale("min-scale", req.min_scale);
    if let Some(max) = req.max_scale {
        scale("max-scale", max);
    }
    if let Some(target) = req.target {
        scale("target", target);
    }
    let runtime_class_name = match how {
        Serving::Container => None,
        Serving::Wasm => {
            annotations.insert(WASM_VARIANT_ANNOTATION.into(), WASM_VARIANT.into());
            Some(req.runtime_class.clone())
        }
    };
    let node_selector = variant
        .arch()
        .map(|a| (ARCH_LABEL.to_string(), a.debian().to_string()))
        .into_iter()
        .collect();
    let mut limits = BTreeMap::new();
    if let Some(m) = &req.memory {
        limits.insert("memory".to_string(), m.clone());
    }
    if let Some(c) = &req.cpus {
        limits.insert("cpu".to_string(), c.clone());
    }
    Service {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: req.namespace.clone(),
            labels: labels.clone(),
            annotations: BTreeMap::new(),
        },
        spec: ServiceSpec {
            template: RevisionTemplate {
                metadata: ObjectMeta {
                    labels,
                    annotations,
                    ..Default::default()
                },
                spec: RevisionSpec {
                    container_concurrency: req.container_concurrency,
                    runtime_class_name,
                    node_selector,
                    containers: vec![Container {
                        name: "function".into(),
                        image,
                        image_pull_policy: PullPolicy::IfNotPresent,
                        ports: vec![ContainerPort {
                            name: "http1".into(),
                            container_port: req.port,
                        }],
                        resources: Resources { limits },
                    }],
                },
            },
        },
    }
}
