//! The matrix of a bench run: functions x runtimes x payload groups x modes,
//! each cell repeated; and which image variant each runtime runs.

use anyhow::{bail, Result};
use lumos_runtimes::Runtime;

/// A mode of measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Cold,
    Warm,
    Load,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Cold => "cold",
            Mode::Warm => "warm",
            Mode::Load => "load",
        }
    }
}

/// Parses `--runtime` values (comma-separated or repeated); empty means every runtime.
pub fn runtimes(values: &[String]) -> Result<Vec<Runtime>> {
    if values.is_empty() {
        return Ok(Runtime::ALL.to_vec());
    }
    let mut out = Vec::new();
    for v in values {
        let r: Runtime = v
            .trim()
            .parse()
            .map_err(|e: lumos_runtimes::Error| anyhow::anyhow!("--runtime: {e}"))?;
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Parses `--group` values: 1, 2, 3.
pub fn groups(values: &[String]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for v in values {
        match v.trim().parse::<u8>() {
            Ok(g @ 1..=3) => {
                if !out.contains(&g) {
                    out.push(g)
                }
            }
            _ => bail!("--group: unknown payload group `{v}` (groups are 1, 2 and 3)"),
        }
    }
    if out.is_empty() {
        out.push(1);
    }
    out.sort_unstable();
    Ok(out)
}

/// Parses `--mode` values: cold, warm, load.
pub fn modes(values: &[String]) -> Result<Vec<Mode>> {
    let mut out = Vec::new();
    for v in values {
        let m = match v.trim() {
            "cold" => Mode::Cold,
            "warm" => Mode::Warm,
            "load" => Mode::Load,
            _ => bail!("--mode: unknown mode `{v}` (expected cold, warm or load)"),
        };
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The image tag (variant) a runtime runs on this host.
pub fn variant_for(runtime: Runtime, host_arch: &str) -> String {
    match runtime {
        Runtime::Native => "native".to_string(),
        Runtime::WasmtimeAot => format!("aot-wasmtime-{host_arch}"),
        Runtime::WasmedgeAot => format!("aot-wasmedge-{host_arch}"),
        Runtime::WasmtimeJit | Runtime::WasmiInterp | Runtime::WasmedgeInterp => "wasm".to_string(),
    }
}

/// The build variant directory behind an image tag (`native` is the index of `native-<arch>`).
pub fn build_variant_for(runtime: Runtime, host_arch: &str) -> String {
    match runtime {
        Runtime::Native => format!("native-{host_arch}"),
        r => variant_for(r, host_arch),
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub function: String,
    pub runtime: Runtime,
    pub group: u8,
    pub mode: Mode,
}

/// Every cell, in the order they run: function, group, runtime, then mode.
pub fn cells(
    functions: &[String],
    runtimes: &[Runtime],
    groups: &[u8],
    modes: &[Mode],
) -> Vec<Cell> {
    let mut out = Vec::new();
    for f in functions {
        for &g in groups {
            for &r in runtimes {
                for &m in modes {
                    out.push(Cell {
                        function: f.clone(),
                        runtime: r,
                        group: g,
                        mode: m,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(runtimes(&[]).unwrap().len(), 6);
        assert_eq!(
            runtimes(&["native".into(), "wasmi-interp".into()]).unwrap(),
            vec![Runtime::Native, Runtime::WasmiInterp]
        );
        let e = runtimes(&["jvm".into()]).unwrap_err().to_string();
        assert!(e.contains("jvm") && !e.contains('\n'), "{e}");
        assert_eq!(groups(&["3".into(), "1".into()]).unwrap(), vec![1, 3]);
        assert!(groups(&["4".into()]).is_err());
        assert!(modes(&["hot".into()]).is_err());
        assert_eq!(
            variant_for(Runtime::WasmtimeAot, "x86_64"),
            "aot-wasmtime-x86_64"
        );
        assert_eq!(variant_for(Runtime::WasmiInterp, "x86_64"), "wasm");
        assert_eq!(
            build_variant_for(Runtime::Native, "aarch64"),
            "native-aarch64"
        );
    }
}
