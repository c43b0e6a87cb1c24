//! Running the cells: each one's refusal (runtime unavailable, family not
//! supported, build failed, variant missing) or its runs, folded into a row.

use std::collections::BTreeSet;

use lumos_build::Workspace;
use lumos_model::{BenchOutput, Mode, RunRow, Settings, Status};
use lumos_runtimes::{Job, RunOpts, Runner};

use crate::event::Event;
use crate::plan::{Cell, Plan};
use crate::prepare::Prepared;
use crate::request::BenchRequest;

/// Why a cell is not run, if it is not.
fn refusal(cell: &Cell, ws: &Workspace, prepared: &Prepared) -> Option<(Status, String)> {
    let function = ws.function_for(&cell.function, cell.runtime.family())?;
    // Said first: true whatever this build of the runner has.
    if let Some(why) = function.config.protocol.refuses_runtime(cell.runtime) {
        return Some((
            Status::Unavailable,
            format!("{} is skipped here: {why}", cell.function),
        ));
    }
    if let Some(why) = prepared.unavailable.get(&cell.runtime) {
        return Some((Status::Unavailable, why.clone()));
    }
    if !function.config.runtimes.contains(&cell.runtime.family()) {
        return Some((
            Status::Unavailable,
            format!(
                "{} does not support this runtime family (metadata `runtimes`)",
                cell.function
            ),
        ));
    }
    let variant = cell.runtime.variant(prepared.host);
    if let Some(e) = prepared
        .build_failed
        .get(&(function.package.clone(), variant))
    {
        return Some((Status::Failed, format!("build failed: {e}")));
    }
    let built = prepared
        .manifest
        .function(&cell.function)
        .and_then(|f| f.artifact(variant))
        .is_some();
    if !built {
        return Some((
            Status::Failed,
            format!("no {variant} artifact in build.json (run `cargo lumos build`)"),
        ));
    }
    None
}

/// Runs every cell of `plan`; returns the whole result.
pub fn execute(
    req: &BenchRequest,
    ws: &Workspace,
    plan: &Plan,
    prepared: &Prepared,
    on: &mut dyn FnMut(Event),
) -> crate::Result<BenchOutput> {
    let mut opts = RunOpts {
        runner_exe: req.runner_exe.clone(),
        baas: req.baas.clone(),
        baas_link: req.baas_link,
        nodes: plan.nodes.clone(),
        insecure: req.insecure,
        sandbox: req.sandbox,
        warmup: plan.warmup,
        requests: plan.requests,
        ..Default::default()
    };
    opts.limits.memory_bytes = (req.memory_mib > 0).then_some(req.memory_mib << 20);
    opts.limits.cpus = req.cpus;
    opts.limits.request_timeout = req.timeout;
    let limits = opts.limits;
    let runner = Runner::new(opts)?;
    let store = runner.store().describe();
    let baas_link = runner.baas_link().cloned();
    let nodes = runner.nodes();
    // Warm, load and cold-cached runs share one image cache (their pulls are
    // not measured).
    let warm_cache = tempfile::Builder::new()
        .prefix("lumos-bench-cache-")
        .tempdir()
        .map_err(crate::error::io("image cache"))?;

    // The neighbour: refused as a cell of its own would be, before any
    // cell runs; its image prepared on first use.
    let mut neighbour = match &plan.neighbour {
        None => None,
        Some(n) => {
            let as_cell = Cell {
                function: n.function.clone(),
                runtime: n.runtime,
                group: 1,
                mode: Mode::Warm,
                neighbour: false,
                node: None,
            };
            if let Some((_, why)) = cell_refusal(req, &as_cell, ws, prepared) {
                crate::error::bail!("--neighbour {n}: {why}");
            }
            let f = ws
                .function_for(&n.function, n.runtime.family())
                .expect("the neighbour is in the workspace (neighbour::include)");
            Some(crate::neighbour::Host::new(
                n,
                prepared.image(&n.function, n.runtime),
                f.config.protocol,
                prepared.payloads.get(&n.function),
                warm_cache.path(),
                req.timeout,
            ))
        }
    };
    on(Event::Planned {
        cells: plan.cells.len(),
        steps: plan.total_steps(),
    });
    let mut rows = Vec::with_capacity(plan.cells.len());
    for cell in &plan.cells {
        on(Event::CellStarted { cell: cell.clone() });
        let payload = prepared
            .payloads
            .get(&cell.function)
            .map(|p| p.group(cell.group))
            .unwrap_or_default();
        let mut row = RunRow {
            function: cell.function.clone(),
            runtime: cell.runtime,
            group: cell.group,
            mode: cell.mode,
            store: store.clone(),
            payload_bytes: payload.bytes(),
            node: cell
                .node
                .as_ref()
                .and_then(|n| nodes.iter().find(|r| &r.name == n).cloned()),
            ..Default::default()
        };
        let steps = plan.steps(cell);
        if let Some((status, why)) = cell_refusal(req, cell, ws, prepared) {
            row.status = status;
            row.error = Some(why);
            if status == Status::Failed {
                row.errors = plan.repeat as u64;
            }
            on(Event::Step { n: steps });
            on(Event::CellFinished {
                cell: cell.clone(),
                row: Box::new(row.clone()),
            });
            rows.push(row);
            continue;
        }
        for o in &payload.objects {
            runner
                .store()
                .put(&o.key, &o.bytes)
                .map_err(|source| crate::Error::Preload {
                    key: o.key.clone(),
                    store: store.clone(),
                    source: Box::new(source),
                })?;
        }
        let function = ws
            .function(&cell.function)
            .expect("cells come from the workspace");
        let image = prepared.image(&cell.function, cell.runtime);
        let group = cell.group.to_string();
        let job = Job {
            image: &image,
            runtime: cell.runtime,
            payload: &payload.request,
            args: &payload.args,
            // Images carry `dev.lumos.protocol`; the metadata is the source, said again.
            protocol: Some(function.config.protocol),
            cache: Some(warm_cache.path()),
            group: Some(&group),
            node: cell.node.as_deref(),
        };
        // The neighbour, busy before the cell's measurement starts.
        let mut running = None;
        if let (true, Some(host)) = (cell.neighbour, neighbour.as_mut()) {
            match host.start(&runner, cell.group) {
                Ok(r) => running = Some(r),
                Err(e) => {
                    let why = format!("neighbour {}: {}", host.spec, lumos_model::error_chain(&e));
                    row.status = Status::Failed;
                    row.errors = plan.repeat as u64;
                    row.error = Some(why.clone());
                    row.neighbour = Some(lumos_model::NeighbourRecord {
                        function: host.spec.function.clone(),
                        runtime: host.spec.runtime,
                        rate: host.spec.rate,
                        error: Some(why),
                        ..Default::default()
                    });
                    on(Event::Step { n: steps });
                    on(Event::CellFinished {
                        cell: cell.clone(),
                        row: Box::new(row.clone()),
                    });
                    rows.push(row);
                    continue;
                }
            }
        }
        if let Some(r) = running.as_mut() {
            r.open_window();
        }
        let mut tick = || on(Event::Step { n: 1 });
        let mut row = match cell.mode {
            m @ (Mode::ColdCached | Mode::Cold | Mode::ColdNode) => {
                crate::fold::cold(&runner, &job, m, plan.repeat, &mut tick, row)
            }
            Mode::Warm => crate::fold::warm(&runner, &job, &plan.sampling, &mut tick, row),
            Mode::Load => {
                let row = crate::fold::load(&runner, &job, &plan.load, row);
                on(Event::Step { n: steps });
                row
            }
            Mode::Workflow => unreachable!("workflow cells are the plan's `workflow`"),
        };
        if let Some(r) = running {
            row.neighbour = Some(r.finish());
        }
        on(Event::CellFinished {
            cell: cell.clone(),
            row: Box::new(row.clone()),
        });
        rows.push(row);
    }
    if let Some(w) = &plan.workflow {
        for wc in &w.cells {
            let row = workflow_cell(
                req,
                ws,
                plan,
                prepared,
                &runner,
                w,
                wc,
                &store,
                warm_cache.path(),
                on,
            )?;
            rows.push(row);
        }
    }
    drop(runner);

    let bases: BTreeSet<&str> = ws
        .functions
        .iter()
        .map(|f| f.config.base.as_str())
        .collect();
    Ok(BenchOutput {
        schema_version: lumos_model::SCHEMA_VERSION,
        machine: lumos_runtimes::machine::machine(),
        versions: lumos_runtimes::machine::versions(req.runner_exe.as_deref()),
        settings: Settings {
            registry: if req.registry.is_some() {
                prepared.registry.clone()
            } else {
                "throwaway local docker-registry".into()
            },
            store,
            repeat: plan.repeat,
            warmup: plan.warmup,
            requests: plan.requests,
            native_base: req
                .base
                .clone()
                .unwrap_or_else(|| bases.into_iter().collect::<Vec<_>>().join(",")),
            runtimes: plan
                .runtimes
                .iter()
                .map(|r| (*r, prepared.unavailable.get(r).cloned()))
                .collect(),
            limits: Some(limits),
            device: req.device.clone(),
            baas_link,
            neighbour: plan.neighbour.clone(),
            neighbour_baseline: plan.neighbour.is_some() && plan.neighbour_baseline,
            nodes,
            skipped: plan.skipped.clone(),
        },
        runs: rows,
    })
}

/// One workflow row: each step checked as a cell of its own would be (a
/// step that cannot run makes the row unavailable or failed), every step's
/// storage objects preloaded, then the chains run ([`crate::workflow`]).
#[allow(clippy::too_many_arguments)]
fn workflow_cell(
    req: &BenchRequest,
    ws: &Workspace,
    plan: &Plan,
    prepared: &Prepared,
    runner: &Runner,
    w: &crate::plan::WorkflowPlan,
    wc: &crate::plan::WorkflowCell,
    store: &str,
    cache: &std::path::Path,
    on: &mut dyn FnMut(Event),
) -> crate::Result<RunRow> {
    let cell = w.cell(wc);
    on(Event::CellStarted { cell: cell.clone() });
    let payload = |f: &str| {
        prepared
            .payloads
            .get(f)
            .map(|p| p.group(wc.group))
            .unwrap_or_default()
    };
    let payloads: Vec<_> = w.steps.iter().map(|f| payload(f)).collect();
    let mut row = RunRow {
        function: w.label.clone(),
        runtime: wc.runtimes[0],
        group: wc.group,
        mode: Mode::Workflow,
        store: store.to_string(),
        payload_bytes: payloads[0].bytes(),
        ..Default::default()
    };
    let refused = w.steps.iter().zip(&wc.runtimes).find_map(|(f, &runtime)| {
        let step = Cell {
            function: f.clone(),
            runtime,
            group: wc.group,
            mode: wc.start,
            neighbour: false,
            node: None,
        };
        cell_refusal(req, &step, ws, prepared)
            .map(|(s, why)| (s, format!("step {f}@{runtime}: {why}")))
    });
    if let Some((status, why)) = refused {
        row.status = status;
        row.error = Some(why);
        row.workflow = Some(lumos_model::WorkflowRecord {
            name: w.name.clone(),
            start: wc.start,
            chain_data: w.chain_data,
            steps: w
                .steps
                .iter()
                .zip(&wc.runtimes)
                .map(|(f, &runtime)| lumos_model::WorkflowStep {
                    function: f.clone(),
                    runtime,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
        on(Event::Step {
            n: plan.repeat as u64,
        });
        on(Event::CellFinished {
            cell,
            row: Box::new(row.clone()),
        });
        return Ok(row);
    }
    for o in payloads.iter().flat_map(|p| &p.objects) {
        runner
            .store()
            .put(&o.key, &o.bytes)
            .map_err(|source| crate::Error::Preload {
                key: o.key.clone(),
                store: store.to_string(),
                source: Box::new(source),
            })?;
    }
    let images: Vec<String> = w
        .steps
        .iter()
        .zip(&wc.runtimes)
        .map(|(f, &r)| prepared.image(f, r))
        .collect();
    let groups = wc.group.to_string();
    let steps: Vec<Job> = w
        .steps
        .iter()
        .enumerate()
        .map(|(i, f)| Job {
            image: &images[i],
            runtime: wc.runtimes[i],
            payload: &payloads[i].request,
            args: &payloads[i].args,
            protocol: ws
                .function_for(f, wc.runtimes[i].family())
                .map(|f| f.config.protocol),
            cache: Some(cache),
            group: Some(&groups),
            node: None,
        })
        .collect();
    let chain = crate::workflow::Chain {
        label: &w.label,
        steps,
        functions: w.steps.iter().map(String::as_str).collect(),
        chain_data: w.chain_data,
        start: wc.start,
        repeat: plan.repeat,
        warmup: plan.warmup,
        requests: plan.requests,
    };
    let mut tick = || on(Event::Step { n: 1 });
    let mut row = crate::workflow::run(runner, &chain, &mut tick, row);
    if let Some(r) = row.workflow.as_mut() {
        r.name = w.name.clone();
    }
    on(Event::CellFinished {
        cell,
        row: Box::new(row.clone()),
    });
    Ok(row)
}

/// Why a cell (or a workflow's step) is not run, if it is not: the
/// sandbox, then the function and runtime.
fn cell_refusal(
    req: &BenchRequest,
    cell: &Cell,
    ws: &Workspace,
    prepared: &Prepared,
) -> Option<(Status, String)> {
    // Under containerd a runtime crun+WasmEdge or runc cannot run is unavailable.
    req.sandbox
        .and_then(|s| s.under_containerd(cell.runtime))
        .and_then(Result::err)
        .map(|why| (Status::Unavailable, format!("sandbox containerd: {why}")))
        .or_else(|| refusal(cell, ws, prepared))
}

/// Whether any row of `out` has a request that answered OK.
pub fn measured_anything(out: &BenchOutput) -> bool {
    out.runs.iter().any(|r| r.ok > 0)
}
