//! The command line of `cargo lumos` / `cargo-lumos`.

use clap::{Parser, Subcommand};

use crate::cargo_args::CargoArgs;
use crate::image::ImageArgs;
use crate::push::PushArgs;
use crate::variant::{AotEngine, Arch, RuntimeFamily};

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
    Build(Box<BuildArgs>),
    /// Pack what `build` made into OCI images under <target-dir>/lumos/oci/.
    Image {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        image: ImageArgs,
        /// `human` (default) or `json`: one JSON object per image on stdout.
        #[arg(long, value_name = "FMT", default_value = "human", value_parser = ["human", "json"])]
        message_format: String,
    },
    /// Push the images of <target-dir>/lumos/oci/ to a registry.
    Push {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        push: PushArgs,
    },
    /// Build, pack and push what is missing, then run and measure the matrix
    /// functions x runtimes x payload groups x modes; print a table and write
    /// --json, --csv and an HTML --report.
    Bench(Box<crate::bench::BenchArgs>),
}

/// Where the build output is, for commands that read it.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Path to Cargo.toml of the workspace.
    #[arg(long, value_name = "PATH", value_parser = crate::cargo_args::absolute_path())]
    pub manifest_path: Option<std::path::PathBuf>,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIR", value_parser = crate::cargo_args::absolute_path())]
    pub target_dir: Option<std::path::PathBuf>,
}

/// `cargo lumos build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    /// Build every variant of every runtime family each function supports
    /// (native and AoT for x86_64 and aarch64, both AoT engines, wasm).
    #[arg(long)]
    pub all_runtimes: bool,
    /// Only these runtime families: native, wasm, aot (repeat or comma-separate).
    #[arg(long = "runtime", value_name = "NAME", value_delimiter = ',')]
    pub runtimes: Vec<RuntimeFamily>,
    /// Only these architectures for native and AoT variants: x86_64, aarch64.
    #[arg(long = "arch", value_name = "ARCH", value_delimiter = ',')]
    pub arches: Vec<Arch>,
    /// Only these AoT engines: wasmedge, wasmtime.
    #[arg(long = "aot-engine", value_name = "ENGINE", value_delimiter = ',')]
    pub aot_engines: Vec<AotEngine>,
    /// Optimisation level of the AoT compilers: 0, 1, 2, 3, s, z (the paper used 2).
    #[arg(long, value_name = "LEVEL", default_value = "2", value_parser = ["0", "1", "2", "3", "s", "z"])]
    pub aot_opt_level: String,
    /// `human` (default) or `json`: one JSON object per artifact on stdout.
    #[arg(long, value_name = "FMT", default_value = "human", value_parser = ["human", "json"])]
    pub message_format: String,
    /// Pack every built variant into an OCI image after building it.
    #[arg(long)]
    pub image: bool,
    #[command(flatten)]
    pub image_args: ImageArgs,
}
