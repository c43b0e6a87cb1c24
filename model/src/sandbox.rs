//! Where a function's instance runs.

use crate::names::named_enum;
use crate::Runtime;

/// The sandbox of an instance: a native one (runc, crun, chroot, process)
/// for native images under Lumos's own runner, or a private containerd as a
/// Kubernetes node runs images (runc for native images, crun built with
/// WasmEdge for wasm and WasmEdge AoT images, as a Kwasm node does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sandbox {
    /// `runc` with a config.json bundle per instance.
    Runc,
    /// `crun` likewise.
    Crun,
    /// `unshare` + chroot.
    Chroot,
    /// A plain process.
    Process,
    /// A request, never a result: a private containerd, its runtime chosen
    /// by the runtime asked for ([`Sandbox::under_containerd`]).
    Containerd,
    /// A private containerd running the image with runc (native images).
    ContainerdRunc,
    /// A private containerd running the image with crun built with WasmEdge
    /// (`module.wasm.image/variant: compat-smart`, a `.wasm` entrypoint):
    /// runtimes wasmedge-interp and wasmedge-aot.
    ContainerdCrunWasmedge,
}

named_enum!(Sandbox, "sandbox", {
    Runc => "runc",
    Crun => "crun",
    Chroot => "chroot",
    Process => "process",
    Containerd => "containerd",
    ContainerdRunc => "containerd-runc",
    ContainerdCrunWasmedge => "containerd-crun-wasmedge",
});

impl Sandbox {
    /// The sandbox's name (same as [`Sandbox::as_str`]).
    pub fn name(self) -> &'static str {
        self.as_str()
    }

    /// Whether instances run under a private containerd.
    pub fn is_containerd(self) -> bool {
        matches!(
            self,
            Sandbox::Containerd | Sandbox::ContainerdRunc | Sandbox::ContainerdCrunWasmedge
        )
    }

    /// For a containerd sandbox: what runs `runtime` under containerd, as a
    /// Kubernetes node with Kwasm would: native with runc, WasmEdge
    /// (interpreted, or AoT from a universal module) with crun built with
    /// WasmEdge. Err says why the pair does not go together; None for a
    /// sandbox that is not containerd's.
    pub fn under_containerd(self, runtime: Runtime) -> Option<Result<Sandbox, String>> {
        if !self.is_containerd() {
            return None;
        }
        let fits = match runtime {
            Runtime::Native => Sandbox::ContainerdRunc,
            Runtime::WasmedgeInterp | Runtime::WasmedgeAot => Sandbox::ContainerdCrunWasmedge,
            other => {
                return Some(Err(format!(
                    "runtime {other} does not run under containerd: crun's wasm handler is \
                     WasmEdge; use native (runc), wasmedge-interp or wasmedge-aot (crun+WasmEdge)"
                )))
            }
        };
        Some(match self {
            Sandbox::Containerd => Ok(fits),
            s if s == fits => Ok(s),
            s => Err(format!(
                "sandbox {s} does not run runtime {runtime}: containerd runs it with {fits}"
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerd_picks_runc_for_native_and_crun_wasmedge_for_wasmedge() {
        let c = Sandbox::Containerd;
        assert_eq!(
            c.under_containerd(Runtime::Native),
            Some(Ok(Sandbox::ContainerdRunc))
        );
        assert_eq!(
            c.under_containerd(Runtime::WasmedgeAot),
            Some(Ok(Sandbox::ContainerdCrunWasmedge))
        );
        assert_eq!(
            c.under_containerd(Runtime::WasmedgeInterp),
            Some(Ok(Sandbox::ContainerdCrunWasmedge))
        );
        let e = c
            .under_containerd(Runtime::WasmtimeJit)
            .unwrap()
            .unwrap_err();
        assert!(e.contains("wasmtime-jit") && e.contains("WasmEdge"), "{e}");
        let e = Sandbox::ContainerdRunc
            .under_containerd(Runtime::WasmedgeAot)
            .unwrap()
            .unwrap_err();
        assert!(e.contains("containerd-crun-wasmedge"), "{e}");
        assert_eq!(Sandbox::Runc.under_containerd(Runtime::Native), None);
        assert_eq!(
            "containerd-crun-wasmedge".parse::<Sandbox>().unwrap(),
            Sandbox::ContainerdCrunWasmedge
        );
    }
}
