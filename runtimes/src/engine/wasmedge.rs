//! WasmEdge 0.14.1 (placeholder until the wasmedge-sdk route is wired).

use super::{ShimError, ShimOpts};

pub fn run(_opts: &ShimOpts, _aot: bool) -> Result<i32, ShimError> {
    Err(ShimError::Unsupported(
        "the WasmEdge engine is not wired yet".into(),
    ))
}
