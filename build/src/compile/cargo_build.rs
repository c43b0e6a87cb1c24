//! One `cargo build` for one target and profile, over a set of function packages.
//!
//! Runs in the workspace root so the repository's `.cargo/config.toml` and
//! `rust-toolchain.toml` apply, shows cargo's diagnostics as cargo renders
//! them, keeps going past a package that fails, and reports which executable
//! each package produced.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Context, Result};
use cargo_metadata::Message;

use crate::cargo_args::CargoArgs;

/// What to build.
pub struct CargoBuild<'a> {
    pub workspace_root: &'a Path,
    pub target_dir: &'a Path,
    pub triple: &'a str,
    pub profile: &'a str,
    /// Package name -> the cargo target that builds its function (a binary,
    /// or for a `wasi-http` function its `cdylib`).
    pub packages: BTreeMap<String, String>,
    /// Package name -> cargo package id, given to `-p`.
    pub ids: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub args: &'a CargoArgs,
}

/// What came out: package name -> the built executable (missing when it failed).
#[derive(Debug, Default)]
pub struct CargoOutput {
    pub executables: BTreeMap<String, PathBuf>,
    pub failed: BTreeSet<String>,
    pub success: bool,
}

impl CargoBuild<'_> {
    pub fn run(&self) -> Result<CargoOutput> {
        let mut cmd = Command::new(CargoArgs::cargo_program());
        cmd.current_dir(self.workspace_root)
            .arg("build")
            .arg("--target")
            .arg(self.triple)
            // One argument: a name is never read as a flag (names are checked too).
            .arg(format!("--profile={}", self.profile))
            .arg("--target-dir")
            .arg(self.target_dir)
            .arg("--message-format=json-render-diagnostics")
            .arg("--keep-going");
        for package in self.packages.keys() {
            // By id: `-p NAME` is ambiguous when a dependency has the same name.
            cmd.arg("-p").arg(self.ids.get(package).unwrap_or(package));
        }
        self.args.apply_build(&mut cmd);
        cmd.envs(&self.env);
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run {}", CargoArgs::cargo_program().display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut out = CargoOutput::default();
        for message in Message::parse_stream(BufReader::new(stdout)) {
            let message = message.context("cannot read cargo's JSON messages")?;
            if let Message::CompilerArtifact(artifact) = message {
                // A binary's executable, or a cdylib's `.wasm` (for
                // wasm32-wasip2, rustc links it into a component itself).
                let file = if artifact.target.is_bin() {
                    artifact.executable.map(PathBuf::from)
                } else if artifact.target.is_cdylib() {
                    artifact
                        .filenames
                        .iter()
                        .find(|f| f.extension() == Some("wasm"))
                        .map(PathBuf::from)
                } else {
                    None
                };
                let Some(file) = file else {
                    continue;
                };
                if let Some(package) = self.package_of_binary(artifact.target.name.as_str()) {
                    out.executables.insert(package, file);
                }
            }
        }
        let status = child.wait().context("waiting for cargo")?;
        out.success = status.success();
        for package in self.packages.keys() {
            if !out.executables.contains_key(package) {
                out.failed.insert(package.clone());
            }
        }
        Ok(out)
    }

    /// The package whose function target is `bin`.
    fn package_of_binary(&self, bin: &str) -> Option<String> {
        self.packages
            .iter()
            .find(|(_, b)| b.as_str() == bin)
            .map(|(p, _)| p.clone())
    }
}
