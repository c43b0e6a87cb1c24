//! `--endpoint URL` / `--endpoints FILE`: the matrix measured over HTTP
//! against deployed services. Nothing is built, packed, pushed or started;
//! the payloads come from the workspace's functions as for every bench.
//!
//! A row exists for each (function, runtime) the bench's selection holds;
//! a deployed variant's runtime is the one a Kwasm node runs it with
//! (native: runc; `wasm`: wasmedge-interp; `aot-wasmedge-*`: wasmedge-aot,
//! crun built with WasmEdge), so other runtimes' rows are unavailable.
//!
//! An endpoints file (TOML), one entry per function and runtime:
//!
//! ```toml
//! [[endpoint]]
//! function = "fibonacci"
//! runtime = "native"                 # or variant = "native-x86_64"
//! url = "http://10.0.0.5:80/"
//! host = "fibonacci.example.com"     # optional: the URL's host[:port]
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use lumos_build::Workspace;
use lumos_model::{
    AotEngine, Arch, BenchOutput, EndpointRecord, Mode, Protocol, RunRow, Runtime, Sandbox,
    Settings, Status, Variant,
};
use lumos_runtimes::endpoint::{self as ep, ColdPrep, Endpoint};

use crate::error::bail;
use crate::event::Event;
use crate::payloads::Payloads;
use crate::plan::{Cell, Plan};
use crate::request::{BenchRequest, EndpointRequest, EndpointTarget, DEFAULT_COLD_WAIT};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    endpoint: Vec<Entry>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    function: String,
    #[serde(default)]
    runtime: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    url: String,
    #[serde(default)]
    host: Option<String>,
}

/// The runtime a Kwasm node runs a deployed `variant` with.
pub fn deployed_runtime(variant: Variant) -> Result<Runtime, String> {
    match variant {
        Variant::Native(_) => Ok(Runtime::Native),
        Variant::Wasm => Ok(Runtime::WasmedgeInterp),
        Variant::Aot(AotEngine::Wasmedge, _) => Ok(Runtime::WasmedgeAot),
        Variant::Aot(AotEngine::Wasmtime, _) => {
            Err("a wasmtime `.cwasm` is not deployable: no Kubernetes RuntimeClass loads it".into())
        }
    }
}

/// Why `runtime` has no deployed form, if it has none (what a Kwasm node
/// runs: native with runc, wasmedge-interp and wasmedge-aot with crun+WasmEdge).
fn undeployable(runtime: Runtime) -> Option<String> {
    Sandbox::Containerd
        .under_containerd(runtime)
        .and_then(Result::err)
}

/// The line (1-based) of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Reads an endpoints file: (function, runtime) to its endpoint. Every
/// error is one line naming the file and the entry.
pub fn load_file(path: &Path, ws: &Workspace) -> crate::Result<Entries> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(crate::error::io(format!("--endpoints {shown}")))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(" (line {})", line_of(&text, s.start)))
            .unwrap_or_default();
        crate::Error::Usage(format!(
            "--endpoints {shown}{at}: {}",
            e.message()
                .lines()
                .next()
                .unwrap_or("not an endpoints file")
        ))
    })?;
    if file.endpoint.is_empty() {
        bail!("--endpoints {shown}: no [[endpoint]] entry");
    }
    let mut out = BTreeMap::new();
    for (i, e) in file.endpoint.iter().enumerate() {
        let entry = format!(
            "--endpoints {shown}: [[endpoint]] #{} (function `{}`)",
            i + 1,
            e.function
        );
        if ws.function(&e.function).is_none() {
            bail!(
                "{entry}: not a function of the workspace{} (functions: {})",
                if ws.names().is_empty() {
                    ""
                } else {
                    " selection"
                },
                ws.names().join(", ")
            );
        }
        let runtime = match (&e.runtime, &e.variant) {
            (Some(_), Some(_)) => bail!("{entry}: give `runtime` or `variant`, not both"),
            (None, None) => {
                bail!("{entry}: no `runtime` (native, wasmedge-interp, wasmedge-aot) or `variant`")
            }
            (Some(r), None) => {
                let r: Runtime = r.parse().map_err(|err: lumos_model::UnknownName| {
                    crate::Error::Usage(format!("{entry}: runtime: {err}"))
                })?;
                if let Some(why) = undeployable(r) {
                    bail!("{entry}: runtime {r} is not deployable: {why}");
                }
                r
            }
            (None, Some(v)) => {
                let v: Variant = v.parse().map_err(|err: lumos_model::UnknownName| {
                    crate::Error::Usage(format!("{entry}: variant: {err}"))
                })?;
                deployed_runtime(v)
                    .map_err(|why| crate::Error::Usage(format!("{entry}: variant {v}: {why}")))?
            }
        };
        let endpoint = Endpoint::new(&e.url, e.host.as_deref())
            .map_err(|err| crate::Error::Usage(format!("{entry}: {err}")))?;
        if out
            .insert((e.function.clone(), runtime), endpoint)
            .is_some()
        {
            bail!("{entry}: a second entry for {} {runtime}", e.function);
        }
    }
    Ok(out)
}

/// An endpoints file's entries: (function, runtime) to its endpoint.
pub type Entries = BTreeMap<(String, Runtime), Endpoint>;

/// Where each cell's requests go, or why the cell has no endpoint.
struct Targets {
    /// `--endpoints FILE`: the file's entries.
    file: Option<(std::path::PathBuf, Entries)>,
    host_arch: Arch,
}

impl Targets {
    fn find(
        &self,
        target: &EndpointTarget,
        ws: &Workspace,
        cell: &Cell,
    ) -> Result<Endpoint, (Status, String)> {
        let unavailable = |why: String| (Status::Unavailable, why);
        if let Some(why) = undeployable(cell.runtime) {
            return Err(unavailable(format!(
                "not deployable on a Kwasm node: {why}"
            )));
        }
        match (target, &self.file) {
            (_, Some((path, entries))) => entries
                .get(&(cell.function.clone(), cell.runtime))
                .cloned()
                .ok_or_else(|| {
                    unavailable(format!(
                        "no [[endpoint]] for {} {} in {}",
                        cell.function,
                        cell.runtime,
                        path.display()
                    ))
                }),
            (
                EndpointTarget::Ingress {
                    url,
                    namespace,
                    domain,
                },
                None,
            ) => {
                let variant = cell.runtime.variant(self.host_arch);
                let f = ws
                    .function_for(&cell.function, cell.runtime.family())
                    .expect("cells come from the workspace");
                // What `cargo lumos deploy` would not deploy has no Service.
                lumos_build::deploy::serving::serving(&cell.function, f.config.protocol, variant)
                    .map_err(|e| unavailable(format!("not deployed: {e}")))?;
                let service = lumos_build::deploy::names::service_name(&cell.function, variant)
                    .map_err(|e| (Status::Failed, format!("Service name: {e}")))?;
                Endpoint::new(url, Some(&format!("{service}.{namespace}.{domain}")))
                    .map_err(|e| (Status::Failed, e.to_string()))
            }
            (EndpointTarget::File(_), None) => unreachable!("the file is read first"),
        }
    }
}

/// Runs every cell of `plan` against its deployed service.
pub fn execute(
    req: &BenchRequest,
    ep_req: &EndpointRequest,
    ws: &Workspace,
    plan: &Plan,
    on: &mut dyn FnMut(Event),
) -> crate::Result<BenchOutput> {
    let Some(host_arch) = Arch::host() else {
        bail!("bench runs on x86_64 or aarch64 hosts only");
    };
    let targets = Targets {
        file: match &ep_req.target {
            EndpointTarget::File(p) => Some((p.clone(), load_file(p, ws)?)),
            EndpointTarget::Ingress { .. } => None,
        },
        host_arch,
    };
    let mut payloads = BTreeMap::new();
    for f in &ws.functions {
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
    let prep = match &ep_req.cold_command {
        Some(command) => ColdPrep::Command {
            command: command.clone(),
            timeout: ep_req.cold_command_timeout,
        },
        None => ColdPrep::Wait(ep_req.cold_wait.unwrap_or(DEFAULT_COLD_WAIT)),
    };
    on(Event::Planned {
        cells: plan.cells.len(),
        steps: plan.total_steps(),
    });
    let store = "the deployed services' own".to_string();
    let mut rows = Vec::with_capacity(plan.cells.len());
    for cell in &plan.cells {
        on(Event::CellStarted { cell: cell.clone() });
        let payload = payloads
            .get(&cell.function)
            .map(|p| p.group(cell.group))
            .unwrap_or_default();
        let mut row = RunRow {
            function: cell.function.clone(),
            runtime: cell.runtime,
            group: cell.group,
            mode: cell.mode,
            protocol: Protocol::Http,
            store: store.clone(),
            payload_bytes: payload.bytes(),
            ..Default::default()
        };
        let endpoint = match targets.find(&ep_req.target, ws, cell) {
            Ok(e) => e,
            Err((status, why)) => {
                row.status = status;
                row.error = Some(why);
                if status == Status::Failed {
                    row.errors = plan.repeat as u64;
                }
                on(Event::Step {
                    n: plan.steps(cell),
                });
                on(Event::CellFinished {
                    cell: cell.clone(),
                    row: Box::new(row.clone()),
                });
                rows.push(row);
                continue;
            }
        };
        if !payload.objects.is_empty() {
            row.warnings.push(format!(
                "{} storage object(s) of the payload were not preloaded: a deployed function reads its own storage",
                payload.objects.len()
            ));
        }
        let mut record = EndpointRecord {
            url: endpoint.url.clone(),
            host: endpoint.host.clone(),
            ..Default::default()
        };
        let mut tick = || on(Event::Step { n: 1 });
        let mut row = match cell.mode {
            Mode::Warm => crate::fold::warm_with(&plan.sampling, &mut tick, row, || {
                Ok(ep::warm(
                    &endpoint,
                    &payload.request,
                    plan.warmup,
                    plan.requests,
                    req.timeout,
                ))
            }),
            Mode::Cold => {
                match &prep {
                    ColdPrep::Command { command, .. } => {
                        record.cold_command = Some(command.clone())
                    }
                    ColdPrep::Wait(d) => record.cold_wait_s = Some(d.as_secs_f64()),
                }
                let attempts = &mut record.cold_attempts;
                crate::fold::cold_with(plan.repeat, &mut tick, row, || {
                    let c = ep::cold(&endpoint, &payload.request, &prep, req.timeout)?;
                    attempts.push(c.attempts);
                    Ok(c.result)
                })
            }
            Mode::Load => {
                let row = crate::fold::load_with(row, || {
                    ep::load(&endpoint, &payload.request, &plan.load, req.timeout)
                });
                (0..plan.steps(cell)).for_each(|_| tick());
                row
            }
            m => unreachable!("mode {m} is refused with an endpoint (plan::check_endpoint)"),
        };
        row.endpoint = Some(record);
        on(Event::CellFinished {
            cell: cell.clone(),
            row: Box::new(row.clone()),
        });
        rows.push(row);
    }
    Ok(BenchOutput {
        schema_version: lumos_model::SCHEMA_VERSION,
        machine: lumos_runtimes::machine::machine(),
        versions: lumos_runtimes::machine::versions(req.runner_exe.as_deref()),
        settings: Settings {
            registry: "none: deployed services (--endpoint)".into(),
            store,
            repeat: plan.repeat,
            warmup: plan.warmup,
            requests: plan.requests,
            native_base: String::new(),
            runtimes: plan
                .runtimes
                .iter()
                .map(|r| (*r, undeployable(*r)))
                .collect(),
            ..Default::default()
        },
        runs: rows,
    })
}
