//! The variants a function is built into, and how the command line selects them.

use std::fmt;
use std::str::FromStr;

/// A family of runtimes a function may support (`runtimes` metadata key, `--runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuntimeFamily {
    Native,
    Wasm,
    Aot,
}

impl RuntimeFamily {
    pub const ALL: [RuntimeFamily; 3] = [
        RuntimeFamily::Native,
        RuntimeFamily::Wasm,
        RuntimeFamily::Aot,
    ];
}

/// A CPU architecture of native code (`--arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

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

    /// Debian's name of the architecture (and of WasmEdge sysroots).
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

/// An ahead-of-time compiler for wasm (`--aot-engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AotEngine {
    Wasmedge,
    Wasmtime,
}

impl AotEngine {
    pub const ALL: [AotEngine; 2] = [AotEngine::Wasmedge, AotEngine::Wasmtime];

    pub fn as_str(self) -> &'static str {
        match self {
            AotEngine::Wasmedge => "wasmedge",
            AotEngine::Wasmtime => "wasmtime",
        }
    }
}

/// One artifact kind of a function; its name is the directory and the image tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    Native(Arch),
    Wasm,
    Aot(AotEngine, Arch),
}

impl Variant {
    /// The artifact's file name inside the variant directory.
    pub fn file_name(self, function: &str) -> String {
        match self {
            Variant::Native(_) => function.to_string(),
            Variant::Wasm | Variant::Aot(AotEngine::Wasmedge, _) => format!("{function}.wasm"),
            Variant::Aot(AotEngine::Wasmtime, _) => format!("{function}.cwasm"),
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Variant::Native(a) => write!(f, "native-{}", a.as_str()),
            Variant::Wasm => f.write_str("wasm"),
            Variant::Aot(e, a) => write!(f, "aot-{}-{}", e.as_str(), a.as_str()),
        }
    }
}

/// A name on the command line or in metadata that is not one we know.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} `{value}` (expected one of: {expected})")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl FromStr for RuntimeFamily {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "native" => Ok(RuntimeFamily::Native),
            "wasm" => Ok(RuntimeFamily::Wasm),
            "aot" => Ok(RuntimeFamily::Aot),
            _ => Err(UnknownName {
                what: "runtime",
                value: s.to_string(),
                expected: "native, wasm, aot",
            }),
        }
    }
}

impl FromStr for Arch {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86_64" | "amd64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            _ => Err(UnknownName {
                what: "arch",
                value: s.to_string(),
                expected: "x86_64, aarch64",
            }),
        }
    }
}

impl FromStr for AotEngine {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "wasmedge" => Ok(AotEngine::Wasmedge),
            "wasmtime" => Ok(AotEngine::Wasmtime),
            _ => Err(UnknownName {
                what: "AoT engine",
                value: s.to_string(),
                expected: "wasmedge, wasmtime",
            }),
        }
    }
}

/// What the command line asked for; an empty list means "no restriction".
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--all-runtimes`: every family, both arches, both AoT engines.
    pub all: bool,
    pub runtimes: Vec<RuntimeFamily>,
    pub arches: Vec<Arch>,
    pub aot_engines: Vec<AotEngine>,
}

impl Selection {
    /// The variants to build for a function supporting `supported` families.
    ///
    /// Without `--all-runtimes` and without any narrowing flag, the default is the
    /// host's native binary and the wasm module: the quick inner loop.
    pub fn variants(&self, supported: &[RuntimeFamily]) -> Vec<Variant> {
        let narrowed =
            !self.runtimes.is_empty() || !self.arches.is_empty() || !self.aot_engines.is_empty();
        let families: Vec<RuntimeFamily> = if !self.runtimes.is_empty() {
            self.runtimes.clone()
        } else if self.all || narrowed {
            RuntimeFamily::ALL.to_vec()
        } else {
            vec![RuntimeFamily::Native, RuntimeFamily::Wasm]
        };
        let arches: Vec<Arch> = if !self.arches.is_empty() {
            self.arches.clone()
        } else if self.all || narrowed {
            Arch::ALL.to_vec()
        } else {
            Arch::host().into_iter().collect()
        };
        let engines: Vec<AotEngine> = if self.aot_engines.is_empty() {
            AotEngine::ALL.to_vec()
        } else {
            self.aot_engines.clone()
        };
        let mut out = Vec::new();
        for family in families.iter().filter(|f| supported.contains(f)) {
            match family {
                RuntimeFamily::Native => out.extend(arches.iter().map(|&a| Variant::Native(a))),
                RuntimeFamily::Wasm => out.push(Variant::Wasm),
                RuntimeFamily::Aot => {
                    for &e in &engines {
                        out.extend(arches.iter().map(|&a| Variant::Aot(e, a)));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_design() {
        assert_eq!(Variant::Native(Arch::X86_64).to_string(), "native-x86_64");
        assert_eq!(Variant::Wasm.to_string(), "wasm");
        assert_eq!(
            Variant::Aot(AotEngine::Wasmedge, Arch::Aarch64).to_string(),
            "aot-wasmedge-aarch64"
        );
        assert_eq!(
            Variant::Aot(AotEngine::Wasmtime, Arch::X86_64).file_name("f"),
            "f.cwasm"
        );
    }

    #[test]
    fn all_runtimes_gives_seven_variants() {
        let s = Selection {
            all: true,
            ..Default::default()
        };
        assert_eq!(s.variants(&RuntimeFamily::ALL).len(), 7);
        assert_eq!(s.variants(&[RuntimeFamily::Wasm]), vec![Variant::Wasm]);
    }

    #[test]
    fn narrowing_flags_select() {
        let s = Selection {
            all: true,
            runtimes: vec![RuntimeFamily::Aot],
            arches: vec![Arch::Aarch64],
            aot_engines: vec![AotEngine::Wasmtime],
        };
        assert_eq!(
            s.variants(&RuntimeFamily::ALL),
            vec![Variant::Aot(AotEngine::Wasmtime, Arch::Aarch64)]
        );
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!("jvm".parse::<RuntimeFamily>().is_err());
        assert!("riscv64".parse::<Arch>().is_err());
        let e = "wamr".parse::<AotEngine>().unwrap_err().to_string();
        assert!(
            e.contains("`wamr`") && e.contains("wasmedge, wasmtime"),
            "{e}"
        );
    }
}
