//! Whether, and how, a Kubernetes node with Knative serves a function's
//! variant. Knative routes HTTP to a port in the container; a function that
//! only speaks frames or stdio on its standard streams has no such port.

use lumos_model::{AotEngine, Protocol, Variant};

/// How a node runs a deployable variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// A native container (runc, the node's default runtime).
    Container,
    /// A wasm image (`.wasm` entrypoint) run by crun built with WasmEdge,
    /// chosen by the RuntimeClass and the `compat-smart` annotation.
    Wasm,
}

/// A variant Knative cannot serve, and what would serve it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{function} {variant}: {reason}")]
pub struct NotServable {
    pub function: String,
    pub variant: Variant,
    pub reason: String,
}

/// How `function` (speaking `protocol`) is served in `variant`.
pub fn serving(
    function: &str,
    protocol: Protocol,
    variant: Variant,
) -> Result<Serving, NotServable> {
    let refuse = |reason: String| NotServable {
        function: function.to_string(),
        variant,
        reason,
    };
    if let Variant::Aot(AotEngine::Wasmtime, _) = variant {
        return Err(refuse(
            "a wasmtime `.cwasm` is tied to Lumos's wasmtime build and no Kubernetes RuntimeClass loads it; deploy `wasm` or an `aot-wasmedge-*` variant".into(),
        ));
    }
    match (protocol, variant) {
        (Protocol::Http, Variant::Native(_)) => Ok(Serving::Container),
        (Protocol::Http, _) => Ok(Serving::Wasm),
        // The SDK serves `POST /` on `$PORT`, which Knative sets: natively,
        // and in wasm through WasmEdge's sockets (crun with WasmEdge).
        (Protocol::Lumos, Variant::Native(_)) => Ok(Serving::Container),
        (Protocol::Lumos, _) => Ok(Serving::Wasm),
        (Protocol::Stdio, _) => Err(refuse(
            "protocol `stdio` reads one request on stdin, which Knative cannot route requests to; it needs an HTTP adapter in the image (e.g. the OpenFaaS of-watchdog in front of a native binary), or make it an `http` function".into(),
        )),
        // The node's wasm runtime is crun built with WasmEdge 0.14: no
        // component model, so it cannot run a wasi:http component.
        (Protocol::WasiHttp, _) => Err(refuse(
            "protocol `wasi-http` is a component, which the node's crun with WasmEdge (no component model) cannot run; it needs a RuntimeClass for a component host such as runwasi's containerd-shim-wasmtime".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumos_model::Arch;

    #[test]
    fn what_knative_can_serve() {
        let aot = Variant::Aot(AotEngine::Wasmedge, Arch::Aarch64);
        assert_eq!(serving("f", Protocol::Http, aot).unwrap(), Serving::Wasm);
        assert_eq!(
            serving("f", Protocol::Lumos, Variant::Native(Arch::X86_64)).unwrap(),
            Serving::Container
        );
        assert_eq!(
            serving("f", Protocol::Lumos, Variant::Wasm).unwrap(),
            Serving::Wasm
        );
        assert!(serving("f", Protocol::Stdio, Variant::Native(Arch::X86_64)).is_err());
        let e = serving("f", Protocol::WasiHttp, Variant::Wasm).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("f wasm: protocol `wasi-http` is a component"),
            "{e}"
        );
        assert!(serving(
            "f",
            Protocol::Http,
            Variant::Aot(AotEngine::Wasmtime, Arch::X86_64)
        )
        .is_err());
    }
}
