//! Making ready what the cells need: runtimes checked, functions built and
//! packed, a registry (given or throwaway), images pushed, payloads read.

use std::collections::BTreeMap;

use lumos_build::compile::{BuildOptions, BuildReport};
use lumos_build::images::PackRequest;
use lumos_build::push::PushRequest;
use lumos_build::{Selection, Workspace};
use lumos_model::{AotEngine, Arch, BuildManifest, Runtime, RuntimeFamily, Variant};
use lumos_services::{Registry, RegistryOptions};

use crate::error::bail;
use crate::event::Event;
use crate::payloads::Payloads;
use crate::plan::Plan;
use crate::request::BenchRequest;

/// What the cells run against.
pub struct Prepared {
    /// The CPU of this machine (which native and AoT variants run here).
    pub host: Arch,
    /// build.json after building.
    pub manifest: BuildManifest,
    /// Runtimes that cannot run here, and why.
    pub unavailable: BTreeMap<Runtime, String>,
    /// Variants of function packages whose build failed, and why.
    pub build_failed: BTreeMap<(String, Variant), String>,
    /// `HOST[:PORT]/NAMESPACE` the images were pushed to.
    pub registry: String,
    /// The throwaway registry, stopped when this is dropped.
    pub local_registry: Option<Registry>,
    /// Each function's payloads.
    pub payloads: BTreeMap<String, Payloads>,
}

impl Prepared {
    /// The image reference a cell pulls.
    pub fn image(&self, function: &str, runtime: Runtime) -> String {
        format!(
            "{}/{function}:{}",
            self.registry,
            runtime.image_tag(self.host)
        )
    }
}

/// The families of variants to build for the runtimes asked.
fn selection(runtimes: &[Runtime], host: Arch, engines: &[AotEngine]) -> Selection {
    let mut families = vec![];
    if runtimes.contains(&Runtime::Native) {
        families.push(RuntimeFamily::Native);
    }
    if runtimes.iter().any(|r| r.family() == RuntimeFamily::Wasm) {
        families.push(RuntimeFamily::Wasm);
    }
    if !engines.is_empty() {
        families.push(RuntimeFamily::Aot);
    }
    Selection {
        all: false,
        runtimes: families,
        arches: vec![host],
        aot_engines: engines.to_vec(),
    }
}

/// Prepares everything the cells of `plan` need.
pub fn prepare(
    req: &BenchRequest,
    ws: &Workspace,
    plan: &Plan,
    on: &mut dyn FnMut(Event),
) -> crate::Result<Prepared> {
    let Some(host) = Arch::host() else {
        bail!("bench runs on x86_64 or aarch64 hosts only");
    };
    if let Some(url) = &req.baas {
        if !(url.starts_with("redis://") || url.starts_with("redis+unix://")) {
            bail!(
                "--baas `{}`: expected redis://HOST:PORT",
                lumos_runtimes::store::redacted(url)
            );
        }
    }
    let mut payloads = BTreeMap::new();
    for f in &ws.functions {
        // Twins share the payloads of the first (by package name).
        if payloads.contains_key(&f.name) {
            continue;
        }
        let p = Payloads::load(ws, &req.cargo, f, &plan.groups)?;
        if p.file.is_none() {
            on(Event::NoPayloads {
                function: f.name.clone(),
            });
        }
        payloads.insert(f.name.clone(), p);
    }

    for f in &ws.functions {
        for &r in &plan.runtimes {
            if let Some(why) = f.config.protocol.refuses_runtime(r) {
                on(Event::Skipped {
                    function: f.name.clone(),
                    runtime: r,
                    why: why.to_string(),
                });
            }
        }
    }

    let mut unavailable = BTreeMap::new();
    let runtimes = plan.build_runtimes();
    for &r in &runtimes {
        if let Err(why) = lumos_runtimes::runtime::availability(r) {
            let why = why.to_string();
            on(Event::Unavailable {
                runtime: r,
                why: why.clone(),
            });
            unavailable.insert(r, why);
        }
    }

    // Build what is missing (cargo and the AoT cache make the rest a no-op).
    let mut build_failed = BTreeMap::new();
    if !req.no_build {
        let wants = |r: Runtime| runtimes.contains(&r) && !unavailable.contains_key(&r);
        let engines: Vec<AotEngine> =
            if wants(Runtime::WasmtimeAot) || wants(Runtime::WasmtimePooled) {
                vec![AotEngine::Wasmtime]
            } else {
                vec![]
            };
        let runtimes: Vec<Runtime> = runtimes
            .iter()
            .copied()
            .filter(|r| wants(*r) && *r != Runtime::WasmedgeAot)
            .collect();
        let sel = selection(&runtimes, host, &engines);
        if !sel.runtimes.is_empty() {
            on(Event::Building {
                functions: ws.functions.len(),
            });
        }
        let mut tell = |e| on(Event::Build(e));
        if !sel.runtimes.is_empty() {
            let report = build_step(ws, req, sel, &mut tell)?;
            build_failed.extend(failed_variants(report));
        }
        if wants(Runtime::WasmedgeAot) {
            let sel = selection(&[], host, &[AotEngine::Wasmedge]);
            match build_step(ws, req, sel, &mut tell) {
                Ok(report) => build_failed.extend(failed_variants(report)),
                Err(e) => {
                    let why = format!(
                        "its AoT images could not be built: {}",
                        lumos_model::error_chain(&e)
                    );
                    on(Event::Unavailable {
                        runtime: Runtime::WasmedgeAot,
                        why: why.clone(),
                    });
                    unavailable.insert(Runtime::WasmedgeAot, why);
                }
            }
        }
    }
    let manifest = lumos_build::manifest::read(&ws.target_dir)?;
    let packable: Vec<String> = ws
        .names()
        .into_iter()
        .filter(|name| manifest.function(name).is_some())
        .collect();
    if packable.is_empty() {
        bail!("nothing was built for {}", ws.names().join(", "));
    }
    let packed = lumos_build::images::pack(
        &ws.target_dir,
        &PackRequest {
            base: req.base.clone(),
            functions: packable.clone(),
            ..Default::default()
        },
    )?;
    on(Event::Packed {
        images: packed.images.len(),
        elapsed: packed.elapsed,
    });

    // The registry: the one given, or a throwaway one.
    let (registry, local_registry) = match &req.registry {
        Some(r) => (r.trim_end_matches('/').to_string(), None),
        None => {
            let r = Registry::start(&RegistryOptions::default())?;
            on(Event::Registry {
                addr: r.addr.clone(),
                pid: r.pid(),
            });
            (format!("{}/lumos", r.addr), Some(r))
        }
    };
    let pushed = lumos_build::push::push(
        &ws.target_dir,
        &PushRequest {
            insecure: req.insecure,
            functions: packable,
            ..PushRequest::new(registry.clone())
        },
        |_| {},
    )?;
    on(Event::Pushed {
        images: pushed.images.len(),
        registry: pushed.registry.clone(),
        elapsed: pushed.elapsed,
    });
    let registry = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_string();
    Ok(Prepared {
        host,
        manifest,
        unavailable,
        build_failed,
        registry,
        local_registry,
        payloads,
    })
}

/// A build's failures, variant by variant.
fn failed_variants(report: BuildReport) -> impl Iterator<Item = ((String, Variant), String)> {
    report.failures.into_iter().flat_map(|f| {
        f.variants
            .into_iter()
            .map(move |v| ((f.package.clone(), v), f.reason.clone()))
    })
}

fn build_step(
    ws: &Workspace,
    req: &BenchRequest,
    selection: Selection,
    on: &mut dyn FnMut(lumos_build::compile::BuildEvent),
) -> crate::Result<BuildReport> {
    let opts = BuildOptions {
        selection,
        aot_opt_level: "2".into(),
    };
    Ok(lumos_build::compile::build(ws, &req.cargo, &opts, on)?)
}
