//! What this build of the runner can run: each runtime's availability and
//! engine version (the vocabulary itself is lumos-model's).

pub use lumos_model::{Protocol, Runtime};

/// A runtime this build of the runner cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{runtime} is not available: {reason}")]
pub struct NotAvailable {
    pub runtime: Runtime,
    pub reason: &'static str,
}

/// Whether this build of the runner can run `runtime`; if not, why.
pub fn availability(runtime: Runtime) -> Result<(), NotAvailable> {
    match runtime {
        Runtime::WasmedgeInterp | Runtime::WasmedgeAot if !cfg!(feature = "wasmedge") => {
            Err(NotAvailable {
                runtime,
                reason: "lumos-runtimes was built without the `wasmedge` feature \
                         (install WasmEdge with scripts/install-wasmedge and build with --features wasmedge)",
            })
        }
        _ => Ok(()),
    }
}

/// The error a run of an unavailable runtime ends with.
pub fn require(runtime: Runtime) -> crate::Result<()> {
    availability(runtime).map_err(|e| crate::Error::Unavailable {
        runtime,
        reason: e.to_string(),
    })
}

/// The engine version, for the record.
pub fn engine_version(runtime: Runtime) -> Option<&'static str> {
    match runtime {
        Runtime::Native => None,
        Runtime::WasmtimeAot | Runtime::WasmtimeJit => Some(crate::engine::wasmtime::VERSION),
        Runtime::WasmiInterp => Some(crate::engine::wasmi::VERSION),
        Runtime::WasmedgeInterp | Runtime::WasmedgeAot => Some("0.14.1 (wasmedge-sdk 0.14.0)"),
    }
}
