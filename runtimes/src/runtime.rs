//! The runtimes a function can be run in, each under its honest name.

use std::fmt;
use std::str::FromStr;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// The native executable in a container runtime (see `Sandbox`).
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
}

impl Runtime {
    pub const ALL: [Runtime; 6] = [
        Runtime::Native,
        Runtime::WasmtimeAot,
        Runtime::WasmtimeJit,
        Runtime::WasmiInterp,
        Runtime::WasmedgeInterp,
        Runtime::WasmedgeAot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Runtime::Native => "native",
            Runtime::WasmtimeAot => "wasmtime-aot",
            Runtime::WasmtimeJit => "wasmtime-jit",
            Runtime::WasmiInterp => "wasmi-interp",
            Runtime::WasmedgeInterp => "wasmedge-interp",
            Runtime::WasmedgeAot => "wasmedge-aot",
        }
    }

    pub fn is_wasm(self) -> bool {
        self != Runtime::Native
    }

    /// Whether this build of the runner can run it; if not, why.
    pub fn availability(self) -> Result<(), String> {
        match self {
            Runtime::WasmedgeInterp | Runtime::WasmedgeAot if !cfg!(feature = "wasmedge") => Err(format!(
                "{} is not available: lumos-runtimes was built without the `wasmedge` feature \
                 (install WasmEdge with scripts/install-wasmedge and build with --features wasmedge)",
                self.name()
            )),
            _ => Ok(()),
        }
    }

    /// The engine version, for the record.
    pub fn engine_version(self) -> Option<&'static str> {
        match self {
            Runtime::Native => None,
            Runtime::WasmtimeAot | Runtime::WasmtimeJit => Some(crate::engine::wasmtime::VERSION),
            Runtime::WasmiInterp => Some(crate::engine::wasmi::VERSION),
            Runtime::WasmedgeInterp | Runtime::WasmedgeAot => Some("0.14.1 (wasmedge-sdk 0.14.0)"),
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Runtime {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Runtime::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Runtime::ALL.iter().map(|r| r.name()).collect();
                crate::Error::Usage(format!(
                    "unknown runtime {s:?}; expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// How a function is invoked (DESIGN.md "Functions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The SDK's frames on stdin/stdout; long-lived instance.
    #[default]
    Lumos,
    /// One request on stdin, the response on stdout; one instance per request.
    Stdio,
    /// `POST /` on `$PORT`.
    Http,
    /// A component exporting `wasi:http/incoming-handler`, served over HTTP by
    /// the runner's wasmtime-wasi-http shim on a port the runner chooses.
    #[serde(rename = "wasi-http")]
    WasiHttp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Lumos => "lumos",
            Protocol::Stdio => "stdio",
            Protocol::Http => "http",
            Protocol::WasiHttp => "wasi-http",
        }
    }

    /// Whether the runner talks to the instance over HTTP on a port.
    pub fn is_http(self) -> bool {
        matches!(self, Protocol::Http | Protocol::WasiHttp)
    }
}

impl FromStr for Protocol {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lumos" => Ok(Protocol::Lumos),
            "stdio" => Ok(Protocol::Stdio),
            "http" => Ok(Protocol::Http),
            "wasi-http" => Ok(Protocol::WasiHttp),
            _ => Err(crate::Error::Usage(format!(
                "unknown protocol {s:?}; expected lumos, stdio, http or wasi-http"
            ))),
        }
    }
}
