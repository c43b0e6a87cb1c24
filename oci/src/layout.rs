//! An OCI image layout on disk: `oci-layout`, `index.json`, `blobs/sha256/…`.
//!
//! Every write goes through [`crate::atomic`] (a temporary file in the same
//! directory, synced and renamed into place), so a reader (or a crash) never
//! sees half a blob or half an index.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::atomic::AtomicFile;
use crate::digest::{unwrap_io, Digest, DigestWriter, VerifyingReader};
use crate::error::{Error, Result};
use crate::spec::{annotation, media, to_bytes, Descriptor, Index, MAX_DOCUMENT_BYTES};

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// A handle on an OCI image layout directory.
#[derive(Debug)]
pub struct Layout {
    root: PathBuf,
    index_lock: Mutex<()>,
}

/// Kept at this path for callers from before [`crate::atomic`].
pub use crate::atomic::write_atomic;

/// `manifest`, `index`, `config` or `blob`, for messages.
pub(crate) fn document_kind(media_type: &str) -> &'static str {
    if media::is_manifest(media_type) {
        "manifest"
    } else if media::is_index(media_type) {
        "index"
    } else if media_type.contains("config") {
        "config"
    } else {
        "blob"
    }
}

impl Layout {
    /// Opens the layout at `root`, creating it (and `oci-layout`, an empty
    /// `index.json`) when missing.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("blobs").join("sha256")).map_err(|e| Error::io(&root, e))?;
        let marker = root.join(LAYOUT_FILE);
        if !marker.exists() {
            write_atomic(&marker, LAYOUT_CONTENT)?;
        }
        let index = root.join("index.json");
        if !index.exists() {
            write_atomic(&index, &to_bytes(&Index::empty()))?;
        }
        Ok(Layout {
            root,
            index_lock: Mutex::new(()),
        })
    }

    /// Opens an existing layout; an error when `root` is not one.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let marker = root.join(LAYOUT_FILE);
        let text = fs::read(&marker).map_err(|e| Error::io(&marker, e))?;
        let v: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| Error::json(marker.display().to_string(), e))?;
        if v.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
            return Err(Error::Layout {
                path: root,
                reason: "oci-layout does not say imageLayoutVersion 1.0.0".into(),
            });
        }
        Ok(Layout {
            root,
            index_lock: Mutex::new(()),
        })
    }

    /// The layout's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with digest `d` lives.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs").join(d.algorithm()).join(d.hex())
    }

    /// Whether the blob file exists (its content is not checked).
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Stores `bytes` as a blob (a no-op when already present) and returns its digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let d = Digest::sha256(bytes);
        let path = self.blob_path(&d);
        if !path.is_file() {
            write_atomic(&path, bytes)?;
        }
        Ok(d)
    }

    /// Streams a blob into the layout. With `expected`, the content is
    /// verified while it streams and nothing is stored on a mismatch.
    pub fn write_blob_from(
        &self,
        reader: impl Read,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> Result<(Digest, u64)> {
        let dir = self.root.join("blobs").join("sha256");
        let mut tmp = AtomicFile::new_in(&dir)?;
        let path = tmp.path().to_path_buf();
        let mut w = DigestWriter::new(io::BufWriter::with_capacity(1 << 20, tmp.file()));
        match expected {
            Some((d, size)) => {
                let mut r = VerifyingReader::new(reader, d.clone(), size, format!("blob {d}"));
                io::copy(&mut r, &mut w).map_err(|e| unwrap_io(&path, e))?;
            }
            None => {
                let mut reader = reader;
                io::copy(&mut reader, &mut w).map_err(|e| Error::io(&path, e))?;
            }
        }
        let (buf, d, n) = w.finish();
        buf.into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        tmp.commit(&self.blob_path(&d))?;
        Ok((d, n))
    }

    /// Opens a blob for reading (not verified; see [`Layout::open_blob_verified`]).
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.blob_path(d);
        File::open(&p).map_err(|e| Error::io(&p, e))
    }

    /// Opens a blob through a reader that fails at its end unless the content
    /// matches `desc` (digest and size).
    pub fn open_blob_verified(
        &self,
        desc: &Descriptor,
    ) -> Result<VerifyingReader<io::BufReader<File>>> {
        let f = self.open_blob(&desc.digest)?;
        Ok(VerifyingReader::new(
            io::BufReader::with_capacity(1 << 20, f),
            desc.digest.clone(),
            Some(desc.size),
            format!("blob {} in {}", desc.digest, self.root.display()),
        ))
    }

    /// Reads a whole blob and checks its digest.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let p = self.blob_path(d);
        let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
        let actual = Digest::sha256(&bytes);
        if &actual != d {
            return Err(Error::DigestMismatch {
                what: format!("blob {}", p.display()),
                expected: d.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Reads a manifest, index or config blob: at most
    /// [`MAX_DOCUMENT_BYTES`] (checked before reading), digest and size verified.
    pub fn read_document(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let what = format!("{} {}", document_kind(&desc.media_type), desc.digest);
        if desc.size > MAX_DOCUMENT_BYTES {
            return Err(Error::DocumentTooLarge {
                what,
                size: desc.size,
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        let p = self.blob_path(&desc.digest);
        let f = File::open(&p).map_err(|e| Error::io(&p, e))?;
        let mut bytes = Vec::new();
        VerifyingReader::new(
            f.take(MAX_DOCUMENT_BYTES + 1),
            desc.digest.clone(),
            Some(desc.size),
            format!("{what} in {}", self.root.display()),
        )
        .read_to_end(&mut bytes)
        .map_err(|e| unwrap_io(&p, e))?;
        Ok(bytes)
    }

    /// Copies a manifest, index or config from `src` into this layout
    /// (unless it is here) and reads it as [`Layout::read_document`] does.
    pub fn copy_document_from(&self, src: &Layout, desc: &Descriptor) -> Result<Vec<u8>> {
        if !self.has_blob(&desc.digest) {
            let bytes = src.read_document(desc)?;
            self.write_blob(&bytes)?;
            return Ok(bytes);
        }
        self.read_document(desc)
    }

    /// Re-hashes a blob on disk against its descriptor.
    pub fn verify_blob(&self, desc: &Descriptor) -> Result<()> {
        let mut r = self.open_blob_verified(desc)?;
        io::copy(&mut r, &mut io::sink())
            .map_err(|e| unwrap_io(&self.blob_path(&desc.digest), e))?;
        Ok(())
    }

    /// Reads `index.json` (at most [`MAX_DOCUMENT_BYTES`]).
    pub fn index(&self) -> Result<Index> {
        let p = self.root.join("index.json");
        let f = File::open(&p).map_err(|e| Error::io(&p, e))?;
        let mut bytes = Vec::new();
        f.take(MAX_DOCUMENT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&p, e))?;
        if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(Error::DocumentTooLarge {
                what: p.display().to_string(),
                size: fs::metadata(&p).map_or(bytes.len() as u64, |m| m.len()),
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::json(p.display().to_string(), e))
    }

    /// Points each name (`org.opencontainers.image.ref.name`) at its descriptor,
    /// replacing an entry of the same name. Entries are kept sorted by name
    /// so the same set of images always gives the same `index.json`.
    pub fn set_refs(&self, refs: &[(String, Descriptor)]) -> Result<()> {
        let _guard = self.index_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut index = self.index()?;
        for (name, desc) in refs {
            index
                .manifests
                .retain(|d| d.annotation(annotation::REF_NAME) != Some(name.as_str()));
            let mut desc = desc.clone();
            desc.annotations
                .get_or_insert_with(Default::default)
                .insert(annotation::REF_NAME.to_string(), name.clone());
            index.manifests.push(desc);
        }
        index.manifests.sort_by(|a, b| {
            (a.annotation(annotation::REF_NAME), &a.digest)
                .cmp(&(b.annotation(annotation::REF_NAME), &b.digest))
        });
        index.media_type = Some(media::INDEX.to_string());
        write_atomic(&self.root.join("index.json"), &to_bytes(&index))
    }

    /// Every named entry of `index.json`, as (name, descriptor).
    pub fn refs(&self) -> Result<Vec<(String, Descriptor)>> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| Some((d.annotation(annotation::REF_NAME)?.to_string(), d)))
            .collect())
    }

    /// The descriptor named `name`.
    pub fn resolve(&self, name: &str) -> Result<Descriptor> {
        self.refs()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d)
            .ok_or_else(|| Error::Layout {
                path: self.root.clone(),
                reason: format!("no image named `{name}` in index.json"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_and_refs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path().join("oci")).unwrap();
        let d = layout.write_blob(b"{}").unwrap();
        assert_eq!(layout.read_blob(&d).unwrap(), b"{}");
        let desc = Descriptor::new(media::MANIFEST, d.clone(), 2);
        layout
            .set_refs(&[
                ("ns/b:x".into(), desc.clone()),
                ("ns/a:y".into(), desc.clone()),
            ])
            .unwrap();
        layout.set_refs(&[("ns/b:x".into(), desc.clone())]).unwrap();
        let names: Vec<_> = layout.refs().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["ns/a:y", "ns/b:x"]);
        assert_eq!(layout.resolve("ns/b:x").unwrap().digest, d);
        let reopened = Layout::open(layout.root()).unwrap();
        assert_eq!(reopened.refs().unwrap().len(), 2);
    }

    #[test]
    fn streamed_blob_with_wrong_digest_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let want = Digest::sha256(b"good");
        let err = layout
            .write_blob_from(&b"evil"[..], Some((&want, Some(4))))
            .unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(!layout.has_blob(&want));
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn corrupt_blob_detected() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let d = layout.write_blob(b"content").unwrap();
        fs::write(layout.blob_path(&d), b"c0ntent").unwrap();
        assert!(layout.read_blob(&d).is_err());
        assert!(layout
            .verify_blob(&Descriptor::new(media::LAYER_GZIP, d, 7))
            .is_err());
    }
}
