//! `<target-dir>/lumos/build.json`: what `cargo lumos build` produced, read
//! by `image`, `push` and `bench`.

use std::path::{Path, PathBuf};

use crate::{Protocol, Variant};

/// The whole file: one entry per function that was built.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BuildManifest {
    #[serde(default = "crate::bench::schema_version")]
    pub schema_version: u32,
    pub functions: Vec<FunctionArtifacts>,
}

/// One function (a package with `[package.metadata.lumos]`) and its artifacts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FunctionArtifacts {
    /// The function's name: the package's binary name, e.g. `fibonacci`.
    pub name: String,
    /// The cargo package it comes from.
    pub package: String,
    pub protocol: Protocol,
    /// The base for native images: `scratch`, `debian-slim` or an image reference.
    #[serde(default = "default_base")]
    pub base: String,
    pub artifacts: Vec<BuildArtifact>,
}

fn default_base() -> String {
    "scratch".to_string()
}

/// One built file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BuildArtifact {
    pub variant: Variant,
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

    /// The entry of function `name`, if it was built.
    pub fn function(&self, name: &str) -> Option<&FunctionArtifacts> {
        self.functions.iter().find(|f| f.name == name)
    }
}

impl FunctionArtifacts {
    /// The artifact of `variant`, if it was built.
    pub fn artifact(&self, variant: Variant) -> Option<&BuildArtifact> {
        self.artifacts.iter().find(|a| a.variant == variant)
    }
}
