//! The matrix of a bench: the request's settings resolved into cells.

use std::time::Duration;

use lumos_build::Workspace;
use lumos_model::{Arrival, ChainData, Mode, Runtime};
use lumos_runtimes::LoadSpec;

use crate::error::bail;
use crate::request::BenchRequest;

/// One cell of the matrix: a function in a runtime on a payload group in a mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub function: String,
    pub runtime: Runtime,
    pub group: u8,
    pub mode: Mode,
    /// Measured with the `--neighbour` busy beside it.
    pub neighbour: bool,
    /// `--node`: the node its instances run on; None: the runner's network.
    pub node: Option<String>,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} g{} {}{}",
            self.function,
            self.runtime,
            self.group,
            self.mode,
            if self.neighbour { " +neighbour" } else { "" }
        )?;
        if let Some(n) = &self.node {
            write!(f, " on {n}")?;
        }
        Ok(())
    }
}

/// A workflow's chain, resolved against the workspace, and its cells.
#[derive(Debug, Clone)]
pub struct WorkflowPlan {
    /// `--workflow NAME`; None for `--chain`.
    pub name: Option<String>,
    /// What its rows' `function` says: the name, else the steps joined by `>`.
    pub label: String,
    /// Function names, in order.
    pub steps: Vec<String>,
    pub chain_data: ChainData,
    pub cells: Vec<WorkflowCell>,
}

/// One workflow row to make: each step's runtime, a payload group (the
/// first step's payload), how the steps' instances start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowCell {
    pub runtimes: Vec<Runtime>,
    pub group: u8,
    /// `cold-cached`, `cold` or `warm`.
    pub start: Mode,
}

impl WorkflowPlan {
    /// The cell as the events show it: the label, the first step's
    /// runtime, mode `workflow`.
    pub fn cell(&self, c: &WorkflowCell) -> Cell {
        Cell {
            function: self.label.clone(),
            runtime: c.runtimes[0],
            group: c.group,
            mode: Mode::Workflow,
            neighbour: false,
            node: None,
        }
    }
}

/// The resolved settings and the cells, in the order they run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub runtimes: Vec<Runtime>,
    pub groups: Vec<u8>,
    pub modes: Vec<Mode>,
    pub repeat: usize,
    pub requests: usize,
    pub warmup: usize,
    /// Warm: how many samples a cell takes, by count and time (`min_runs`
    /// is `repeat`).
    pub sampling: lumos_stats::sampling::Sampling,
    pub load: LoadSpec,
    /// The functions with a load section.
    pub load_functions: Vec<String>,
    /// The matrix of single functions (empty when a workflow is run).
    pub cells: Vec<Cell>,
    /// `--chain` / `--workflow`: the workflow run instead of the matrix.
    pub workflow: Option<WorkflowPlan>,
    /// `--neighbour`: what runs beside every cell whose `neighbour` is set
    /// (with the baseline, each cell comes twice: without, then with it).
    pub neighbour: Option<lumos_model::Neighbour>,
    pub neighbour_baseline: bool,
    /// `--node`: the nodes the cells run on.
    pub nodes: Vec<lumos_model::NodeSpec>,
    /// `--skip`: the (function, runtime) pairs left out of `cells`.
    pub skipped: Vec<lumos_model::Skip>,
}

/// What the request resolves to without looking at the workspace.
struct Settings {
    runtimes: Vec<Runtime>,
    groups: Vec<u8>,
    modes: Vec<Mode>,
    load: LoadSpec,
}

impl Settings {
    fn resolve(req: &BenchRequest) -> crate::Result<Settings> {
        let quick = req.quick;
        let runtimes = dedup(if req.runtimes.is_empty() {
            Runtime::ALL.to_vec()
        } else {
            req.runtimes.clone()
        });
        let mut groups = dedup(if req.groups.is_empty() {
            vec![1]
        } else {
            req.groups.clone()
        });
        if let Some(g) = groups.iter().find(|g| !(1..=3).contains(*g)) {
            bail!("--group: unknown payload group `{g}` (groups are 1, 2 and 3)");
        }
        groups.sort_unstable();
        let workflow = req.workflow.asked();
        if let Some(ep) = &req.endpoint {
            check_endpoint(req, ep)?;
        }
        let mut modes = if let (true, Some(ep)) = (req.modes.is_empty(), &req.endpoint) {
            // A deployed service: warm, and cold when told how to make it so.
            let mut m = vec![Mode::Warm];
            if ep.cold_command.is_some() || ep.cold_wait.is_some() {
                m.push(Mode::Cold);
            }
            if req.load.asked() {
                m.push(Mode::Load);
            }
            m
        } else if req.modes.is_empty() {
            // The node that holds the image (the paper's setting) and the
            // first pull; `cold-node` (root only) only when asked for.
            let mut m = vec![Mode::ColdCached, Mode::Cold, Mode::Warm];
            if (req.load.asked() || quick) && !workflow {
                m.push(Mode::Load);
            }
            m
        } else {
            dedup(req.modes.clone())
        };
        modes.sort_unstable();
        if modes.contains(&Mode::Workflow) {
            bail!(
                "--mode workflow: workflow rows come from --chain A,B or --workflow NAME; \
                 their --mode says how the steps start: cold-cached, cold or warm"
            );
        }
        if workflow {
            if !req.skip.is_empty() {
                bail!(
                    "--skip: not for a workflow (--chain, --workflow); choose its steps' \
                     runtimes with --placement"
                );
            }
            if let Some(m) = modes
                .iter()
                .find(|m| !matches!(m, Mode::ColdCached | Mode::Cold | Mode::Warm))
            {
                bail!("--mode {m}: a workflow's steps start cold-cached, cold or warm");
            }
            if req.load.asked() {
                bail!("--concurrency/--load: not for a workflow (--chain, --workflow)");
            }
            if let Some(n) = &req.neighbour {
                bail!(
                    "--neighbour {}: not for a workflow (--chain, --workflow); bench single functions beside it",
                    n.neighbour
                );
            }
        }
        check_workflow_flags(req)?;
        check_nodes(req)?;
        if req.baas_link.is_some() {
            if let Some(why) = lumos_runtimes::link::refusal() {
                bail!("{why}");
            }
        }
        if modes.contains(&Mode::ColdNode) {
            if let Some(why) = lumos_runtimes::node::cold_node_refusal() {
                bail!("{why}");
            }
        }
        let arrival = req.load.arrival.unwrap_or(Arrival::Closed);
        let concurrency = if !req.load.concurrency.is_empty() {
            req.load.concurrency.clone()
        } else if quick {
            vec![1, 10, 50]
        } else {
            vec![1, 10, 50, 100, 200]
        };
        let load = LoadSpec {
            concurrency,
            arrival,
            rate: req.load.rate,
            requests: req.load.requests,
            duration: req
                .load
                .duration
                .unwrap_or(Duration::from_secs(if quick { 3 } else { 10 })),
            ..Default::default()
        };
        load.check()
            .map_err(|e| crate::Error::Usage(format!("load settings: {e}")))?;
        Ok(Settings {
            runtimes,
            groups,
            modes,
            load,
        })
    }
}

/// Endpoint mode's refusals: the modes and flags that need instances the
/// runner starts, and a bad `--endpoint` URL, namespace or domain.
fn check_endpoint(req: &BenchRequest, ep: &crate::EndpointRequest) -> crate::Result<()> {
    let flag = match &ep.target {
        crate::EndpointTarget::Ingress { .. } => "--endpoint",
        crate::EndpointTarget::File(_) => "--endpoints",
    };
    if let Some(m) = req
        .modes
        .iter()
        .find(|m| !matches!(m, Mode::Cold | Mode::Warm | Mode::Load))
    {
        bail!(
            "--mode {m}: not with {flag}: a deployed service is measured warm, cold or under load \
             (cold-cached and cold-node need the node itself)"
        );
    }
    let refused = [
        (req.workflow.asked(), "--chain/--workflow"),
        (req.neighbour.is_some(), "--neighbour"),
        (
            !req.nodes.is_empty() || !req.place.is_empty(),
            "--node/--place",
        ),
        (req.sandbox.is_some(), "--sandbox"),
        (req.baas.is_some(), "--baas"),
        (req.baas_link.is_some(), "--baas-bandwidth/--baas-delay"),
        (
            req.device.is_some() || req.cpus.is_some(),
            "--device/--cpus",
        ),
    ];
    if let Some((_, what)) = refused.iter().find(|(on, _)| *on) {
        bail!("{what}: not with {flag}: the deployed services run where they are deployed, as deployed");
    }
    if let crate::EndpointTarget::Ingress {
        url,
        namespace,
        domain,
    } = &ep.target
    {
        lumos_runtimes::endpoint::Endpoint::new(url, None)
            .map_err(|e| crate::Error::Usage(format!("--endpoint: {e}")))?;
        lumos_build::deploy::names::check_label(namespace)
            .map_err(|e| crate::Error::Usage(format!("--endpoint-namespace: {e}")))?;
        if domain.is_empty()
            || domain.starts_with('.')
            || domain.ends_with('.')
            || !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            bail!("--endpoint-domain `{domain}`: not a DNS domain (letters, digits, `-` and `.`)");
        }
    }
    Ok(())
}

/// The workflow flags that can be refused without the workspace.
fn check_workflow_flags(req: &BenchRequest) -> crate::Result<()> {
    let w = &req.workflow;
    if !w.chain.is_empty() && w.name.is_some() {
        bail!("--chain and --workflow: give one of them");
    }
    if !w.asked() {
        if !w.placement.is_empty() {
            bail!("--placement: only with --chain A,B or --workflow NAME");
        }
        if w.chain_data.is_some() {
            bail!("--chain-data: only with --chain A,B or --workflow NAME");
        }
        return Ok(());
    }
    if !w.chain.is_empty() && w.chain.len() < 2 {
        bail!(
            "--chain: a chain needs at least two steps, got {} (`{}`)",
            w.chain.len(),
            w.chain.join(",")
        );
    }
    if let Some(s) = w.chain.iter().find(|s| s.is_empty()) {
        bail!("--chain: an empty step name in `{}`{s}", w.chain.join(","));
    }
    for (i, (f, _)) in w.placement.iter().enumerate() {
        if w.placement[..i].iter().any(|(g, _)| g == f) {
            bail!("--placement: `{f}` is placed twice");
        }
    }
    Ok(())
}

/// The workflow of `req` resolved against `ws`: its steps (each a selected
/// function), its placement, its cells.
fn workflow_plan(
    req: &BenchRequest,
    ws: &Workspace,
    runtimes: &[Runtime],
    groups: &[u8],
    modes: &[Mode],
) -> crate::Result<Option<WorkflowPlan>> {
    let w = &req.workflow;
    let (name, steps, source) = match &w.name {
        Some(name) => {
            let Some(steps) = ws.workflows.get(name) else {
                let known: Vec<&str> = ws.workflows.keys().map(String::as_str).collect();
                bail!(
                    "--workflow `{name}`: no [workspace.metadata.lumos.workflows.{name}] in {} ({})",
                    ws.root.join("Cargo.toml").display(),
                    if known.is_empty() {
                        "it names no workflow".to_string()
                    } else {
                        format!("workflows: {}", known.join(", "))
                    }
                );
            };
            (
                Some(name.clone()),
                steps.clone(),
                format!("[workspace.metadata.lumos.workflows.{name}] steps"),
            )
        }
        None if !w.chain.is_empty() => (None, w.chain.clone(), "--chain".to_string()),
        None => return Ok(None),
    };
    for s in &steps {
        if ws.function(s).is_none() {
            bail!(
                "{source}: `{s}` is not {} (functions: {})",
                if req.cargo.packages.is_empty() {
                    "a function of the workspace"
                } else {
                    "one of the functions selected with -p"
                },
                ws.names().join(", ")
            );
        }
    }
    for (f, _) in &w.placement {
        if !steps.contains(f) {
            bail!(
                "--placement: `{f}` is not a step of the chain (steps: {})",
                steps.join(", ")
            );
        }
    }
    let placed = |s: &str| w.placement.iter().find(|(f, _)| f == s).map(|(_, r)| *r);
    // Steps without a placement run on each selected runtime in turn; a
    // chain placed whole runs once.
    let free = steps.iter().any(|s| placed(s).is_none());
    let turns: Vec<Option<Runtime>> = if free {
        runtimes.iter().copied().map(Some).collect()
    } else {
        vec![None]
    };
    let mut cells = vec![];
    for &group in groups {
        for turn in &turns {
            let runtimes: Vec<Runtime> = steps
                .iter()
                .map(|s| {
                    placed(s)
                        .or(*turn)
                        .expect("a step is placed or runs in turn")
                })
                .collect();
            for &start in modes {
                cells.push(WorkflowCell {
                    runtimes: runtimes.clone(),
                    group,
                    start,
                });
            }
        }
    }
    let label = name.clone().unwrap_or_else(|| steps.join(">"));
    Ok(Some(WorkflowPlan {
        name,
        label,
        steps,
        chain_data: w.chain_data.unwrap_or_default(),
        cells,
    }))
}

/// `--node` and `--place`, as far as they can be checked without the
/// workspace: unique node names, every `--place` naming a node given once,
/// root (the namespaces, veth pairs and qdiscs need it).
fn check_nodes(req: &BenchRequest) -> crate::Result<()> {
    for (i, n) in req.nodes.iter().enumerate() {
        if req.nodes[..i].iter().any(|m| m.name == n.name) {
            bail!(
                "--node {n}: node `{}` is given twice (node names are unique)",
                n.name
            );
        }
    }
    for (i, (f, node)) in req.place.iter().enumerate() {
        if req.nodes.is_empty() {
            bail!("--place {f}={node}: no nodes to place on (give --node NAME[:RATE])");
        }
        if !req.nodes.iter().any(|n| &n.name == node) {
            bail!(
                "--place {f}={node}: unknown node `{node}` (the nodes are {})",
                req.nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if req.place[..i].iter().any(|(g, _)| g == f) {
            bail!("--place {f}={node}: function `{f}` is placed twice");
        }
    }
    if !req.nodes.is_empty() {
        if req.workflow.asked() {
            bail!(
                "--node: not for a workflow (--chain, --workflow); bench single functions on nodes"
            );
        }
        if let Some(why) = lumos_runtimes::netns::refusal("--node") {
            bail!("{why}");
        }
    }
    Ok(())
}

/// Refuses settings that cannot work, before the workspace is read or
/// anything is built (the same checks [`Plan::new`] makes).
pub fn check(req: &BenchRequest) -> crate::Result<()> {
    Settings::resolve(req)?;
    sampling(req, 1).map(|_| ())
}

/// The warm cells' sample-size rule: at least `--min-requests` (10) and
/// `--min-time` (3 s; `--quick` 0), no new run after `--max-time` (120 s).
fn sampling(req: &BenchRequest, repeat: usize) -> crate::Result<lumos_stats::sampling::Sampling> {
    let d = lumos_stats::sampling::Sampling::default();
    let s = lumos_stats::sampling::Sampling {
        min_runs: repeat,
        min_requests: req.min_requests.unwrap_or(d.min_requests),
        min_time: req.min_time.unwrap_or(if req.quick {
            Duration::ZERO
        } else {
            d.min_time
        }),
        max_time: req.max_time.unwrap_or(d.max_time),
    };
    if s.min_requests == 0 {
        bail!("--min-requests: must be at least 1");
    }
    if s.max_time < s.min_time {
        bail!(
            "--max-time: {} s is below --min-time {} s",
            s.max_time.as_secs_f64(),
            s.min_time.as_secs_f64()
        );
    }
    Ok(s)
}

impl Plan {
    /// Resolves `req` against the functions of `ws`: explicit settings, else
    /// `--quick`'s, else the defaults. Everything that can be refused is
    /// refused here, before anything is built.
    pub fn new(req: &BenchRequest, ws: &Workspace) -> crate::Result<Plan> {
        if ws.functions.is_empty() {
            bail!(
                "no function in the workspace at {} (a function is a bin package with a [package.metadata.lumos] table)",
                ws.root.display()
            );
        }
        let quick = req.quick;
        let Settings {
            runtimes,
            groups,
            modes,
            load,
        } = Settings::resolve(req)?;
        for f in &req.load.functions {
            if ws.function(f).is_none() {
                bail!("--load-function: `{f}` is not one of the functions benched");
            }
        }
        for (f, node) in &req.place {
            if ws.function(f).is_none() {
                bail!(
                    "--place {f}={node}: `{f}` is not one of the functions benched ({})",
                    ws.names().join(", ")
                );
            }
        }
        for skip in &req.skip {
            if ws.function(&skip.function).is_none() {
                bail!(
                    "--skip {skip}: `{}` is not one of the functions benched ({})",
                    skip.function,
                    ws.names().join(", ")
                );
            }
        }
        let skipped = dedup(req.skip.clone());
        let load_functions = if req.load.functions.is_empty() {
            ws.names()
        } else {
            req.load.functions.clone()
        };
        let repeat = req.repeat.unwrap_or(3);
        if repeat == 0 {
            bail!("--repeat: must be at least 1");
        }
        let requests = req.requests.unwrap_or(if quick { 20 } else { 50 });
        if requests == 0 {
            bail!("--requests: must be at least 1");
        }
        let sampling = sampling(req, repeat)?;
        let workflow = workflow_plan(req, ws, &runtimes, &groups, &modes)?;
        // A workflow needs (builds, checks) the runtimes its steps run on.
        let runtimes = match &workflow {
            Some(w) => Runtime::ALL
                .iter()
                .copied()
                .filter(|r| w.cells.iter().any(|c| c.runtimes.contains(r)))
                .collect(),
            None => runtimes,
        };
        let mut cells = Vec::new();
        // Twins (metadata `name`) are one function: one set of cells.
        let singles = if workflow.is_some() {
            vec![]
        } else {
            ws.names()
        };
        for name in singles {
            for &group in &groups {
                for &runtime in &runtimes {
                    if skipped
                        .iter()
                        .any(|k| k.function == name && k.runtime == runtime)
                    {
                        continue;
                    }
                    for &mode in &modes {
                        if mode == Mode::Load && !load_functions.contains(&name) {
                            continue;
                        }
                        // With a neighbour: the cell without it (the
                        // baseline), then with it, one after the other.
                        let with = match &req.neighbour {
                            None => vec![false],
                            Some(n) if n.baseline => vec![false, true],
                            Some(_) => vec![true],
                        };
                        // Pinned to its node, else on each node in turn.
                        let nodes: Vec<Option<String>> =
                            match req.place.iter().find(|(f, _)| *f == name) {
                                Some((_, node)) => vec![Some(node.clone())],
                                None if req.nodes.is_empty() => vec![None],
                                None => req.nodes.iter().map(|n| Some(n.name.clone())).collect(),
                            };
                        for node in nodes {
                            for &neighbour in &with {
                                cells.push(Cell {
                                    function: name.clone(),
                                    runtime,
                                    group,
                                    mode,
                                    neighbour,
                                    node: node.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }
        // A runtime every function skips is not made ready (--skip is
        // refused with a workflow).
        let mut runtimes = runtimes;
        if !skipped.is_empty() {
            runtimes.retain(|r| cells.iter().any(|c| c.runtime == *r));
        }
        Ok(Plan {
            runtimes,
            groups,
            modes,
            repeat,
            requests,
            warmup: req.warmup.unwrap_or(if quick { 3 } else { 5 }),
            sampling,
            load,
            load_functions,
            cells,
            workflow,
            neighbour: req.neighbour.as_ref().map(|n| n.neighbour.clone()),
            neighbour_baseline: req.neighbour.as_ref().is_some_and(|n| n.baseline),
            nodes: req.nodes.clone(),
            skipped,
        })
    }

    /// The runtimes to make ready: the cells' and the neighbour's.
    pub fn build_runtimes(&self) -> Vec<Runtime> {
        let mut r = self.runtimes.clone();
        if let Some(n) = &self.neighbour {
            if !r.contains(&n.runtime) {
                r.push(n.runtime);
            }
        }
        r
    }

    /// Units of work of a cell: one per repeat, one per load level.
    pub fn steps(&self, cell: &Cell) -> u64 {
        match cell.mode {
            Mode::Load => self.load.concurrency.len() as u64,
            _ => self.repeat as u64,
        }
    }

    /// Units of work of the whole plan (a workflow cell: one per repeat).
    pub fn total_steps(&self) -> u64 {
        let workflow = self
            .workflow
            .as_ref()
            .map_or(0, |w| (w.cells.len() * self.repeat) as u64);
        self.cells.iter().map(|c| self.steps(c)).sum::<u64>() + workflow
    }
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_and_the_default_run_cold_cached_and_cold() {
        for quick in [false, true] {
            let req = BenchRequest {
                quick,
                ..Default::default()
            };
            let s = Settings::resolve(&req).unwrap();
            assert!(
                s.modes
                    .starts_with(&[Mode::ColdCached, Mode::Cold, Mode::Warm]),
                "quick {quick}: {:?}",
                s.modes
            );
            assert!(!s.modes.contains(&Mode::ColdNode));
        }
        // Any combination, in the order they run.
        let req = BenchRequest {
            modes: vec![Mode::Warm, Mode::Cold, Mode::ColdCached, Mode::Cold],
            ..Default::default()
        };
        let s = Settings::resolve(&req).unwrap();
        assert_eq!(s.modes, [Mode::ColdCached, Mode::Cold, Mode::Warm]);
    }

    #[test]
    fn workflow_flags_are_refused_before_the_workspace_is_read() {
        let wf = |chain: &[&str], placement: Vec<(String, Runtime)>| BenchRequest {
            workflow: crate::WorkflowRequest {
                chain: chain.iter().map(|s| s.to_string()).collect(),
                placement,
                ..Default::default()
            },
            ..Default::default()
        };
        let e = |r: BenchRequest| check(&r).unwrap_err().to_string();
        assert!(e(wf(&["a"], vec![])).contains("--chain: a chain needs at least two steps, got 1"));
        assert!(e(wf(&["a", ""], vec![])).contains("--chain: an empty step name"));
        let twice = vec![
            ("a".into(), Runtime::Native),
            ("a".into(), Runtime::WasmtimeAot),
        ];
        assert!(e(wf(&["a", "b"], twice)).contains("--placement: `a` is placed twice"));
        assert!(e(wf(&[], vec![("a".into(), Runtime::Native)])).contains("--placement: only with"));
        let mut load = wf(&["a", "b"], vec![]);
        load.modes = vec![Mode::Warm, Mode::Load];
        assert!(e(load).contains("--mode load: a workflow's steps start"));
        let asked = BenchRequest {
            modes: vec![Mode::Workflow],
            ..Default::default()
        };
        assert!(e(asked).contains("--mode workflow: workflow rows come from --chain"));
        // A chain's default modes: the three starts, no load even with --quick.
        let mut quick = wf(&["a", "b"], vec![]);
        quick.quick = true;
        let s = Settings::resolve(&quick).unwrap();
        assert_eq!(s.modes, [Mode::ColdCached, Mode::Cold, Mode::Warm]);
    }

    #[test]
    fn a_neighbour_is_refused_beside_a_workflow() {
        let req = BenchRequest {
            workflow: crate::WorkflowRequest {
                chain: vec!["a".into(), "b".into()],
                ..Default::default()
            },
            neighbour: Some(crate::NeighbourRequest {
                neighbour: "fibonacci:5".parse().unwrap(),
                baseline: true,
            }),
            ..Default::default()
        };
        let e = check(&req).unwrap_err().to_string();
        assert!(
            e.contains("--neighbour fibonacci@native:5: not for a workflow"),
            "{e}"
        );
    }

    #[test]
    fn endpoint_modes_and_refusals() {
        let ep = |modes: Vec<Mode>, url: &str| BenchRequest {
            modes,
            endpoint: Some(crate::EndpointRequest {
                target: crate::EndpointTarget::Ingress {
                    url: url.into(),
                    namespace: "default".into(),
                    domain: "example.com".into(),
                },
                cold_command: None,
                cold_command_timeout: Duration::from_secs(1),
                cold_wait: None,
            }),
            ..Default::default()
        };
        let url = "http://127.0.0.1:8080/";
        // Warm by default; cold once told how to reach zero; load once asked.
        assert_eq!(
            Settings::resolve(&ep(vec![], url)).unwrap().modes,
            [Mode::Warm]
        );
        let mut cold = ep(vec![], url);
        cold.endpoint.as_mut().unwrap().cold_command = Some("true".into());
        cold.load.concurrency = vec![2];
        assert_eq!(
            Settings::resolve(&cold).unwrap().modes,
            [Mode::Cold, Mode::Warm, Mode::Load]
        );
        let e = |r: BenchRequest| check(&r).unwrap_err().to_string();
        assert!(
            e(ep(vec![Mode::ColdCached], url)).contains("--mode cold-cached: not with --endpoint")
        );
        let mut sandboxed = ep(vec![], url);
        sandboxed.sandbox = Some(lumos_model::Sandbox::Containerd);
        assert!(e(sandboxed).contains("--sandbox: not with --endpoint"));
        assert!(e(ep(vec![], "https://10.0.0.1/"))
            .contains("--endpoint: endpoint `https://10.0.0.1/`: https is not supported"));
        let mut ns = ep(vec![], url);
        if let Some(crate::EndpointRequest {
            target: crate::EndpointTarget::Ingress { namespace, .. },
            ..
        }) = ns.endpoint.as_mut()
        {
            *namespace = "Bad_NS".into();
        }
        assert!(e(ns).contains("--endpoint-namespace: `Bad_NS` is not a valid Kubernetes name"));
    }

    #[test]
    fn node_flags_are_refused_before_the_workspace_is_read() {
        let req = |nodes: &[&str], place: &[(&str, &str)]| BenchRequest {
            nodes: nodes.iter().map(|n| n.parse().unwrap()).collect(),
            place: place
                .iter()
                .map(|(f, n)| (f.to_string(), n.to_string()))
                .collect(),
            ..Default::default()
        };
        let e = |r: BenchRequest| check(&r).unwrap_err().to_string();
        assert!(e(req(&["a", "a:1mbit"], &[])).contains("node `a` is given twice"));
        assert!(e(req(&["a"], &[("f", "b")]))
            .contains("--place f=b: unknown node `b` (the nodes are a)"));
        assert!(e(req(&[], &[("f", "b")])).contains("no nodes to place on"));
        assert!(e(req(&["a", "b"], &[("f", "a"), ("f", "b")])).contains("`f` is placed twice"));
        let wf = BenchRequest {
            workflow: crate::WorkflowRequest {
                chain: vec!["x".into(), "y".into()],
                ..Default::default()
            },
            ..req(&["a"], &[])
        };
        assert!(e(wf).contains("--node: not for a workflow"));
        let wf = BenchRequest {
            workflow: crate::WorkflowRequest {
                chain: vec!["x".into(), "y".into()],
                ..Default::default()
            },
            skip: vec!["x@native".parse().unwrap()],
            ..Default::default()
        };
        assert!(e(wf).contains("--skip: not for a workflow"));
    }

    #[test]
    fn sample_size_defaults_and_refusals() {
        let s = sampling(&BenchRequest::default(), 3).unwrap();
        assert_eq!(
            (s.min_runs, s.min_requests, s.min_time, s.max_time),
            (3, 10, Duration::from_secs(3), Duration::from_secs(120))
        );
        let quick = BenchRequest {
            quick: true,
            ..Default::default()
        };
        assert_eq!(sampling(&quick, 1).unwrap().min_time, Duration::ZERO);
        let e = check(&BenchRequest {
            min_time: Some(Duration::from_secs(5)),
            max_time: Some(Duration::from_secs(1)),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("--max-time: 1 s is below --min-time 5 s"), "{e}");
        let e = check(&BenchRequest {
            min_requests: Some(0),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("--min-requests"), "{e}");
    }
}
