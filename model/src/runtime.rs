//! The runtimes a function can run in, each under its honest name.

use crate::names::named_enum;
use crate::{AotEngine, Arch, RuntimeFamily, Variant};

/// A runtime: the native executable in a sandbox, or a wasm engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Runtime {
    /// The native executable in a container runtime (see [`crate::Sandbox`]).
    #[default]
    Native,
    /// wasmtime loading a precompiled `.cwasm`.
    WasmtimeAot,
    /// wasmtime compiling the module with Cranelift at instance start.
    WasmtimeJit,
    /// The wasmi interpreter.
    WasmiInterp,
    /// WasmEdge's interpreter.
    WasmedgeInterp,
    /// WasmEdge running the AoT code of a universal wasm module.
    WasmedgeAot,
    /// wasmtime with instances as stores in one long-lived host process
    /// (pooling allocator, copy-on-write memory images, `InstancePre`), as
    /// Spin and wasmCloud run functions: an instance start is an
    /// instantiation, not a process start. Runs the `.cwasm` of an
    /// `aot-wasmtime-<arch>` image (or a wasm module, compiled once when the
    /// host starts).
    WasmtimePooled,
}

named_enum!(Runtime, "runtime", {
    Native => "native",
    WasmtimeAot => "wasmtime-aot",
    WasmtimeJit => "wasmtime-jit",
    WasmiInterp => "wasmi-interp",
    WasmedgeInterp => "wasmedge-interp",
    WasmedgeAot => "wasmedge-aot",
    WasmtimePooled => "wasmtime-pooled",
});

impl Runtime {
    /// The runtime's name (same as [`Runtime::as_str`]).
    pub fn name(self) -> &'static str {
        self.as_str()
    }

    /// Whether the runtime hosts wasm (every runtime but `native`).
    pub fn is_wasm(self) -> bool {
        self != Runtime::Native
    }

    /// Whether the runtime is one of WasmEdge's.
    pub fn is_wasmedge(self) -> bool {
        matches!(self, Runtime::WasmedgeInterp | Runtime::WasmedgeAot)
    }

    /// Whether instances are stores in one shared host process rather than
    /// processes of their own (`wasmtime-pooled`).
    pub fn is_pooled(self) -> bool {
        self == Runtime::WasmtimePooled
    }

    /// Whether the runtime is one of wasmtime's.
    pub fn is_wasmtime(self) -> bool {
        matches!(
            self,
            Runtime::WasmtimeAot | Runtime::WasmtimeJit | Runtime::WasmtimePooled
        )
    }

    /// The family of variants the runtime runs.
    pub fn family(self) -> RuntimeFamily {
        match self {
            Runtime::Native => RuntimeFamily::Native,
            Runtime::WasmtimeAot | Runtime::WasmtimePooled | Runtime::WasmedgeAot => {
                RuntimeFamily::Aot
            }
            Runtime::WasmtimeJit | Runtime::WasmiInterp | Runtime::WasmedgeInterp => {
                RuntimeFamily::Wasm
            }
        }
    }

    /// The built variant this runtime runs on a `host` CPU.
    pub fn variant(self, host: Arch) -> Variant {
        match self {
            Runtime::Native => Variant::Native(host),
            Runtime::WasmtimeAot | Runtime::WasmtimePooled => {
                Variant::Aot(AotEngine::Wasmtime, host)
            }
            Runtime::WasmedgeAot => Variant::Aot(AotEngine::Wasmedge, host),
            Runtime::WasmtimeJit | Runtime::WasmiInterp | Runtime::WasmedgeInterp => Variant::Wasm,
        }
    }

    /// The image tag this runtime pulls on a `host` CPU: `native` (the index
    /// of both CPUs) for the native runtime, else the variant's name.
    pub fn image_tag(self, host: Arch) -> String {
        match self {
            Runtime::Native => "native".to_string(),
            r => r.variant(host).image_tag(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_variants() {
        assert_eq!(Runtime::ALL.len(), 7);
        for r in Runtime::ALL {
            assert_eq!(r.as_str().parse::<Runtime>().unwrap(), *r);
        }
        assert_eq!(
            Runtime::WasmtimeAot.image_tag(Arch::X86_64),
            "aot-wasmtime-x86_64"
        );
        assert_eq!(Runtime::WasmiInterp.image_tag(Arch::X86_64), "wasm");
        assert_eq!(
            Runtime::WasmtimePooled.image_tag(Arch::X86_64),
            "aot-wasmtime-x86_64"
        );
        assert!(Runtime::WasmtimePooled.is_pooled() && Runtime::WasmtimePooled.is_wasm());
        assert_eq!(Runtime::Native.image_tag(Arch::Aarch64), "native");
        assert_eq!(
            Runtime::Native.variant(Arch::Aarch64).to_string(),
            "native-aarch64"
        );
        let e = "jvm".parse::<Runtime>().unwrap_err().to_string();
        assert!(
            e.contains("jvm") && e.contains("wasmedge-aot") && !e.contains('\n'),
            "{e}"
        );
    }
}
