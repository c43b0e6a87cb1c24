//! The wasm shim, without an engine: what a runner hands a shim process
//! ([`ShimOpts`], written as `--spec JSON` by [`shim_args`], read back by
//! [`parse_shim_args`]), how a shim starts ([`run_shim`]: the module and
//! preopened directories resolved inside the image's rootfs by [`confine`],
//! errors on stderr, [`TRAP_EXIT`]) and the names of the shim executables.
//!
//! Each engine family has its own shim executable linking only that engine,
//! so an instance maps the engine it runs and nothing else: wasmtime and
//! wasmi run in the runner's own executable (`lumos-runner shim`,
//! `cargo-lumos shim`; both engines are static Rust code), WasmEdge in
//! `lumos-shim-wasmedge` (shim/wasmedge), the one that maps libwasmedge and
//! libLLVM.

pub mod confine;
mod entry;
mod spec;

pub use entry::{run_shim, ShimError, Trace, TRAP_EXIT};
pub use spec::{parse_shim_args, shim_args, ShimArgsError, ShimOpts, WasiPolicy};

/// The executable of the WasmEdge shim (shim/wasmedge), found beside the
/// runner, on `$LUMOS_SHIM_WASMEDGE` or on `PATH`.
pub const WASMEDGE_SHIM: &str = "lumos-shim-wasmedge";
