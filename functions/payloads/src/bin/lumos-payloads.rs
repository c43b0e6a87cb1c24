//! Writes the seeded payload groups of the built-in functions to a directory,
//! with a `payloads.json` manifest of every file's size and sha256.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Generate the deterministic payloads of the built-in Lumos functions.
#[derive(Debug, Parser)]
#[command(name = "lumos-payloads", version)]
struct Cli {
    /// Output directory (created if missing).
    #[arg(short, long, default_value = "payloads")]
    out: PathBuf,
    /// Only these functions (repeatable; default: all eight).
    #[arg(short, long = "function", value_name = "NAME")]
    functions: Vec<String>,
    /// Only these groups (repeatable; default: 1, 2 and 3).
    #[arg(short, long = "group", value_name = "N", value_parser = clap::value_parser!(u8).range(1..=3))]
    groups: Vec<u8>,
    /// Print the manifest as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let functions: Vec<String> = if cli.functions.is_empty() {
        lumos_payloads::FUNCTIONS
            .iter()
            .map(|f| f.to_string())
            .collect()
    } else {
        cli.functions
    };
    let groups = if cli.groups.is_empty() {
        lumos_payloads::GROUPS.to_vec()
    } else {
        cli.groups
    };
    let mut payloads = Vec::new();
    for f in &functions {
        for &g in &groups {
            payloads.push(lumos_payloads::payload(f, g)?);
        }
    }
    let manifest = lumos_payloads::write_dir(&cli.out, &payloads)
        .with_context(|| format!("writing payloads to {}", cli.out.display()))?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&manifest)?);
    } else {
        for entry in &manifest.payloads {
            let stored: u64 = entry.objects.iter().map(|o| o.file.bytes).sum();
            println!(
                "{:<20} g{}  request {:>4} B  objects {:>8} B  {}",
                entry.function, entry.group, entry.request.bytes, stored, entry.description
            );
        }
        println!(
            "wrote {}",
            lumos_payloads::manifest::manifest_path(&cli.out).display()
        );
    }
    Ok(())
}
