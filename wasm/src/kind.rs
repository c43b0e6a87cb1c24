//! What a file is, from its first eight bytes.

use std::io::Read;
use std::path::Path;

/// The kinds of binary an image's entry can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryKind {
    /// A core wasm module (`\0asm`, version 1).
    Module,
    /// A wasm component (`\0asm`, layer 1).
    Component,
    /// An ELF file: a native executable, or wasmtime's precompiled `.cwasm`.
    Elf,
    /// Anything else.
    Other,
}

impl BinaryKind {
    /// Classifies the first bytes of a file (at least 8 for wasm).
    pub fn of_bytes(head: &[u8]) -> BinaryKind {
        match head {
            [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => BinaryKind::Module,
            [0, b'a', b's', b'm', _, _, 1, 0, ..] => BinaryKind::Component,
            [0x7f, b'E', b'L', b'F', ..] => BinaryKind::Elf,
            _ => BinaryKind::Other,
        }
    }

    /// Classifies a file by its first bytes.
    pub fn of_file(path: &Path) -> std::io::Result<BinaryKind> {
        let mut head = [0u8; 8];
        let mut f = std::fs::File::open(path)?;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(BinaryKind::of_bytes(&head[..n]))
    }

    /// Whether it is wasm (module or component).
    pub fn is_wasm(self) -> bool {
        matches!(self, BinaryKind::Module | BinaryKind::Component)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(BinaryKind::of_bytes(b"\0asm\x01\0\0\0"), BinaryKind::Module);
        assert_eq!(
            BinaryKind::of_bytes(b"\0asm\x0d\0\x01\0"),
            BinaryKind::Component
        );
        assert_eq!(
            BinaryKind::of_bytes(b"\x7fELF\x02\x01\x01\0"),
            BinaryKind::Elf
        );
        assert_eq!(BinaryKind::of_bytes(b"\0as"), BinaryKind::Other);
    }
}
