//! Where a native function runs.

use crate::names::named_enum;

/// The sandbox of a native instance.
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
}

named_enum!(Sandbox, "sandbox", {
    Runc => "runc",
    Crun => "crun",
    Chroot => "chroot",
    Process => "process",
});

impl Sandbox {
    /// The sandbox's name (same as [`Sandbox::as_str`]).
    pub fn name(self) -> &'static str {
        self.as_str()
    }
}
