//! The matrix of a bench: the request's settings resolved into cells.

use std::time::Duration;

use lumos_build::Workspace;
use lumos_model::{Arrival, Mode, Runtime};
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
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} g{} {}",
            self.function, self.runtime, self.group, self.mode
        )
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
    pub load: LoadSpec,
    /// The functions with a load section.
    pub load_functions: Vec<String>,
    pub cells: Vec<Cell>,
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
        let mut modes = if req.modes.is_empty() {
            // The node that holds the image (the paper's setting) and the
            // first pull; `cold-node` (root only) only when asked for.
            let mut m = vec![Mode::ColdCached, Mode::Cold, Mode::Warm];
            if req.load.asked() || quick {
                m.push(Mode::Load);
            }
            m
        } else {
            dedup(req.modes.clone())
        };
        modes.sort_unstable();
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

/// Refuses settings that cannot work, before the workspace is read or
/// anything is built (the same checks [`Plan::new`] makes).
pub fn check(req: &BenchRequest) -> crate::Result<()> {
    Settings::resolve(req).map(|_| ())
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
        let load_functions = if req.load.functions.is_empty() {
            ws.functions.iter().map(|f| f.name.clone()).collect()
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
        let mut cells = Vec::new();
        for f in &ws.functions {
            for &group in &groups {
                for &runtime in &runtimes {
                    for &mode in &modes {
                        if mode == Mode::Load && !load_functions.contains(&f.name) {
                            continue;
                        }
                        cells.push(Cell {
                            function: f.name.clone(),
                            runtime,
                            group,
                            mode,
                        });
                    }
                }
            }
        }
        Ok(Plan {
            runtimes,
            groups,
            modes,
            repeat,
            requests,
            warmup: req.warmup.unwrap_or(if quick { 3 } else { 5 }),
            load,
            load_functions,
            cells,
        })
    }

    /// Units of work of a cell: one per repeat, one per load level.
    pub fn steps(&self, cell: &Cell) -> u64 {
        match cell.mode {
            Mode::Load => self.load.concurrency.len() as u64,
            _ => self.repeat as u64,
        }
    }

    /// Units of work of the whole plan.
    pub fn total_steps(&self) -> u64 {
        self.cells.iter().map(|c| self.steps(c)).sum()
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
}
