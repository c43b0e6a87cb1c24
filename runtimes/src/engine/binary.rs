//! What a wasm file is: a core module or a component, as wasm or as a
//! wasmtime `.cwasm` precompiled from one. Read from the first bytes (the
//! wasm header through wasmparser; the ELF flags wasmtime writes through
//! `Engine::detect_precompiled_file`), never by file name.

use std::io::Read;
use std::path::Path;

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

    /// Of the first bytes of a file (at least 8 for wasm); `Elf` for any ELF
    /// since telling a `.cwasm` needs the whole file ([`detect_file`]).
    pub fn of_header(head: &[u8]) -> Binary {
        if wasmparser::Parser::is_component(head) {
            Binary::Wasm(WasmKind::Component)
        } else if wasmparser::Parser::is_core_wasm(head) {
            Binary::Wasm(WasmKind::Module)
        } else if head.starts_with(b"\x7fELF") {
            Binary::Elf
        } else {
            Binary::Other
        }
    }
}

/// What `path` holds, from its first 8 bytes only (an ELF file is `Elf`,
/// whether a `.cwasm` or not).
pub fn read_header(path: &Path) -> std::io::Result<Binary> {
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(Binary::of_header(&head[..n]))
}

/// What `path` holds; an ELF file is parsed to tell a wasmtime `.cwasm`.
pub fn detect_file(path: &Path) -> std::io::Result<Binary> {
    let b = read_header(path)?;
    if b != Binary::Elf {
        return Ok(b);
    }
    // An ELF file: wasmtime marks its artifacts in e_flags.
    match wasmtime::Engine::detect_precompiled_file(path) {
        Ok(Some(wasmtime::Precompiled::Module)) => Ok(Binary::Cwasm(WasmKind::Module)),
        Ok(Some(wasmtime::Precompiled::Component)) => Ok(Binary::Cwasm(WasmKind::Component)),
        Ok(None) => Ok(Binary::Elf),
        Err(e) => Err(std::io::Error::other(format!("{e:#}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            Binary::of_header(b"\0asm\x01\0\0\0"),
            Binary::Wasm(WasmKind::Module)
        );
        assert_eq!(
            Binary::of_header(b"\0asm\x0d\0\x01\0"),
            Binary::Wasm(WasmKind::Component)
        );
        assert_eq!(Binary::of_header(b"\x7fELF\x02\x01\x01\0"), Binary::Elf);
        assert_eq!(Binary::of_header(b"#!/bin/sh"), Binary::Other);
        assert_eq!(Binary::of_header(b"\0as"), Binary::Other);
    }

    #[test]
    fn precompiled_component_and_module_are_told_apart() {
        let engine = wasmtime::Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m.cwasm");
        let c = dir.path().join("c.cwasm");
        // The smallest module and component.
        std::fs::write(&m, engine.precompile_module(b"\0asm\x01\0\0\0").unwrap()).unwrap();
        std::fs::write(
            &c,
            engine.precompile_component(b"\0asm\x0d\0\x01\0").unwrap(),
        )
        .unwrap();
        assert_eq!(detect_file(&m).unwrap(), Binary::Cwasm(WasmKind::Module));
        assert_eq!(detect_file(&c).unwrap(), Binary::Cwasm(WasmKind::Component));
        assert!(detect_file(&c).unwrap().is_component());
    }
}
