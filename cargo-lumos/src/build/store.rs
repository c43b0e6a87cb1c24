//! Content-addressed cache and atomic file placement.
//!
//! Nothing is ever written in place: a file is written to a temporary name in
//! the destination's directory and renamed over the final name when complete,
//! so an interrupted build leaves either the old file or the new one, never a
//! half-written one.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A key for the cache: the sha256 of every input that determines the output.
pub fn cache_key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update((p.len() as u64).to_le_bytes());
        hasher.update(p.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Writes `bytes` to `dest` atomically (temp file in the same directory, then rename).
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent(dest)?;
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".lumos-tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("{}: cannot write", dest.display()))?;
    tmp.persist(dest)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot rename into place", dest.display()))?;
    Ok(())
}

/// Copies `src` to `dest` atomically, keeping the executable bit of `src`.
pub fn copy_atomic(src: &Path, dest: &Path) -> Result<()> {
    let dir = parent(dest)?;
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".lumos-tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    let (file, tmp_path) = tmp.into_parts();
    drop(file);
    fs::copy(src, &tmp_path)
        .with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
    fs::File::open(&tmp_path)?.sync_all()?;
    tmp_path
        .persist(dest)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot rename into place", dest.display()))?;
    Ok(())
}

/// Places `src` at `dest` unless `dest` already holds the same bytes.
/// Returns true when `dest` was (re)written.
pub fn place(src: &Path, src_sha: &str, dest: &Path) -> Result<bool> {
    if dest.is_file() && sha256_file(dest)? == src_sha {
        return Ok(false);
    }
    copy_atomic(src, dest)?;
    Ok(true)
}

/// A directory of outputs addressed by the key of their inputs:
/// `<root>/<kind>/<key>/<file name>`.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: PathBuf) -> Cache {
        Cache { root }
    }

    /// Where the output for `key` lives (it may not exist yet).
    pub fn entry(&self, kind: &str, key: &str, file_name: &str) -> PathBuf {
        self.root.join(kind).join(key).join(file_name)
    }

    /// The cached output for `key`, if a complete one exists.
    pub fn lookup(&self, kind: &str, key: &str, file_name: &str) -> Option<PathBuf> {
        let path = self.entry(kind, key, file_name);
        path.is_file().then_some(path)
    }

    /// Stores `bytes` as the output for `key` (atomically) and returns its path.
    pub fn store(&self, kind: &str, key: &str, file_name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.entry(kind, key, file_name);
        write_atomic(&path, bytes)?;
        Ok(path)
    }
}

/// Takes the build lock of a `<target-dir>/lumos` directory, waiting (and
/// saying so) while another build holds it. Released when the file is dropped.
pub fn lock_dir(dir: &Path) -> Result<fs::File> {
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let path = dir.join(".lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("{}: cannot open", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!("    Blocking waiting for file lock on {}", dir.display());
        file.lock()
            .with_context(|| format!("{}: cannot lock", path.display()))?;
    }
    Ok(file)
}

/// Removes temporary files (`.lumos-tmp-*`) that killed builds left behind.
/// Only safe while holding the lock of [`lock_dir`].
pub fn sweep_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            sweep_temporaries(&path);
        } else if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".lumos-tmp-")
        {
            let _ = fs::remove_file(&path);
        }
    }
}

fn parent(path: &Path) -> Result<&Path> {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| anyhow::anyhow!("{}: has no parent directory", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a/b/out.bin");
        write_atomic(&dest, b"hello").unwrap();
        write_atomic(&dest, b"world").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"world");
        let names: Vec<_> = fs::read_dir(dest.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(cache_key(&["ab", "c"]), cache_key(&["a", "bc"]));
        assert_eq!(cache_key(&["x"]), cache_key(&["x"]));
    }

    #[test]
    fn place_skips_identical_content() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"bytes").unwrap();
        let sha = sha256_file(&src).unwrap();
        assert_eq!(sha, hex::encode(Sha256::digest(b"bytes")));
        let dest = dir.path().join("out/dest");
        assert!(place(&src, &sha, &dest).unwrap());
        assert!(!place(&src, &sha, &dest).unwrap());
    }
}
