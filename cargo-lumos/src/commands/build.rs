//! `cargo lumos build`: the flags, and the build's events shown as cargo
//! shows its own (or as JSON lines with `--message-format json`).

use std::process::ExitCode;

use lumos_build::compile::{BuildEvent, BuildOptions};
use lumos_build::{CargoArgs, Selection, Workspace};
use lumos_model::{AotEngine, Arch, RuntimeFamily};

use super::image::{print_packed, ImageArgs};
use crate::cli::MessageFormat;

/// `cargo lumos build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    /// Build every variant of every runtime family each function supports
    /// (native and AoT for x86_64 and aarch64, both AoT engines, wasm).
    #[arg(long)]
    pub all_runtimes: bool,
    /// Only these runtime families (repeat or comma-separate).
    #[arg(long = "runtime", value_name = "NAME", value_delimiter = ',')]
    pub runtimes: Vec<RuntimeFamily>,
    /// Only these architectures for native and AoT variants.
    #[arg(long = "arch", value_name = "ARCH", value_delimiter = ',')]
    pub arches: Vec<Arch>,
    /// Only these AoT engines.
    #[arg(long = "aot-engine", value_name = "ENGINE", value_delimiter = ',')]
    pub aot_engines: Vec<AotEngine>,
    /// Optimisation level of the AoT compilers: 0, 1, 2, 3, s, z (the paper used 2).
    #[arg(long, value_name = "LEVEL", default_value = "2", value_parser = ["0", "1", "2", "3", "s", "z"])]
    pub aot_opt_level: String,
    /// `human` (default) or `json`: one JSON object per artifact on stdout.
    #[arg(long, value_name = "FMT", value_enum, default_value_t)]
    pub message_format: MessageFormat,
    /// Pack every built variant of the selected functions into an OCI image after building it.
    #[arg(long)]
    pub image: bool,
    #[command(flatten)]
    pub image_args: ImageArgs,
}

/// Shows a build event: progress on stderr, artifacts on stdout as JSON lines when asked.
pub fn show(e: &BuildEvent, format: MessageFormat) {
    match e {
        BuildEvent::Nothing(why) => eprintln!("note: {why}; nothing to build"),
        BuildEvent::Waiting(dir) => {
            eprintln!("    Blocking waiting for file lock on {}", dir.display())
        }
        BuildEvent::Cargo {
            triple,
            profile,
            count,
        } => eprintln!("    Building {count} function(s) for {triple} ({profile})"),
        BuildEvent::Warning(w) => eprintln!("warning: {w}"),
        BuildEvent::Skipped {
            function,
            variants,
            reason,
        } => {
            let names: Vec<String> = variants.iter().map(|v| v.to_string()).collect();
            eprintln!("   Skipping {function} {}: {reason}", names.join(", "))
        }
        BuildEvent::Compiling {
            function,
            variant,
            engine,
            emulated,
        } => eprintln!(
            "  Compiling {function} {variant} with {engine}{}",
            if *emulated {
                " under qemu (slow: about a minute per 100 KB)"
            } else {
                ""
            }
        ),
        BuildEvent::Compiled {
            function,
            variant,
            elapsed,
            ..
        } => eprintln!(
            "   Compiled {function} {variant} in {:.1}s",
            elapsed.as_secs_f64()
        ),
        BuildEvent::Artifact {
            function,
            package,
            artifact: a,
            fresh,
        } => match format {
            MessageFormat::Json => println!(
                "{}",
                serde_json::json!({
                    "reason": "lumos-artifact",
                    "function": function,
                    "package": package,
                    "variant": a.variant,
                    "path": a.path,
                    "bytes": a.bytes,
                    "sha256": a.sha256,
                    "engine": a.engine,
                    "fresh": fresh,
                })
            ),
            MessageFormat::Human => eprintln!(
                "{:>12} {function} {} ({}) {}",
                if *fresh { "Fresh" } else { "Built" },
                a.variant,
                human_bytes(a.bytes),
                a.path.display()
            ),
        },
        BuildEvent::Failed(f) => eprintln!(
            "error: function package `{}` failed for {}: {}",
            f.package,
            f.variant_list(),
            f.reason
        ),
    }
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.2} MiB", n as f64 / (1 << 20) as f64)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// Runs `cargo lumos build`.
pub fn run(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let format = args.message_format;
    let ws = Workspace::load(&args.cargo)?;
    let opts = BuildOptions {
        selection: Selection {
            all: args.all_runtimes,
            runtimes: args.runtimes,
            arches: args.arches,
            aot_engines: args.aot_engines,
        },
        aot_opt_level: args.aot_opt_level,
    };
    let report = lumos_build::compile::build(&ws, &args.cargo, &opts, &mut |e| show(&e, format))?;
    if args.image {
        if let Some(manifest) = &report.manifest {
            // Only what was selected and built now: the functions of which
            // this build placed something (a failed variant is not in
            // build.json; build.json may list other functions).
            let mut req = args.image_args.request();
            req.functions = report
                .built
                .iter()
                .filter(|name| manifest.function(name).is_some())
                .cloned()
                .collect();
            if !req.functions.is_empty() {
                let packed = lumos_build::images::pack(&ws.target_dir, &req)?;
                print_packed(&packed, format);
            }
        }
    }
    report.check()?;
    Ok(ExitCode::SUCCESS)
}
