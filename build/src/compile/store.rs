//! Content-addressed cache and atomic file placement.
//!
//! Nothing is ever written in place: a file is written to a temporary name in
//! the destination's directory, synced and renamed over the final name when
//! complete ([`lumos_oci::atomic`]), so an interrupted build leaves either
//! the old file or the new one, never a half-written one.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};
use lumos_oci::atomic::{AtomicFile, TEMP_PREFIX};
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

/// Copies `src` to `dest` atomically and durably, keeping the permissions
/// (the executable bit) of `src`.
pub fn copy_atomic(src: &Path, dest: &Path) -> Result<()> {
    let tmp = AtomicFile::beside(dest)?;
    // `fs::copy` over the temporary file: the kernel's copy, and `src`'s permissions.
    fs::copy(src, tmp.path())
        .with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
    tmp.commit(dest)?;
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

    /// Makes the cache entry `dest` with `make`, which writes a temporary
    /// file beside it; the file is synced and renamed into place only when
    /// `make` succeeds, so an entry is complete or absent.
    pub fn produce(&self, dest: &Path, make: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let tmp = AtomicFile::beside(dest)?;
        make(tmp.path())?;
        tmp.commit(dest)?;
        Ok(())
    }
}

/// Takes the build lock of a `<target-dir>/lumos` directory, waiting (and
/// saying so) while another build holds it. Released when the file is dropped.
pub fn lock_dir(dir: &Path, on: &mut dyn FnMut(super::BuildEvent)) -> Result<fs::File> {
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let path = dir.join(".lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("{}: cannot open", path.display()))?;
    if file.try_lock().is_err() {
        on(super::BuildEvent::Waiting(dir.to_path_buf()));
        file.lock()
            .with_context(|| format!("{}: cannot lock", path.display()))?;
    }
    Ok(file)
}

/// Removes temporary files (`.lumos-tmp-*`) that killed builds left behind,
/// except under `except` (the image layout, which `cargo lumos image` writes
/// without the build lock). Only safe while holding the lock of [`lock_dir`].
pub fn sweep_temporaries(dir: &Path, except: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if path != except {
                sweep_temporaries(&path, except);
            }
        } else if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produced_entries_are_complete_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let dest = cache.entry("k", "key", "out.bin");
        cache
            .produce(&dest, |tmp| Ok(fs::write(tmp, b"hello")?))
            .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"hello");
        let failed = cache.entry("k", "other", "out.bin");
        let e = cache.produce(&failed, |tmp| {
            fs::write(tmp, b"half")?;
            crate::error::bail!("the tool failed")
        });
        assert!(e.is_err());
        assert!(!failed.exists());
        let names: Vec<_> = fs::read_dir(failed.parent().unwrap()).unwrap().collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn sweeping_spares_the_image_layout() {
        let dir = tempfile::tempdir().unwrap();
        let (built, layout) = (dir.path().join("f/wasm"), dir.path().join("oci"));
        let left = built.join(format!("{TEMP_PREFIX}killed"));
        // A blob an image packer is writing now, beside the build.
        let writing = AtomicFile::new_in(&layout.join("blobs/sha256")).unwrap();
        fs::create_dir_all(&built).unwrap();
        fs::write(&left, b"half").unwrap();
        sweep_temporaries(dir.path(), &layout);
        assert!(!left.exists());
        assert!(writing.path().exists());
        writing.commit(&layout.join("blobs/sha256/x")).unwrap();
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
