//! The bench engine of `cargo lumos bench`, in three steps:
//!
//! 1. [`plan`]: the request's settings resolved (`--quick`, defaults) into the
//!    cells of the matrix functions x runtimes x payload groups x modes;
//! 2. [`prepare`]: what the cells need made ready: the functions built and
//!    packed (lumos-build), a registry (the one given, or a throwaway
//!    `docker-registry` from lumos-services), the images pushed, the
//!    payloads loaded ([`payloads`]);
//! 3. [`execute`]: every cell run with lumos-runtimes' runner, its repeats
//!    folded into one row ([`fold`]); a workflow's cells chained step by
//!    step ([`workflow`]); with `--neighbour`, another function's instance
//!    kept busy beside each cell ([`neighbour`]).
//!
//! [`run`] does all three and returns a [`lumos_model::BenchOutput`]; what
//! happens on the way is told as [`Event`]s, which a front end shows (the
//! terminal table, the progress bar, JSON, CSV and HTML are its consumers).

pub mod device;
pub mod endpoint;
mod error;
pub mod event;
pub mod execute;
pub mod fold;
pub mod neighbour;
pub mod payloads;
pub mod plan;
pub mod prepare;
pub mod request;
pub mod workflow;

pub use error::{Error, Result};
pub use event::Event;
pub use plan::{Cell, Plan};
pub use request::{
    BenchRequest, EndpointRequest, EndpointTarget, LoadRequest, NeighbourRequest, WorkflowRequest,
};

use lumos_model::BenchOutput;

/// Plans, prepares and executes a bench; returns every row.
pub fn run(req: &BenchRequest, on: &mut dyn FnMut(Event)) -> Result<BenchOutput> {
    let started = std::time::Instant::now();
    let mut ws = lumos_build::Workspace::load(&req.cargo)?;
    let plan = plan::Plan::new(req, &ws)?;
    if let Some(ep) = &req.endpoint {
        // Deployed services: nothing to build, pack, push or start.
        let out = endpoint::execute(req, ep, &ws, &plan, on)?;
        on(Event::Finished {
            rows: out.runs.len(),
            elapsed: started.elapsed(),
        });
        return Ok(out);
    }
    if let Some(w) = &plan.workflow {
        // Only the chain's functions are built, pushed and loaded.
        ws.functions.retain(|f| w.steps.contains(&f.name));
    }
    if let Some(n) = &plan.neighbour {
        // Built, packed, pushed and given payloads with the rest.
        neighbour::include(&mut ws, n)?;
    }
    let prepared = prepare::prepare(req, &ws, &plan, on)?;
    let out = execute::execute(req, &ws, &plan, &prepared, on)?;
    on(Event::Finished {
        rows: out.runs.len(),
        elapsed: started.elapsed(),
    });
    Ok(out)
}
