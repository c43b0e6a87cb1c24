//! The `wasmedge` custom section that WasmEdge's AoT compiler adds to a
//! "universal" wasm module: which format version, OS and CPU its native code
//! is for. WasmEdge silently falls back to its interpreter when they do not
//! match the machine, so both the build (after compiling) and the runner
//! (before starting an instance) check it.

use lumos_model::Arch;

/// The header of a `wasmedge` AoT section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AotSection {
    /// WasmEdge's AoT binary format version.
    pub version: u32,
    /// 1 = Linux.
    pub os: u8,
    /// 1 = x86_64, 2 = aarch64.
    pub arch: u8,
    /// Bytes of the whole section payload.
    pub bytes: usize,
}

/// WasmEdge's OS byte for Linux.
pub const OS_LINUX: u8 = 1;

impl AotSection {
    /// The CPU the native code is for, if Lumos knows it.
    pub fn arch(&self) -> Option<Arch> {
        match self.arch {
            1 => Some(Arch::X86_64),
            2 => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// WasmEdge's arch byte for `arch`.
    pub fn arch_byte(arch: Arch) -> u8 {
        match arch {
            Arch::X86_64 => 1,
            Arch::Aarch64 => 2,
        }
    }
}

/// What can be wrong with a module's `wasmedge` section.
#[derive(Debug, thiserror::Error)]
pub enum SectionError {
    #[error("not a valid wasm binary")]
    Parse(#[from] wasmparser::BinaryReaderError),
    #[error("wasmedge section: {0}")]
    Malformed(String),
}

/// Finds and decodes the `wasmedge` section of a module; None when it has none.
pub fn read(module: &[u8]) -> Result<Option<AotSection>, SectionError> {
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::CustomSection(section) = payload? {
            if section.name() == "wasmedge" {
                return decode(section.data()).map(Some);
            }
        }
    }
    Ok(None)
}

fn decode(data: &[u8]) -> Result<AotSection, SectionError> {
    let mut reader = wasmparser::BinaryReader::new(data, 0);
    let version = reader.read_var_u32()?;
    let os = reader.read_u8()?;
    let arch = reader.read_u8()?;
    if os == 0 || arch == 0 {
        return Err(SectionError::Malformed(format!(
            "OS {os} / arch {arch} is not a known target"
        )));
    }
    Ok(AotSection {
        version,
        os,
        arch,
        bytes: data.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal module with one custom section `name` holding `data`.
    fn module_with(name: &str, data: &[u8]) -> Vec<u8> {
        let mut payload = vec![name.len() as u8];
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(data);
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.push(0);
        m.push(payload.len() as u8);
        m.extend(payload);
        m
    }

    #[test]
    fn reads_the_header() {
        let m = module_with("wasmedge", &[3, 1, 2, 0xAA]);
        let s = read(&m).unwrap().unwrap();
        assert_eq!((s.version, s.os, s.arch, s.bytes), (3, 1, 2, 4));
        assert_eq!(s.arch(), Some(Arch::Aarch64));
        assert_eq!(read(&module_with("other", &[1])).unwrap(), None);
        assert!(read(&module_with("wasmedge", &[3, 0, 0])).is_err());
        assert!(read(b"\0asm\x01\0\0\0\0\x09").is_err());
    }
}
