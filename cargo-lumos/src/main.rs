//! `cargo-lumos`: the binary behind `cargo lumos`. Thin: parses the command
//! line, hands over to the libraries (lumos-build, lumos-bench,
//! lumos-report), shows their reports, and turns errors into one line and an
//! exit status.

mod cli;
mod commands;
mod runner_host;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    // `cargo lumos build` runs us as `cargo-lumos lumos build`; `cargo-lumos build` works too.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Started by a bench's runner as its `lumos-runner` (wasm shims, guard).
    if let Some(code) = runner_host::dispatch(&args) {
        return code;
    }
    if args.get(1).is_some_and(|a| a == "lumos") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    if cli.verbose > 0 {
        let level = if cli.verbose > 1 { "trace" } else { "debug" };
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(level))
            .with_writer(std::io::stderr)
            .init();
    }
    let result = match cli.command {
        Command::Build(args) => commands::build::run(*args),
        Command::Image(cmd) => commands::image::run(*cmd),
        Command::Push(cmd) => commands::push::run(*cmd),
        Command::Bench(args) => commands::bench::run(&args),
        Command::Deploy(cmd) => commands::deploy::run(*cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    lumos_model::error_chain(e.as_ref())
}

/// A command-line error as one line (clap's own rendering spans several),
/// naming the flag, the value and what would be accepted; help and version
/// are printed as clap prints them.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            },
        );
    }
    let text = e.to_string();
    let mut line = text
        .lines()
        .next()
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ")
        .to_string();
    // The missing flags (a flag that `requires` another) are on later lines.
    if e.kind() == ErrorKind::MissingRequiredArgument {
        if let Some(ContextValue::Strings(missing)) = e.get(ContextKind::InvalidArg) {
            line = format!("{} {}", line.trim_end(), missing.join(", "));
        }
    }
    if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
        line += &format!(" (possible values: {})", valid.join(", "));
    }
    // The reason a value parser gave (ranges, validators) is on a later line.
    if let Some(ContextValue::String(reason)) = e.get(ContextKind::Custom) {
        if !line.contains(reason.as_str()) {
            line += &format!(": {reason}");
        }
    }
    eprintln!("error: {line}");
    ExitCode::from(2)
}
