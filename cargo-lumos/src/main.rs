//! `cargo-lumos`: the binary behind `cargo lumos`. Thin: parses the command
//! line and hands over to the modules that do the work.

mod bench;
mod build;
mod build_manifest;
mod cargo_args;
mod cli;
mod config;
mod image;
mod push;
mod variant;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    // `cargo lumos build` runs us as `cargo-lumos lumos build`; `cargo-lumos build` works too.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Started by a bench's runner as its `lumos-runner` (wasm shims, guard).
    if let Some(code) = bench::runner_host::dispatch(&args) {
        return code;
    }
    if args.get(1).is_some_and(|a| a == "lumos") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    if cli.verbose > 0 {
        let level = if cli.verbose > 1 { "trace" } else { "debug" };
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(level))
            .with_writer(std::io::stderr)
            .init();
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Build(args) => {
            let opts = build::BuildOptions {
                selection: variant::Selection {
                    all: args.all_runtimes,
                    runtimes: args.runtimes,
                    arches: args.arches,
                    aot_engines: args.aot_engines,
                },
                aot_opt_level: args.aot_opt_level,
                json: args.message_format == "json",
            };
            let Some(report) = build::run(&args.cargo, &opts)? else {
                return Ok(ExitCode::SUCCESS);
            };
            if args.image {
                let mut image_args = args.image_args;
                image_args.json = opts.json;
                image_args.functions = report
                    .manifest
                    .functions
                    .iter()
                    .filter(|f| !report.failures.iter().any(|(p, _)| p == &f.package))
                    .map(|f| f.name.clone())
                    .collect();
                image::run(&image_args, &report.target_dir)?;
            }
            build::check(&report)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Image {
            target,
            mut image,
            message_format,
        } => {
            image.json = message_format == "json";
            image::run(&image, &workspace::target_dir(&target)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Push { target, push } => {
            push::run(&push, &workspace::target_dir(&target)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            bench::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
