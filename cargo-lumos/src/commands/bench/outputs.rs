//! The files a bench writes: `--json` (lumos-model's schema), `--csv` and
//! `--report` (lumos-report), each written atomically.

use std::path::Path;

use anyhow::Context as _;
use lumos_model::BenchOutput;

use super::BenchArgs;

/// Writes every output file asked for.
pub fn write(args: &BenchArgs, out: &BenchOutput) -> anyhow::Result<()> {
    if let Some(p) = &args.json {
        write_file(p, &serde_json::to_vec_pretty(out)?)?;
    }
    if let Some(p) = &args.csv {
        write_file(p, lumos_report::csv::render(out)?.as_bytes())?;
    }
    if let Some(p) = &args.report {
        write_file(p, lumos_report::html::render(out).as_bytes())?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    lumos_oci::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}
