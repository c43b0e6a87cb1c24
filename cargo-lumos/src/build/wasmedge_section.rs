//! Reads the `wasmedge` custom section that WasmEdge's AoT compiler adds to a
//! "universal" wasm module: which format version, OS and CPU its native code is for.

use anyhow::{bail, Context, Result};

use crate::variant::Arch;

/// The header of a `wasmedge` AoT section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AotSection {
    pub version: u32,
    /// 1 = Linux.
    pub os: u8,
    /// 1 = x86_64, 2 = aarch64.
    pub arch: u8,
    /// Bytes of the whole section payload.
    pub bytes: usize,
}

impl AotSection {
    /// The CPU the native code is for, if Lumos knows it.
    pub fn arch(&self) -> Option<Arch> {
        match self.arch {
            1 => Some(Arch::X86_64),
            2 => Some(Arch::Aarch64),
            _ => None,
        }
    }
}

/// Finds and decodes the `wasmedge` section of a module; None when it has none.
pub fn read(module: &[u8]) -> Result<Option<AotSection>> {
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.context("not a valid wasm binary")?;
        if let wasmparser::Payload::CustomSection(section) = payload {
            if section.name() == "wasmedge" {
                return decode(section.data()).map(Some);
            }
        }
    }
    Ok(None)
}

fn decode(data: &[u8]) -> Result<AotSection> {
    let mut reader = wasmparser::BinaryReader::new(data, 0);
    let version = reader
        .read_var_u32()
        .context("wasmedge section: no version")?;
    let os = reader.read_u8().context("wasmedge section: no OS byte")?;
    let arch = reader.read_u8().context("wasmedge section: no arch byte")?;
    if os == 0 || arch == 0 {
        bail!("wasmedge section: OS {os} / arch {arch} is not a known target");
    }
    Ok(AotSection {
        version,
        os,
        arch,
        bytes: data.len(),
    })
}
