//! The node's state around a cold start: whether the runner may drop the
//! page cache (root), dropping it, and how much of a file is in memory.

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Why `cold-node` cannot run here, if it cannot: one line for a user.
pub fn cold_node_refusal() -> Option<String> {
    (!is_root()).then(|| {
        "--mode cold-node drops the page cache (/proc/sys/vm/drop_caches): it needs root".into()
    })
}
