//! Atomic, durable file writes: the one way files of Lumos are put in place
//! (layout blobs and `index.json`, `build.json`, bench outputs, compiled
//! modules, build outputs and cache entries).
//!
//! A file is written to a temporary file beside its destination (so the
//! rename stays within one file system), synced, renamed over the
//! destination, and the directory entry synced: a reader, a crash or a power
//! loss sees the old file or the new one, never half of one. The temporary
//! file is removed when anything fails (and when it is dropped uncommitted).
//! Temporary files are named `.lumos-tmp-*`, which lets a tool that owns a
//! directory sweep what killed writers left behind.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The prefix of every temporary file made here.
pub const TEMP_PREFIX: &str = ".lumos-tmp-";

/// Writes `bytes` to `path` atomically and durably, creating the parent
/// directory when missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = AtomicFile::beside(path)?;
    tmp.file()
        .write_all(bytes)
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.commit(path)
}

/// A temporary file in a destination's directory that becomes the
/// destination on [`commit`](AtomicFile::commit) and is removed otherwise.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
}

impl AtomicFile {
    /// A new temporary file beside `dest` (its directory created when missing).
    pub fn beside(dest: &Path) -> Result<Self> {
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        AtomicFile::new_in(dir)
    }

    /// A new temporary file in `dir` (created when missing), for a content
    /// whose final name is known only once it is written (a blob named by
    /// its digest).
    pub fn new_in(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            // As `File::create`: 0666 less the umask (tempfile's default, 0600,
            // would hide blobs and outputs from other users).
            .permissions(Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        Ok(AtomicFile { tmp })
    }

    /// Where the temporary file is (for a tool that writes it by path).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The temporary file, open for writing.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Syncs the temporary file, renames it to `dest` (which must be in the
    /// same directory as it) and syncs that directory.
    pub fn commit(self, dest: &Path) -> Result<()> {
        let tmp: PathBuf = self.tmp.path().to_path_buf();
        // Synced through its path: a tool that wrote the file by path may
        // have replaced it, and then the handle held here is not that file.
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
        self.tmp
            .persist(dest)
            .map_err(|e| Error::io(dest, e.error))?;
        sync_dir(dest)
    }
}

/// Syncs the directory holding `path`, so that a rename or creation of
/// `path` survives a crash.
pub fn sync_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .or_else(|e| match e.kind() {
            // Some file systems cannot sync a directory; the rename is still atomic.
            io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported => Ok(()),
            _ => Err(e),
        })
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_create_the_directory_and_replace_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(names(&dir.path().join("a/b")), ["out.json"]);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o044,
            0o044,
            "readable by others as File::create makes it: {mode:o}"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        write_atomic(&path, b"old").unwrap();
        // A directory where the file should go: the rename fails.
        let blocked = dir.path().join("sub");
        fs::create_dir_all(blocked.join("x")).unwrap();
        let e = write_atomic(&blocked, b"new").unwrap_err();
        assert!(e.to_string().contains("sub"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out", "sub"]);
        // Dropped uncommitted: gone as well.
        let t = AtomicFile::beside(&path).unwrap();
        let tmp = t.path().to_path_buf();
        assert!(tmp.exists());
        drop(t);
        assert!(!tmp.exists());
    }
}
