//! The command line of `cargo lumos` / `cargo-lumos`: one vocabulary across
//! verbs (`-p/--package` selects functions everywhere; runtimes, modes and
//! variants are lumos-model's words, parsed with `clap::ValueEnum`).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use lumos_build::cargo_args::absolute_path;

/// Build, pack, push and benchmark the serverless functions of a Rust workspace
/// as native, WebAssembly and ahead-of-time compiled WebAssembly.
#[derive(Debug, Parser)]
#[command(name = "cargo-lumos", bin_name = "cargo lumos", version, about)]
pub struct Cli {
    /// Log what happens (-v: debug, -vv: trace), HTTP requests included; never credentials.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile every function into its variants under <target-dir>/lumos/.
    Build(Box<crate::commands::build::BuildArgs>),
    /// Pack what `build` made into OCI images under <target-dir>/lumos/oci/.
    Image(Box<crate::commands::image::ImageCmd>),
    /// Push the images of <target-dir>/lumos/oci/ to a registry.
    Push(Box<crate::commands::push::PushCmd>),
    /// Build, pack and push what is missing, then run and measure the matrix
    /// functions x runtimes x payload groups x modes; print a table and write
    /// --json, --csv and an HTML --report.
    Bench(Box<crate::commands::bench::BenchArgs>),
    /// Write Knative Services (YAML) for the pushed images: one per
    /// function and variant, by digest.
    Deploy(Box<crate::commands::deploy::DeployCmd>),
}

/// How per-item lines are printed on stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Text for people.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Where the build output is, for commands that read it.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Path to Cargo.toml of the workspace.
    #[arg(long, value_name = "PATH", value_parser = absolute_path())]
    pub manifest_path: Option<PathBuf>,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIR", value_parser = absolute_path())]
    pub target_dir: Option<PathBuf>,
}

impl TargetArgs {
    /// The target directory (`--target-dir`, else cargo's for the workspace).
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        Ok(lumos_build::workspace::target_dir(
            self.manifest_path.as_deref(),
            self.target_dir.as_deref(),
        )?)
    }
}

/// Function selection for verbs that read build output (`image`, `push`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FunctionArgs {
    /// Only these functions (repeat or comma-separate); all when not given.
    #[arg(
        short = 'p',
        long = "package",
        visible_alias = "function",
        value_name = "FUNCTION",
        value_delimiter = ','
    )]
    pub functions: Vec<String>,
}
