//! The wasm shim, without an engine: what a runner hands a shim process
//! ([`ShimOpts`], written as `--spec JSON` by [`shim_args`], read back by
//! [`parse_shim_args`]), how a shim starts ([`run_shim`]: the module and
//! preopened directories resolved inside the image's rootfs by [`confine`],
//! errors on stderr, [`TRAP_EXIT`]) and the names of the shim executables.
//!
//! Each engine family has its own shim executable linking only that engine,
//! so an instance maps the engine it runs and nothing else:
//! `lumos-shim-wasmtime` (shim/wasmtime: wasmtime-aot, wasmtime-jit and
//! wasi:http components), `lumos-shim-wasmi` (shim/wasmi) and
//! `lumos-shim-wasmedge` (shim/wasmedge, the one that maps libwasmedge and
//! libLLVM). A runner finds them beside itself or on `PATH`.

pub mod confine;
mod entry;
mod spec;

pub use entry::{run_shim, shim_main, ShimError, Trace, TRAP_EXIT};
pub use spec::{parse_shim_args, shim_args, ShimArgsError, ShimOpts, WasiPolicy};

/// The executable of the wasmtime shim (shim/wasmtime).
pub const WASMTIME_SHIM: &str = "lumos-shim-wasmtime";

/// The executable of the wasmi shim (shim/wasmi).
pub const WASMI_SHIM: &str = "lumos-shim-wasmi";

/// The executable of the WasmEdge shim (shim/wasmedge).
pub const WASMEDGE_SHIM: &str = "lumos-shim-wasmedge";

/// The import module of WASI preview 1.
pub const WASI_P1_MODULE: &str = "wasi_snapshot_preview1";

/// WasmEdge's socket-extension calls that WASI p1 lacks, as lumos-sdk's
/// HTTP mode on wasm32-wasip1 imports them. The wasmtime and wasmi shims
/// define those a module imports as functions that trap when called, so a
/// module built with the SDK instantiates there too: it calls them only when
/// serving HTTP (`PORT` set), which only the WasmEdge runtimes are asked to do.
pub const WASMEDGE_SOCKET_IMPORTS: &[&str] = &[
    "sock_open_v2",
    "sock_bind_v2",
    "sock_listen_v2",
    "sock_accept_v2",
    "sock_connect_v2",
];

/// What a stubbed WasmEdge socket call says when a guest calls it.
pub fn wasmedge_socket_trap(name: &str, engine: &str) -> String {
    format!(
        "{WASI_P1_MODULE}::{name} is WasmEdge's socket extension, which {engine} does not provide: \
         serve HTTP from a wasm32-wasip1 module with wasmedge-interp or wasmedge-aot"
    )
}

/// The wasmi version the wasmi shim links (pinned `=2.0.0` in the
/// workspace's Cargo.toml), for the record of a run.
pub const WASMI_VERSION: &str = "2.0.0";
