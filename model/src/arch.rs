//! CPU architectures of native code and of AoT-compiled wasm.

use crate::names::named_enum;

/// A CPU architecture (`--arch`, part of native and AoT variant names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

named_enum!(Arch, "arch", {
    X86_64 => "x86_64" | "amd64",
    Aarch64 => "aarch64" | "arm64",
});

impl Arch {
    /// The static musl target native binaries are built for.
    pub fn musl_triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// The target wasmtime cross-compiles `.cwasm` files for.
    pub fn wasmtime_triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// Debian's (and OCI's `platform.architecture`) name of the architecture.
    pub fn debian(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The architecture this program runs on, if it is one Lumos knows.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            _ => None,
        }
    }
}
