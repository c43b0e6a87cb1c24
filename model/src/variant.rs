//! What a function is built into: one variant per directory under
//! `<target-dir>/lumos/<function>/` and per image tag.

use crate::names::named_enum;
use crate::{Arch, UnknownName};

/// A family of runtimes a function may support (metadata `runtimes`, `build --runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuntimeFamily {
    Native,
    Wasm,
    Aot,
}

named_enum!(RuntimeFamily, "runtime", {
    Native => "native",
    Wasm => "wasm",
    Aot => "aot",
});

/// An ahead-of-time compiler for wasm (`--aot-engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AotEngine {
    Wasmedge,
    Wasmtime,
}

named_enum!(AotEngine, "AoT engine", {
    Wasmedge => "wasmedge",
    Wasmtime => "wasmtime",
});

/// One artifact kind of a function: `native-x86_64`, `wasm`, `aot-wasmtime-aarch64`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    Native(Arch),
    Wasm,
    Aot(AotEngine, Arch),
}

impl Variant {
    /// Every variant, in a stable order.
    pub fn all() -> Vec<Variant> {
        let mut v: Vec<Variant> = Arch::ALL.iter().map(|&a| Variant::Native(a)).collect();
        v.push(Variant::Wasm);
        for &e in AotEngine::ALL {
            v.extend(Arch::ALL.iter().map(|&a| Variant::Aot(e, a)));
        }
        v
    }

    /// The runtime family the variant belongs to.
    pub fn family(self) -> RuntimeFamily {
        match self {
            Variant::Native(_) => RuntimeFamily::Native,
            Variant::Wasm => RuntimeFamily::Wasm,
            Variant::Aot(..) => RuntimeFamily::Aot,
        }
    }

    /// The CPU its code is for (None: wasm runs anywhere).
    pub fn arch(self) -> Option<Arch> {
        match self {
            Variant::Native(a) | Variant::Aot(_, a) => Some(a),
            Variant::Wasm => None,
        }
    }

    /// The artifact's file name inside the variant directory (and the
    /// image's entry: wasm and AoT entries must end in `.wasm` for crun and
    /// runwasi, but a wasmtime `.cwasm` keeps its own extension).
    pub fn file_name(self, function: &str) -> String {
        match self {
            Variant::Native(_) => function.to_string(),
            Variant::Wasm | Variant::Aot(AotEngine::Wasmedge, _) => format!("{function}.wasm"),
            Variant::Aot(AotEngine::Wasmtime, _) => format!("{function}.cwasm"),
        }
    }

    /// The image tag: the variant's name, except that the native variants of
    /// both CPUs also stand together under the index tagged `native`.
    pub fn image_tag(self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Variant::Native(a) => write!(f, "native-{a}"),
            Variant::Wasm => f.write_str("wasm"),
            Variant::Aot(e, a) => write!(f, "aot-{e}-{a}"),
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::all()
            .into_iter()
            .find(|v| v.to_string() == s)
            .ok_or_else(|| {
                let names: Vec<String> = Variant::all().iter().map(|v| v.to_string()).collect();
                UnknownName {
                    what: "variant",
                    value: s.to_string(),
                    expected: names.join(", "),
                }
            })
    }
}

impl serde::Serialize for Variant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Variant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in Variant::all() {
            assert_eq!(v.to_string().parse::<Variant>().unwrap(), v);
        }
        assert_eq!(Variant::all().len(), 7);
        assert_eq!(
            Variant::Aot(AotEngine::Wasmedge, Arch::Aarch64).to_string(),
            "aot-wasmedge-aarch64"
        );
        assert_eq!(Variant::Native(Arch::X86_64).to_string(), "native-x86_64");
        let e = "native-riscv64".parse::<Variant>().unwrap_err().to_string();
        assert!(
            e.contains("native-riscv64") && e.contains("aot-wasmtime-x86_64"),
            "{e}"
        );
        assert_eq!(
            serde_json::to_string(&Variant::Aot(AotEngine::Wasmtime, Arch::X86_64)).unwrap(),
            "\"aot-wasmtime-x86_64\""
        );
    }

    #[test]
    fn aliases_and_refusals() {
        assert_eq!("arm64".parse::<Arch>().unwrap(), Arch::Aarch64);
        assert!("jvm".parse::<RuntimeFamily>().is_err());
        let e = "wamr".parse::<AotEngine>().unwrap_err().to_string();
        assert!(
            e.contains("`wamr`") && e.contains("wasmedge, wasmtime"),
            "{e}"
        );
    }
}
