//! Which variants the command line asks for.

pub use lumos_model::{AotEngine, Arch, RuntimeFamily, Variant};

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
    fn all_runtimes_gives_seven_variants() {
        let s = Selection {
            all: true,
            ..Default::default()
        };
        assert_eq!(s.variants(RuntimeFamily::ALL).len(), 7);
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
            s.variants(RuntimeFamily::ALL),
            vec![Variant::Aot(AotEngine::Wasmtime, Arch::Aarch64)]
        );
    }
}
