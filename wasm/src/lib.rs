//! What Lumos knows about wasm binaries, in one place:
//!
//! - [`binary`]: what an image's entry is for a runner (module or component,
//!   as wasm or as a wasmtime `.cwasm`);
//! - [`kind`]: what a file is from its first bytes (core module, component,
//!   wasmtime's precompiled ELF, a native executable);
//! - [`wasmedge_section`]: the `wasmedge` AoT section of a universal module
//!   (format version, OS, CPU);
//! - [`wasmtime`] (feature `wasmtime`): the one engine configuration used both
//!   to precompile `.cwasm` files and to load them, and (feature `compile`,
//!   cranelift) the precompiler.

pub mod binary;
pub mod kind;
/// The `wasmedge` section reader (crate lumos-wasmedge-section).
pub use lumos_wasmedge_section as wasmedge_section;
#[cfg(feature = "wasmtime")]
pub mod wasmtime;

pub use kind::BinaryKind;
pub use wasmedge_section::AotSection;

/// What can go wrong reading a wasm binary or compiling it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a valid wasm binary")]
    Parse(#[from] wasmparser::BinaryReaderError),
    #[error(transparent)]
    Section(#[from] wasmedge_section::SectionError),
    #[cfg(feature = "wasmtime")]
    #[error("{what}")]
    Wasmtime {
        what: String,
        #[source]
        source: ::wasmtime::Error,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
