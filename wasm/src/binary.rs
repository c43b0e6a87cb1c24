//! What an image's entry is, for the runner and the shims: a core module or a component,
//! as wasm or as a wasmtime `.cwasm` precompiled from one. Read from the
//! first bytes ([`BinaryKind`]) and, for an ELF file, from the
//! flags wasmtime writes (`wasmtime::precompiled_kind`, feature `wasmtime`), never
//! by file name.

use std::path::Path;

use crate::BinaryKind;

/// Module or component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmKind {
    /// A core module (`\0asm`, version 1).
    Module,
    /// A component (`\0asm`, version 0x0d, layer 1).
    Component,
}

/// The form a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// WebAssembly binary.
    Wasm(WasmKind),
    /// A wasmtime `.cwasm` precompiled from a module or a component.
    Cwasm(WasmKind),
    /// Any other ELF file (a native executable, a WasmEdge `.so`, …).
    Elf,
    /// Neither.
    Other,
}

impl Binary {
    /// Whether the file is a component (raw or precompiled).
    pub fn is_component(self) -> bool {
        matches!(
            self,
            Binary::Wasm(WasmKind::Component) | Binary::Cwasm(WasmKind::Component)
        )
    }

    fn of_kind(kind: BinaryKind) -> Binary {
        match kind {
            BinaryKind::Module => Binary::Wasm(WasmKind::Module),
            BinaryKind::Component => Binary::Wasm(WasmKind::Component),
            BinaryKind::Elf => Binary::Elf,
            BinaryKind::Other => Binary::Other,
        }
    }
}

/// What `path` holds, from its first 8 bytes only (an ELF file is `Elf`,
/// whether a `.cwasm` or not).
pub fn read_header(path: &Path) -> std::io::Result<Binary> {
    BinaryKind::of_file(path).map(Binary::of_kind)
}

/// What `path` holds; an ELF file is parsed to tell a wasmtime `.cwasm`.
#[cfg(feature = "wasmtime")]
pub fn detect_file(path: &Path) -> std::io::Result<Binary> {
    let b = read_header(path)?;
    if b != Binary::Elf {
        return Ok(b);
    }
    use crate::wasmtime::Precompiled;
    match crate::wasmtime::precompiled_kind(path) {
        Ok(Some(Precompiled::Module)) => Ok(Binary::Cwasm(WasmKind::Module)),
        Ok(Some(Precompiled::Component)) => Ok(Binary::Cwasm(WasmKind::Component)),
        Ok(None) => Ok(Binary::Elf),
        Err(e) => Err(std::io::Error::other(lumos_model::error_chain(&e))),
    }
}
