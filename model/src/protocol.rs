//! How the runner talks to a function (metadata `protocol`).

use crate::names::named_enum;
use crate::{AotEngine, Runtime, Variant};

/// How a function is invoked (DESIGN.md "Functions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// The SDK's frames on stdin/stdout; one long-lived instance.
    #[default]
    Lumos,
    /// One request on stdin, the response on stdout; one instance per request.
    Stdio,
    /// The function serves HTTP itself (`POST /` on `$PORT` or a fixed port).
    Http,
    /// A `wasm32-wasip2` component exporting `wasi:http/incoming-handler`,
    /// served over HTTP by the runner's wasmtime-wasi-http shim on a port the
    /// runner chooses.
    WasiHttp,
}

named_enum!(Protocol, "protocol", {
    Lumos => "lumos",
    Stdio => "stdio",
    Http => "http",
    WasiHttp => "wasi-http",
});

impl Protocol {
    /// Whether the runner talks to the instance over HTTP on a port.
    pub fn is_http(self) -> bool {
        matches!(self, Protocol::Http | Protocol::WasiHttp)
    }

    /// Why a function of this protocol cannot run on `runtime`, if it cannot:
    /// a wasi:http component runs only where the component model is
    /// (wasmtime); `wasmtime-pooled` hosts `lumos` (frames) functions only;
    /// the other protocols run everywhere their builds exist.
    pub fn refuses_runtime(self, runtime: Runtime) -> Option<&'static str> {
        if runtime == Runtime::WasmtimePooled && matches!(self, Protocol::Stdio | Protocol::Http) {
            return Some(
                "wasmtime-pooled hosts functions speaking frames (protocol lumos): its \
                 instances are stores reached over a connection, with no process to exit \
                 (stdio) and no sockets for the guest (http)",
            );
        }
        if self != Protocol::WasiHttp {
            return None;
        }
        match runtime {
            Runtime::WasmtimeJit | Runtime::WasmtimeAot => None,
            Runtime::Native => Some(NATIVE_COMPONENT),
            Runtime::WasmiInterp => Some(
                "a wasi:http component needs the component model, which wasmi 2.0 lacks \
                 (it runs on wasmtime-jit and wasmtime-aot)",
            ),
            Runtime::WasmedgeInterp | Runtime::WasmedgeAot => Some(WASMEDGE_COMPONENT),
            Runtime::WasmtimePooled => Some(
                "wasmtime-pooled hosts core modules speaking frames; a wasi:http component \
                 runs on wasmtime-jit and wasmtime-aot",
            ),
        }
    }

    /// Why the variant cannot be built for a function of this protocol, if
    /// it cannot: a wasi:http component is the `wasm` variant (the
    /// component) and its wasmtime AoT compiles only.
    pub fn refuses_variant(self, variant: Variant) -> Option<&'static str> {
        if self != Protocol::WasiHttp {
            return None;
        }
        match variant {
            Variant::Wasm | Variant::Aot(AotEngine::Wasmtime, _) => None,
            Variant::Native(_) => Some(NATIVE_COMPONENT),
            Variant::Aot(AotEngine::Wasmedge, _) => Some(WASMEDGE_COMPONENT),
        }
    }
}

const NATIVE_COMPONENT: &str =
    "a wasi:http component is a wasm32-wasip2 cdylib: it has no native build";
const WASMEDGE_COMPONENT: &str = "a wasi:http component needs the component model, which \
     WasmEdge 0.14 lacks (it runs on wasmtime-jit and wasmtime-aot)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Arch;

    #[test]
    fn components_run_and_build_on_wasmtime_only() {
        let p = Protocol::WasiHttp;
        let runs: Vec<Runtime> = Runtime::ALL
            .iter()
            .copied()
            .filter(|r| p.refuses_runtime(*r).is_none())
            .collect();
        assert_eq!(runs, [Runtime::WasmtimeAot, Runtime::WasmtimeJit]);
        assert!(p
            .refuses_runtime(Runtime::WasmiInterp)
            .unwrap()
            .contains("component model"));
        assert!(p
            .refuses_variant(Variant::Aot(AotEngine::Wasmedge, Arch::X86_64))
            .unwrap()
            .contains("WasmEdge"));
        assert!(p.refuses_variant(Variant::Native(Arch::X86_64)).is_some());
        assert!(p
            .refuses_variant(Variant::Aot(AotEngine::Wasmtime, Arch::Aarch64))
            .is_none());
        assert!(Runtime::ALL
            .iter()
            .all(|r| Protocol::Lumos.refuses_runtime(*r).is_none()));
        for other in [Protocol::Stdio, Protocol::Http] {
            let runs: Vec<Runtime> = Runtime::ALL
                .iter()
                .copied()
                .filter(|r| other.refuses_runtime(*r).is_none())
                .collect();
            assert_eq!(runs.len(), Runtime::ALL.len() - 1, "{other}");
            assert!(other
                .refuses_runtime(Runtime::WasmtimePooled)
                .unwrap()
                .contains("protocol lumos"));
        }
    }
}
