//! The node's state around a cold start: whether the runner may drop the
//! page cache (root), dropping it, and how much of a file is in memory.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub use lumos_model::Residency;

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

/// Writes dirty pages back (`sync`), then asks the kernel to drop the clean
/// page cache, dentries and inodes (`3` into `/proc/sys/vm/drop_caches`).
/// Pages mapped by a live process (this runner's own code in use, say) stay.
pub fn drop_page_cache() -> crate::Result<()> {
    if let Some(why) = cold_node_refusal() {
        return Err(crate::Error::Usage(why));
    }
    // SAFETY: sync has no preconditions and cannot fail.
    unsafe { libc::sync() };
    let p = "/proc/sys/vm/drop_caches";
    std::fs::write(p, b"3").map_err(|e| crate::Error::io("drop the page cache", p, e))
}

/// `name` on `$PATH`, as the instance's `Command` would find it.
pub fn which(name: &str) -> Option<PathBuf> {
    lumos_services::on_path(name)
}

/// Resident pages of one file. Hand-written over `libc` (no crate offers
/// this): the file is mapped read-only and shared, *without* touching it
/// (no `MAP_POPULATE`, no read), so the probe itself faults nothing in;
/// `mincore(2)` then fills one byte per page whose low bit says whether that
/// page of the file is in the page cache. An empty file spans no pages.
pub fn file_residency(path: &Path) -> std::io::Result<Residency> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len() as usize;
    let mut r = Residency {
        path: Some(path.to_path_buf()),
        files: 1,
        ..Default::default()
    };
    if len == 0 {
        return Ok(r);
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    let pages = len.div_ceil(page);
    // SAFETY: a fresh read-only mapping of an open file of `len` bytes; it is
    // only passed to mincore and unmapped below, never dereferenced.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let mut vec = vec![0u8; pages];
    // SAFETY: `addr` is page-aligned (mmap), spans `len` bytes, and `vec`
    // holds one byte per page of that range.
    let rc = unsafe { libc::mincore(addr, len, vec.as_mut_ptr()) };
    let err = (rc != 0).then(std::io::Error::last_os_error);
    // SAFETY: the mapping made above, unmapped once.
    unsafe { libc::munmap(addr, len) };
    if let Some(e) = err {
        return Err(e);
    }
    r.pages = pages as u64;
    r.resident_pages = vec.iter().filter(|b| *b & 1 == 1).count() as u64;
    Ok(r)
}

/// Resident pages of every regular file under `dir` (links not followed),
/// summed. A file that cannot be probed counts as its pages, none resident.
pub fn tree_residency(dir: &Path) -> Residency {
    let mut total = Residency::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                total.files += 1;
                if let Ok(r) = file_residency(&e.path()) {
                    total.pages += r.pages;
                    total.resident_pages += r.resident_pages;
                }
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residency_of_a_file_just_written_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![7u8; 3 * 4096 + 1]).unwrap();
        let _ = std::fs::read(&p).unwrap();
        let r = file_residency(&p).unwrap();
        assert_eq!((r.files, r.pages), (1, 4));
        assert_eq!(r.resident_pages, 4, "{r:?}");
        let empty = dir.path().join("e");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(file_residency(&empty).unwrap().pages, 0);
        let t = tree_residency(dir.path());
        assert_eq!((t.files, t.pages), (2, 4));
    }
}
