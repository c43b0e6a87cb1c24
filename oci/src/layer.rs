//! Reproducible filesystem layers: sorted tar entries with their parent
//! directories, uid/gid 0, fixed mtime and modes, gzip with no name and mtime 0.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::{Compression, GzBuilder};

use crate::digest::{Digest, DigestWriter};
use crate::error::{Error, Result};
use crate::spec::{media, Descriptor};

/// The fixed gzip level of every layer (changing it changes every digest).
pub const GZIP_LEVEL: u32 = 6;

#[derive(Debug, Clone)]
enum Entry {
    Dir { mode: u32 },
    File { data: Vec<u8>, mode: u32 },
    Symlink { target: String },
}

/// Collects entries, then writes them as one reproducible layer.
#[derive(Debug, Clone)]
pub struct LayerBuilder {
    entries: BTreeMap<String, Entry>,
    mtime: u64,
}

/// A finished, compressed layer.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The gzip-compressed tar (the blob).
    pub blob: Vec<u8>,
    /// The blob's descriptor (`tar+gzip`).
    pub descriptor: Descriptor,
    /// The digest of the uncompressed tar (goes into the config's `diff_ids`).
    pub diff_id: Digest,
    /// Size of the uncompressed tar.
    pub uncompressed_size: u64,
}

impl LayerBuilder {
    /// A builder whose entries all get modification time `mtime` (seconds).
    pub fn new(mtime: u64) -> Self {
        LayerBuilder {
            entries: BTreeMap::new(),
            mtime,
        }
    }

    /// Adds a regular file at `path` (relative to the root; a leading `/` is
    /// ignored) with permission bits `mode`.
    pub fn add_file(&mut self, path: &str, data: Vec<u8>, mode: u32) -> Result<&mut Self> {
        let path = normalise(path)?;
        self.add_parents(&path);
        self.entries.insert(
            path,
            Entry::File {
                data,
                mode: mode & 0o7777,
            },
        );
        Ok(self)
    }

    /// Adds a directory.
    pub fn add_dir(&mut self, path: &str, mode: u32) -> Result<&mut Self> {
        let path = normalise(path)?;
        self.add_parents(&path);
        self.entries.insert(
            path,
            Entry::Dir {
                mode: mode & 0o7777,
            },
        );
        Ok(self)
    }

    /// Adds a symbolic link.
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<&mut Self> {
        let path = normalise(path)?;
        self.add_parents(&path);
        self.entries.insert(
            path,
            Entry::Symlink {
                target: target.to_string(),
            },
        );
        Ok(self)
    }

    fn add_parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(pos) = path[end..].find('/') {
            end += pos;
            self.entries
                .entry(path[..end].to_string())
                .or_insert(Entry::Dir { mode: 0o755 });
            end += 1;
        }
    }

    /// The uncompressed tar: entries sorted by path, directories before what
    /// they hold, uid/gid 0, no user or group names, the fixed mtime.
    pub fn tar_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_tar(&mut out)?;
        Ok(out)
    }

    fn write_tar<W: Write>(&self, w: W) -> Result<W> {
        let mut builder = tar::Builder::new(w);
        for (path, entry) in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(self.mtime);
            header.set_uid(0);
            header.set_gid(0);
            let io_err = |e| Error::io(format!("layer entry {path}"), e);
            match entry {
                Entry::Dir { mode } => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(*mode);
                    header.set_size(0);
                    builder
                        .append_data(&mut header, format!("{path}/"), std::io::empty())
                        .map_err(io_err)?;
                }
                Entry::File { data, mode } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(data.len() as u64);
                    builder
                        .append_data(&mut header, path, data.as_slice())
                        .map_err(io_err)?;
                }
                Entry::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    builder
                        .append_link(&mut header, path, target)
                        .map_err(io_err)?;
                }
            }
        }
        builder.into_inner().map_err(|e| Error::io("layer tar", e))
    }

    /// Writes the tar through a deterministic gzip and returns the layer.
    pub fn build(&self) -> Result<Layer> {
        let gz = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(DigestWriter::new(Vec::new()), Compression::new(GZIP_LEVEL));
        let tar_hash = DigestWriter::new(gz);
        let tar_hash = self.write_tar(tar_hash)?;
        let (gz, diff_id, uncompressed_size) = tar_hash.finish();
        let blob_hash = gz.finish().map_err(|e| Error::io("layer gzip", e))?;
        let (blob, digest, size) = blob_hash.finish();
        Ok(Layer {
            blob,
            descriptor: Descriptor::new(media::LAYER_GZIP, digest, size),
            diff_id,
            uncompressed_size,
        })
    }
}

/// `a/b/c` from `/a/b/c` or `./a/b/c`; no `..`, no empty names.
fn normalise(path: &str) -> Result<String> {
    let trimmed = path.trim_start_matches("./").trim_start_matches('/');
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.is_empty()
        || trimmed
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(Error::Image(format!("invalid path in layer: `{path}`")));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LayerBuilder {
        let mut b = LayerBuilder::new(0);
        b.add_file("/usr/bin/fn", b"\x7fELF".to_vec(), 0o755)
            .unwrap();
        b.add_file("/etc/x.conf", b"x".to_vec(), 0o644).unwrap();
        b.add_symlink("/bin", "usr/bin").unwrap();
        b
    }

    #[test]
    fn same_entries_same_digests() {
        let a = sample().build().unwrap();
        let b = sample().build().unwrap();
        assert_eq!(a.descriptor, b.descriptor);
        assert_eq!(a.diff_id, b.diff_id);
        assert_eq!(a.blob, b.blob);
        // gzip header: no FNAME flag, mtime 0.
        assert_eq!(&a.blob[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    }

    #[test]
    fn entries_sorted_with_parents_and_root_owned() {
        let tar = sample().tar_bytes().unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.uid().unwrap(), 0);
            assert_eq!(h.gid().unwrap(), 0);
            assert_eq!(h.mtime().unwrap(), 0);
            seen.push((
                e.path().unwrap().to_string_lossy().into_owned(),
                h.mode().unwrap(),
            ));
        }
        assert_eq!(
            seen,
            vec![
                ("bin".to_string(), 0o777),
                ("etc/".to_string(), 0o755),
                ("etc/x.conf".to_string(), 0o644),
                ("usr/".to_string(), 0o755),
                ("usr/bin/".to_string(), 0o755),
                ("usr/bin/fn".to_string(), 0o755),
            ]
        );
    }

    #[test]
    fn rejects_escaping_paths() {
        assert!(LayerBuilder::new(0)
            .add_file("../x", vec![], 0o644)
            .is_err());
        assert!(LayerBuilder::new(0)
            .add_file("a/../../x", vec![], 0o644)
            .is_err());
    }
}
