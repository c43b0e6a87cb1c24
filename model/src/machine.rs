//! The machine and the versions every result records.

/// The machine a result was measured on.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    /// Logical CPUs the measuring process may run on.
    pub cores: usize,
    /// `sysname release version machine` from uname(2).
    pub kernel: String,
    pub arch: String,
    pub memory_bytes: u64,
}

/// Versions of everything that took part.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Versions {
    pub lumos_runner: String,
    pub wasmtime: String,
    pub wasmi: String,
    /// None when WasmEdge is not available.
    pub wasmedge: Option<String>,
    pub runc: Option<String>,
    pub crun: Option<String>,
    pub rustc: Option<String>,
    /// `containerd --version` (the `--sandbox containerd` node's); None when
    /// not installed.
    #[serde(default)]
    pub containerd: Option<String>,
    /// The first line of `crun --version` of crun built with WasmEdge (what
    /// containerd runs wasm images with); None when it is not installed.
    #[serde(default)]
    pub crun_wasmedge: Option<String>,
}
