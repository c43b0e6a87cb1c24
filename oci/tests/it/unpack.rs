//! Safe unpacking: escapes refused, nothing written outside the root,
//! no device nodes, whiteouts honoured, size bounded.

use std::io::Write;
use std::path::Path;

use lumos_oci::spec::media;
use lumos_oci::unpack::{unpack_layer, UnpackLimits, UnpackStats};
use lumos_oci::Error;

enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str),
}

/// A tar written header by header, names set raw (the tar crate's own
/// checks would refuse the malicious ones).
fn tar(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_old();
        let (name, link, kind, data): (&str, Option<&str>, tar::EntryType, &[u8]) = match e {
            E::File(n, d) => (n, None, tar::EntryType::Regular, d),
            E::Dir(n) => (n, None, tar::EntryType::Directory, b""),
            E::Symlink(n, t) => (n, Some(t), tar::EntryType::Symlink, b""),
            E::Hardlink(n, t) => (n, Some(t), tar::EntryType::Link, b""),
            E::Char(n) => (n, None, tar::EntryType::Char, b""),
        };
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            old.linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend([0u8; 1024]);
    out
}

fn unpack(entries: &[E], root: &Path) -> Result<UnpackStats, Error> {
    let mut stats = UnpackStats::default();
    unpack_layer(
        tar(entries).as_slice(),
        media::LAYER_TAR,
        root,
        &UnpackLimits::default(),
        &mut stats,
    )?;
    Ok(stats)
}

/// A sandbox: `root` to unpack into, beside an `outside` dir that must stay empty.
fn sandbox() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    (dir, root, outside)
}

fn empty(p: &Path) -> bool {
    std::fs::read_dir(p).unwrap().next().is_none()
}

#[test]
fn dot_dot_and_absolute_names_are_refused() {
    let (_d, root, outside) = sandbox();
    let err = unpack(&[E::File("../outside/evil", b"x")], &root).unwrap_err();
    assert!(matches!(err, Error::UnsafeEntry { .. }), "{err}");
    let abs = format!("{}/evil", outside.display());
    let err = unpack(&[E::File(&abs, b"x")], &root).unwrap_err();
    assert!(err.to_string().contains("absolute"), "{err}");
    let err = unpack(&[E::File("a/../../outside/evil", b"x")], &root).unwrap_err();
    assert!(matches!(err, Error::UnsafeEntry { .. }), "{err}");
    assert!(empty(&outside));
}

#[test]
fn writing_through_symlinks_stays_inside_the_root() {
    let (_d, root, outside) = sandbox();
    // An absolute symlink target is taken relative to the root.
    let abs = outside.display().to_string();
    unpack(
        &[E::Symlink("link", &abs), E::File("link/evil", b"x")],
        &root,
    )
    .unwrap();
    assert!(empty(&outside));
    assert!(root
        .join(abs.trim_start_matches('/'))
        .join("evil")
        .is_file());
    // A relative target climbing above the root is refused.
    let (_d, root, outside) = sandbox();
    let err = unpack(
        &[E::Symlink("up", "../outside"), E::File("up/evil", b"x")],
        &root,
    )
    .unwrap_err();
    assert!(matches!(err, Error::UnsafeEntry { .. }), "{err}");
    assert!(empty(&outside));
    // A file entry replaces a symlink instead of writing through it.
    let (_d, root, outside) = sandbox();
    let target = outside.join("victim");
    std::fs::write(&target, b"original").unwrap();
    unpack(
        &[
            E::Symlink("f", &target.display().to_string()),
            E::File("f", b"new"),
        ],
        &root,
    )
    .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"original");
    assert_eq!(std::fs::read(root.join("f")).unwrap(), b"new");
    assert!(!std::fs::symlink_metadata(root.join("f"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn hardlinks_must_point_inside_the_layer_stack() {
    let (_d, root, outside) = sandbox();
    std::fs::write(outside.join("secret"), b"s").unwrap();
    let err = unpack(&[E::Hardlink("h", "../outside/secret")], &root).unwrap_err();
    assert!(matches!(err, Error::UnsafeEntry { .. }), "{err}");
    let abs = outside.join("secret").display().to_string();
    let err = unpack(&[E::Hardlink("h", &abs)], &root).unwrap_err();
    assert!(matches!(err, Error::UnsafeEntry { .. }), "{err}");
    // Through a symlink to outside: resolved inside the root, where nothing is.
    let err = unpack(
        &[
            E::Symlink("l", &outside.display().to_string()),
            E::Hardlink("h", "l/secret"),
        ],
        &root,
    )
    .unwrap_err();
    assert!(matches!(err, Error::UnsafeEntry { .. }), "{err}");
    assert_eq!(std::fs::metadata(outside.join("secret")).unwrap().len(), 1);
    // A good hardlink works.
    let (_d, root, _) = sandbox();
    let stats = unpack(&[E::File("a", b"data"), E::Hardlink("b", "a")], &root).unwrap();
    assert_eq!(stats.hardlinks, 1);
    assert_eq!(std::fs::read(root.join("b")).unwrap(), b"data");
}

#[test]
fn device_nodes_are_skipped() {
    let (_d, root, _) = sandbox();
    let stats = unpack(
        &[E::Dir("dev/"), E::Char("dev/null"), E::File("ok", b"1")],
        &root,
    )
    .unwrap();
    assert_eq!(stats.skipped, 1);
    assert!(!root.join("dev/null").exists());
    assert!(root.join("ok").is_file());
}

#[test]
fn whiteouts_remove_lower_layer_content() {
    let (_d, root, _) = sandbox();
    unpack(
        &[
            E::Dir("etc/"),
            E::File("etc/a", b"a"),
            E::File("etc/b", b"b"),
            E::Dir("opt/"),
            E::File("opt/x", b"x"),
        ],
        &root,
    )
    .unwrap();
    let stats = unpack(
        &[
            E::File("etc/.wh.a", b""),
            E::File("opt/new", b"n"),
            E::File("opt/.wh..wh..opq", b""),
        ],
        &root,
    )
    .unwrap();
    assert_eq!(stats.whiteouts, 2);
    assert!(!root.join("etc/a").exists());
    assert!(root.join("etc/b").exists());
    assert!(
        !root.join("opt/x").exists(),
        "opaque dir hides the lower layer"
    );
    assert!(
        root.join("opt/new").exists(),
        "but not what this layer adds"
    );
    assert!(!root.join("etc/.wh.a").exists());
}

#[test]
fn a_layer_decompressing_past_the_bound_is_stopped() {
    let (_d, root, _) = sandbox();
    // 64 MiB of zeros: a few hundred KiB of gzip.
    let zeros = vec![0u8; 64 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar(&[E::File("bomb", &zeros)])).unwrap();
    let blob = gz.finish().unwrap();
    assert!(blob.len() < 1 << 20);
    let limits = UnpackLimits {
        max_bytes: 8 << 20,
        ..Default::default()
    };
    let mut stats = UnpackStats::default();
    let err = unpack_layer(
        blob.as_slice(),
        media::LAYER_GZIP,
        &root,
        &limits,
        &mut stats,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit } if limit == 8 << 20),
        "{err}"
    );
    assert!(stats.tar_bytes <= (8 << 20) + (1 << 20), "{stats:?}");
    let written = std::fs::metadata(root.join("bomb"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(written <= 8 << 20, "{written}");
}
