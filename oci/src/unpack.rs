//! Unpacking a layer stack into a root filesystem, safely.
//!
//! - No entry lands outside the root: absolute names and `..` are refused;
//!   symlinks met on the way to an entry are resolved inside the root (an
//!   absolute target is taken relative to the root, as in the container),
//!   and one whose `..` would climb above the root is refused; a final
//!   component that is a symlink is replaced, never written through;
//!   hardlink targets are resolved the same way and must exist inside.
//! - Device nodes and FIFOs are skipped (counted in [`UnpackStats`]).
//! - Whiteouts (`.wh.NAME`, `.wh..wh..opq`) remove what lower layers put there.
//! - The uncompressed size of all layers together is bounded, checked while
//!   decompressing, so a gzip bomb stops at the bound.
//! - Every layer's digest is verified while it streams.
//! - On failure, what the unpack added at the top of the root is removed
//!   again (and the root itself when the unpack created it): a caller that
//!   unpacks into a new directory gets nothing half-written back. Only
//!   top-level entries are removed, by name, so a symlink the layer planted
//!   is never followed while cleaning up.
//! - Errors name the layer (its digest) and the limit they hit.

use std::collections::{HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::read::GzDecoder;

use crate::digest::unwrap_io;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::spec::{media, Descriptor, Manifest};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
const MAX_LINK_HOPS: u32 = 40;

/// The default [`UnpackLimits::max_bytes`]: 8 GiB. Function images are tens of
/// MiB (a debian-slim base is 78 MB unpacked); container platforms allow
/// images up to about 10 GB (AWS Lambda), so a real image stays below it
/// while a gzip bomb stops there.
pub const DEFAULT_MAX_BYTES: u64 = 8 << 30;
/// The default [`UnpackLimits::max_entries`]: 1,000,000 (a debian-slim base
/// has about 6,000).
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;

/// Bounds on what an unpack may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct UnpackLimits {
    /// Uncompressed bytes of all layers together (tar headers included).
    pub max_bytes: u64,
    /// Entries of all layers together.
    pub max_entries: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

/// What an unpack did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    pub layers: u32,
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub whiteouts: u64,
    /// Device nodes, FIFOs and unknown entry types left out.
    pub skipped: u64,
    /// Uncompressed tar bytes read.
    pub tar_bytes: u64,
    /// Bytes of regular file content written.
    pub file_bytes: u64,
}

/// Unpacks every layer of `manifest` (blobs in `layout`) into `root`, in order.
/// On failure, what this call added at the top of `root` is removed again.
pub fn unpack_image(
    layout: &Layout,
    manifest: &Manifest,
    root: &Path,
    limits: &UnpackLimits,
) -> Result<UnpackStats> {
    let mut stats = UnpackStats::default();
    with_cleanup(root, || {
        for layer in &manifest.layers {
            unpack_blob(layout, layer, root, limits, &mut stats).map_err(|e| Error::Layer {
                digest: layer.digest.clone(),
                source: Box::new(e),
            })?;
        }
        Ok(())
    })?;
    Ok(stats)
}

fn unpack_blob(
    layout: &Layout,
    layer: &Descriptor,
    root: &Path,
    limits: &UnpackLimits,
    stats: &mut UnpackStats,
) -> Result<()> {
    let mut verifying = layout.open_blob_verified(layer)?;
    let blob_path = layout.blob_path(&layer.digest);
    if layer.media_type == media::WASM_LAYER {
        // A CNCF Wasm artifact: the raw module, named by its title.
        let title = layer
            .annotation("org.opencontainers.image.title")
            .unwrap_or("module.wasm");
        let comps = components(Path::new(title), title)?;
        if comps.len() != 1 {
            return Err(unsafe_entry(
                title,
                "a wasm layer title must be a plain file name",
            ));
        }
        fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let target = root.join(&comps[0]);
        if target.symlink_metadata().is_ok() {
            remove_any(&target)?;
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc_o_nofollow())
            .open(&target)
            .map_err(|e| Error::io(&target, e))?;
        let limit = limits.max_bytes;
        let mut used = stats.tar_bytes;
        let n = io::copy(
            &mut Bounded {
                inner: &mut verifying,
                used: &mut used,
                limit,
            },
            &mut f,
        )
        .map_err(|e| map_copy(&target, limit, e))?;
        stats.tar_bytes = used;
        stats.file_bytes += n;
        stats.files += 1;
        stats.layers += 1;
        return Ok(());
    }
    unpack_stream(&mut verifying, &layer.media_type, root, limits, stats)?;
    // Read what the decompressor left (gzip trailer, padding) so the
    // digest is checked over the whole blob.
    io::copy(&mut verifying, &mut io::sink()).map_err(|e| unwrap_io(&blob_path, e))?;
    Ok(())
}

/// Runs `f`; when it fails, removes what appeared at the top of `root`
/// meanwhile (and `root` when it did not exist before).
fn with_cleanup<T>(root: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let existed = root.symlink_metadata().is_ok();
    let before: HashSet<OsString> = match fs::read_dir(root) {
        Ok(entries) => entries.filter_map(|e| Some(e.ok()?.file_name())).collect(),
        Err(_) => HashSet::new(),
    };
    let result = f();
    if result.is_err() {
        if !existed {
            if let Err(e) = fs::remove_dir_all(root) {
                tracing::warn!(root = %root.display(), %e, "cannot remove a partial unpack");
            }
        } else if let Ok(entries) = fs::read_dir(root) {
            for e in entries.flatten() {
                if !before.contains(&e.file_name()) {
                    // One name below the root: remove_any does not follow a
                    // symlink in the last component, and remove_dir_all does
                    // not follow symlinks inside.
                    if let Err(err) = remove_any(&root.join(e.file_name())) {
                        tracing::warn!(%err, "cannot remove part of a failed unpack");
                    }
                }
            }
        }
    }
    result
}

/// A reader that fails once more than `limit - used` bytes pass, and marks
/// the errors of its inner reader as errors of the layer data.
struct Bounded<'a, R> {
    inner: R,
    used: &'a mut u64,
    limit: u64,
}

#[derive(Debug)]
struct LimitExceeded;
impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unpack size limit exceeded")
    }
}
impl std::error::Error for LimitExceeded {}

/// An error reading (decompressing) the layer, as opposed to writing the root.
#[derive(Debug)]
struct ReadFailed(io::Error);
impl std::fmt::Display for ReadFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for ReadFailed {}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            if e.get_ref().is_some_and(|i| i.is::<Error>()) {
                e // already one of ours (digest or size mismatch): kept
            } else {
                io::Error::new(e.kind(), ReadFailed(e))
            }
        })?;
        *self.used += n as u64;
        if *self.used > self.limit {
            return Err(io::Error::other(LimitExceeded));
        }
        Ok(n)
    }
}

/// An error met while reading the layer (through the tar reader).
fn map_read(limit: u64, e: io::Error) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<LimitExceeded>()) {
        return Error::TooLarge { limit };
    }
    if e.get_ref().is_some_and(|i| i.is::<Error>()) {
        return unwrap_io(Path::new(""), e);
    }
    if e.get_ref().is_some_and(|i| i.is::<ReadFailed>()) {
        if let Some(Ok(r)) = e.into_inner().map(|b| b.downcast::<ReadFailed>()) {
            return Error::LayerData { source: r.0 };
        }
        unreachable!("checked above");
    }
    // The tar reader's own complaints (bad header, truncated archive).
    Error::LayerData { source: e }
}

/// An error of a copy from the layer into `target`: reading is the
/// layer's fault, anything else is writing `target`.
fn map_copy(target: &Path, limit: u64, e: io::Error) -> Error {
    let ours = e
        .get_ref()
        .is_some_and(|i| i.is::<LimitExceeded>() || i.is::<Error>() || i.is::<ReadFailed>());
    if ours {
        map_read(limit, e)
    } else {
        Error::io(target, e)
    }
}

/// Unpacks one layer stream (`tar`, `tar+gzip`) into `root`. On failure,
/// what this call added at the top of `root` is removed again.
pub fn unpack_layer(
    reader: impl Read,
    media_type: &str,
    root: &Path,
    limits: &UnpackLimits,
    stats: &mut UnpackStats,
) -> Result<()> {
    with_cleanup(root, || {
        unpack_stream(reader, media_type, root, limits, stats)
    })
}

fn unpack_stream(
    reader: impl Read,
    media_type: &str,
    root: &Path,
    limits: &UnpackLimits,
    stats: &mut UnpackStats,
) -> Result<()> {
    fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    let root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let decompressed: Box<dyn Read + '_> = match media_type {
        media::LAYER_GZIP | media::DOCKER_LAYER_GZIP => Box::new(GzDecoder::new(reader)),
        media::LAYER_TAR | media::DOCKER_LAYER_TAR => Box::new(reader),
        other => {
            return Err(Error::UnsupportedMediaType {
                what: "layer to unpack".into(),
                media_type: other.to_string(),
            })
        }
    };
    let limit = limits.max_bytes;
    let mut used = stats.tar_bytes;
    let result = {
        let bounded = Bounded {
            inner: decompressed,
            used: &mut used,
            limit,
        };
        let mut archive = tar::Archive::new(bounded);
        unpack_entries(&mut archive, &root, limits, stats).and_then(|()| {
            // Drain the end-of-archive blocks through the bound.
            io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| map_read(limit, e))?;
            Ok(())
        })
    };
    stats.tar_bytes = used;
    stats.layers += 1;
    result
}

fn unpack_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    root: &Path,
    limits: &UnpackLimits,
    stats: &mut UnpackStats,
) -> Result<()> {
    let limit = limits.max_bytes;
    let mut created: HashSet<PathBuf> = HashSet::new();
    let entries = archive.entries().map_err(|e| map_read(limit, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| map_read(limit, e))?;
        stats.entries += 1;
        if stats.entries > limits.max_entries {
            return Err(Error::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let raw = entry.path().map_err(|e| map_read(limit, e))?.into_owned();
        let shown = raw.display().to_string();
        let comps = components(&raw, &shown)?;
        let Some((name, parents)) = comps.split_last() else {
            continue; // the root itself
        };
        let kind = entry.header().entry_type();
        let name_str = name.to_string_lossy();

        if name_str == OPAQUE {
            let dir = resolve(root, parents, false, &mut created, &shown)?;
            if dir.is_dir() && !is_symlink(&dir) {
                for child in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                    let child = child.map_err(|e| Error::io(&dir, e))?.path();
                    if !created.contains(&child) {
                        remove_any(&child)?;
                    }
                }
            }
            stats.whiteouts += 1;
            continue;
        }
        if let Some(hidden) = name_str.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.contains('/') {
                return Err(unsafe_entry(&shown, "bad whiteout name"));
            }
            let dir = resolve(root, parents, false, &mut created, &shown)?;
            let target = dir.join(hidden);
            if target.symlink_metadata().is_ok() {
                remove_any(&target)?;
            }
            stats.whiteouts += 1;
            continue;
        }

        match kind {
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                tracing::debug!(path = %shown, "skipping device node or FIFO");
                stats.skipped += 1;
                continue;
            }
            tar::EntryType::Regular
            | tar::EntryType::Continuous
            | tar::EntryType::Directory
            | tar::EntryType::Symlink
            | tar::EntryType::Link => {}
            other => {
                tracing::debug!(path = %shown, ?other, "skipping unsupported entry type");
                stats.skipped += 1;
                continue;
            }
        }

        let parent = resolve(root, parents, true, &mut created, &shown)?;
        let target = parent.join(name);
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().ok().and_then(|u| u32::try_from(u).ok());
        let gid = header.gid().ok().and_then(|g| u32::try_from(g).ok());
        let mtime = header.mtime().ok();
        let existing = target.symlink_metadata().ok();

        match kind {
            tar::EntryType::Directory => {
                match existing {
                    Some(m) if m.is_dir() => {}
                    Some(_) => {
                        remove_any(&target)?;
                        fs::create_dir(&target).map_err(|e| Error::io(&target, e))?;
                    }
                    None => fs::create_dir(&target).map_err(|e| Error::io(&target, e))?,
                }
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                    .map_err(|e| Error::io(&target, e))?;
                stats.dirs += 1;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if existing.is_some() {
                    remove_any(&target)?;
                }
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc_o_nofollow())
                    .open(&target)
                    .map_err(|e| Error::io(&target, e))?;
                let n = io::copy(&mut entry, &mut f).map_err(|e| map_copy(&target, limit, e))?;
                stats.file_bytes += n;
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                    .map_err(|e| Error::io(&target, e))?;
                if let Some(t) = mtime {
                    let _ = set_mtime(&f, t);
                }
                stats.files += 1;
            }
            tar::EntryType::Symlink => {
                let link = link_target(&entry, limit, &shown, "symlink")?;
                if existing.is_some() {
                    remove_any(&target)?;
                }
                std::os::unix::fs::symlink(&link, &target).map_err(|e| Error::io(&target, e))?;
                stats.symlinks += 1;
            }
            tar::EntryType::Link => {
                let link = link_target(&entry, limit, &shown, "hardlink")?;
                let link_shown = link.display().to_string();
                let link_comps = components(&link, &link_shown)?;
                let Some((lname, lparents)) = link_comps.split_last() else {
                    return Err(unsafe_entry(&shown, "hardlink to the root"));
                };
                let lparent = resolve(root, lparents, false, &mut created, &link_shown)?;
                let source = lparent.join(lname);
                let meta = source.symlink_metadata().map_err(|_| {
                    unsafe_entry(
                        &shown,
                        &format!("hardlink target `{link_shown}` is not in the layer stack"),
                    )
                })?;
                if meta.is_dir() {
                    return Err(unsafe_entry(&shown, "hardlink to a directory"));
                }
                if existing.is_some() {
                    remove_any(&target)?;
                }
                fs::hard_link(&source, &target).map_err(|e| Error::io(&target, e))?;
                stats.hardlinks += 1;
            }
            _ => unreachable!("filtered above"),
        }
        if let (Some(u), Some(g)) = (uid, gid) {
            // Only root may give files away; as anyone else the files stay ours.
            let _ = std::os::unix::fs::lchown(&target, Some(u), Some(g));
        }
        created.insert(target);
    }
    Ok(())
}

/// `O_NOFOLLOW` on Linux: the file is created fresh (`create_new`), and this
/// makes sure a symlink raced into its place is not followed either.
fn libc_o_nofollow() -> i32 {
    0o400000
}

fn set_mtime(f: &File, secs: u64) -> io::Result<()> {
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// The target a `kind` (`symlink`, `hardlink`) entry names.
fn link_target<R: Read>(
    entry: &tar::Entry<'_, R>,
    limit: u64,
    shown: &str,
    kind: &str,
) -> Result<PathBuf> {
    entry
        .link_name()
        .map_err(|e| map_read(limit, e))?
        .map(|l| l.into_owned())
        .ok_or_else(|| unsafe_entry(shown, &format!("{kind} without a target")))
}

fn unsafe_entry(path: &str, reason: &str) -> Error {
    Error::UnsafeEntry {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// The normal components of an entry name; absolute names and `..` refused.
fn components(path: &Path, shown: &str) -> Result<Vec<OsString>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry(shown, "absolute path"));
            }
            Component::ParentDir => return Err(unsafe_entry(shown, "`..` in the path")),
        }
    }
    Ok(out)
}

fn is_symlink(p: &Path) -> bool {
    p.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
}

fn remove_any(p: &Path) -> Result<()> {
    let m = p.symlink_metadata().map_err(|e| Error::io(p, e))?;
    if m.is_dir() {
        fs::remove_dir_all(p).map_err(|e| Error::io(p, e))
    } else {
        fs::remove_file(p).map_err(|e| Error::io(p, e))
    }
}

/// The directory `comps` names inside `root`, following symlinks inside the
/// root (absolute targets are rooted at `root`; `..` above the root is
/// refused). Missing directories are created when `create` is set.
fn resolve(
    root: &Path,
    comps: &[OsString],
    create: bool,
    created: &mut HashSet<PathBuf>,
    shown: &str,
) -> Result<PathBuf> {
    let mut current: Vec<OsString> = Vec::new();
    let mut queue: VecDeque<OsString> = comps.iter().cloned().collect();
    let mut hops = 0;
    let here = |current: &[OsString]| {
        let mut p = root.to_path_buf();
        p.extend(current);
        p
    };
    while let Some(c) = queue.pop_front() {
        if c == OsStr::new(".") || c.is_empty() {
            continue;
        }
        if c == OsStr::new("..") {
            if current.pop().is_none() {
                return Err(unsafe_entry(
                    shown,
                    "a symlink on the way leads above the root",
                ));
            }
            continue;
        }
        let mut candidate = here(&current);
        candidate.push(&c);
        match candidate.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(unsafe_entry(shown, "too many levels of symlinks"));
                }
                let target = fs::read_link(&candidate).map_err(|e| Error::io(&candidate, e))?;
                if target.is_absolute() {
                    current.clear();
                }
                for tc in target.components().rev() {
                    match tc {
                        Component::Normal(n) => queue.push_front(n.to_os_string()),
                        Component::ParentDir => queue.push_front(OsString::from("..")),
                        Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                    }
                }
            }
            Ok(m) if m.is_dir() => current.push(c),
            Ok(_) => return Err(unsafe_entry(shown, "a parent is not a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if create {
                    fs::create_dir(&candidate).map_err(|e| Error::io(&candidate, e))?;
                    created.insert(candidate);
                }
                current.push(c);
            }
            Err(e) => return Err(Error::io(&candidate, e)),
        }
    }
    Ok(here(&current))
}
