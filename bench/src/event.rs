//! What a bench tells while it runs; a front end shows it (progress bar, log
//! lines) and the result is returned at the end.

use std::time::Duration;

use lumos_build::compile::BuildEvent;
use lumos_model::{RunRow, Runtime};

use crate::plan::Cell;

/// One thing that happened.
#[derive(Debug, Clone)]
pub enum Event {
    /// The build step said something.
    Build(BuildEvent),
    /// Building starts for `functions` functions.
    Building { functions: usize },
    /// The images are packed into the layout.
    Packed { images: usize, elapsed: Duration },
    /// A throwaway registry is up.
    Registry { addr: String, pid: u32 },
    /// The images are pushed.
    Pushed {
        images: usize,
        registry: String,
        elapsed: Duration,
    },
    /// A runtime cannot run here (said once).
    Unavailable { runtime: Runtime, why: String },
    /// A function cannot run on a runtime by its nature (a wasi:http
    /// component off wasmtime): its cells are skipped (said once per pair).
    Skipped {
        function: String,
        runtime: Runtime,
        why: String,
    },
    /// A function has no payloads: it gets an empty request.
    NoPayloads { function: String },
    /// The matrix is planned: `steps` units of work (a repeat, a load level).
    Planned { cells: usize, steps: u64 },
    /// A cell starts.
    CellStarted { cell: Cell },
    /// `n` units of work of the running cell are done.
    Step { n: u64 },
    /// A cell ended with its row.
    CellFinished { cell: Cell, row: Box<RunRow> },
    /// The whole bench ended.
    Finished { rows: usize, elapsed: Duration },
}
