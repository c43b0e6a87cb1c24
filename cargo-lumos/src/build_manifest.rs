//! `<target-dir>/lumos/build.json`: what `cargo lumos build` produced.
//!
//! Written atomically (temp file, then rename) after every build; read by
//! `image`, `push` and `bench`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole file: one entry per function that was built.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BuildManifest {
    pub functions: Vec<FunctionArtifacts>,
}

/// One function (a package with `[package.metadata.lumos]`) and its artifacts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionArtifacts {
    /// The function's name: the package's binary name, e.g. `fibonacci`.
    pub name: String,
    /// The cargo package it comes from.
    pub package: String,
    /// `lumos`, `stdio` or `http`.
    pub protocol: String,
    /// The base for native images: `scratch`, `debian-slim` or an image reference.
    #[serde(default = "default_base")]
    pub base: String,
    pub artifacts: Vec<Artifact>,
}

fn default_base() -> String {
    "scratch".to_string()
}

/// One built file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Artifact {
    /// `native-x86_64`, `native-aarch64`, `wasm`, `aot-wasmtime-x86_64`,
    /// `aot-wasmtime-aarch64`, `aot-wasmedge-x86_64` or `aot-wasmedge-aarch64`.
    pub variant: String,
    /// Absolute path of the artifact.
    pub path: PathBuf,
    pub bytes: u64,
    /// Lower-case hex sha256 of the file's bytes.
    pub sha256: String,
    /// For AoT variants: the engine and version the native code is for,
    /// e.g. `wasmedge-0.14.1` or `wasmtime-48.0.8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

impl BuildManifest {
    /// Where the manifest lives for a target dir.
    pub fn path_in(target_dir: &Path) -> PathBuf {
        target_dir.join("lumos").join("build.json")
    }

    /// Reads the manifest; a clear error when it is missing or unreadable.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("{}: {e} (run `cargo lumos build` first)", path.display())
        })?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not a valid build manifest: {e}", path.display()))
    }
}
