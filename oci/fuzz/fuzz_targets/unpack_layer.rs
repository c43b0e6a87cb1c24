//! The layer unpacker on hostile input: raw tar or gzip bytes, or layers
//! built from a grammar of dangerous names (`..`, absolute paths into a
//! directory beside the root, whiteouts, symlink and hardlink chains).
//!
//! Checked on every input: no panic; nothing beside the root changes (a
//! sentinel directory with a file keeps its names, content and link count);
//! and a failed unpack leaves no new top-level entry in the root.
#![no_main]

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use lumos_oci::spec::media;
use lumos_oci::unpack::{unpack_layer, UnpackLimits, UnpackStats};

#[derive(Arbitrary, Debug)]
enum Input {
    RawTar(Vec<u8>),
    RawGzip(Vec<u8>),
    /// Tar bytes the harness gzips (the fuzzer explores tar behind gzip).
    GzippedTar(Vec<u8>),
    /// Up to a few layers, unpacked one after the other into one root.
    Layers(Vec<Vec<Entry>>),
}

#[derive(Arbitrary, Debug)]
struct Entry {
    path: Vec<Part>,
    kind: Kind,
    link: Vec<Part>,
    data: u8,
    mode: u16,
}

#[derive(Arbitrary, Debug)]
enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Fifo,
    Other(u8),
}

#[derive(Arbitrary, Debug)]
enum Part {
    A,
    B,
    Link,
    Dot,
    DotDot,
    Empty,
    /// A leading `/`.
    Root,
    /// The absolute path of the sentinel directory beside the root.
    Outside,
    /// The sentinel file, absolute.
    Sentinel,
    Whiteout(u8),
    Opaque,
    Raw(String),
}

struct Dirs {
    base: PathBuf,
    root: PathBuf,
    outside: PathBuf,
}

fn dirs() -> &'static Dirs {
    static D: OnceLock<Dirs> = OnceLock::new();
    D.get_or_init(|| {
        let parent = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let base = parent.join(format!("lumos-fuzz-unpack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        Dirs {
            root: base.join("root"),
            outside: base.join("outside"),
            base,
        }
    })
}

const SENTINEL: &[u8] = b"must not change";

fn reset(d: &Dirs) {
    for p in [&d.root, &d.outside] {
        if p.symlink_metadata().is_ok() {
            if p.is_dir() {
                std::fs::remove_dir_all(p).unwrap();
            } else {
                std::fs::remove_file(p).unwrap();
            }
        }
    }
    std::fs::create_dir(&d.root).unwrap();
    std::fs::create_dir(&d.outside).unwrap();
    std::fs::write(d.outside.join("sentinel"), SENTINEL).unwrap();
}

fn names(dir: &Path) -> BTreeSet<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| Some(e.ok()?.file_name())).collect())
        .unwrap_or_default()
}

fn path_of(parts: &[Part], d: &Dirs) -> String {
    let mut out = String::new();
    for (i, p) in parts.iter().take(8).enumerate() {
        if i > 0 && !matches!(p, Part::Root) {
            out.push('/');
        }
        match p {
            Part::A => out.push('a'),
            Part::B => out.push('b'),
            Part::Link => out.push_str("link"),
            Part::Dot => out.push('.'),
            Part::DotDot => out.push_str(".."),
            Part::Empty => {}
            Part::Root => out.push('/'),
            Part::Outside => out.push_str(&d.outside.display().to_string()),
            Part::Sentinel => out.push_str(&d.outside.join("sentinel").display().to_string()),
            Part::Whiteout(n) => out.push_str(match n % 3 {
                0 => ".wh.a",
                1 => ".wh.link",
                _ => ".wh..",
            }),
            Part::Opaque => out.push_str(".wh..wh..opq"),
            Part::Raw(s) => out.push_str(&s.chars().take(20).collect::<String>()),
        }
    }
    out
}

/// A tar written header by header with the names as they are (the tar
/// crate's builder would refuse the hostile ones). Names past 100 bytes are
/// cut: the old header has no room for more.
fn tar_of(entries: &[Entry], d: &Dirs) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries.iter().take(40) {
        let name = path_of(&e.path, d);
        let link = path_of(&e.link, d);
        let mut h = tar::Header::new_old();
        let kind = match e.kind {
            Kind::File => tar::EntryType::Regular,
            Kind::Dir => tar::EntryType::Directory,
            Kind::Symlink => tar::EntryType::Symlink,
            Kind::Hardlink => tar::EntryType::Link,
            Kind::Char => tar::EntryType::Char,
            Kind::Fifo => tar::EntryType::Fifo,
            Kind::Other(b) => tar::EntryType::new(b),
        };
        let data = vec![
            b'x';
            if matches!(e.kind, Kind::File) {
                e.data as usize
            } else {
                0
            }
        ];
        {
            let old = h.as_old_mut();
            let n = name.len().min(100);
            old.name[..n].copy_from_slice(&name.as_bytes()[..n]);
            let l = link.len().min(100);
            old.linkname[..l].copy_from_slice(&link.as_bytes()[..l]);
        }
        h.set_entry_type(kind);
        h.set_mode(u32::from(e.mode) & 0o7777);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&data);
        out.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
    }
    out.extend([0u8; 1024]);
    out
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(raw).unwrap();
    gz.finish().unwrap()
}

fn one_layer(bytes: &[u8], media_type: &str, d: &Dirs, stats: &mut UnpackStats) {
    let limits = UnpackLimits {
        max_bytes: 4 << 20,
        max_entries: 200,
    };
    let before = names(&d.root);
    let result = unpack_layer(bytes, media_type, &d.root, &limits, stats);
    if result.is_err() {
        let after = names(&d.root);
        let added: Vec<_> = after.difference(&before).collect();
        assert!(
            added.is_empty(),
            "a failed unpack ({:?}) left new entries {added:?}",
            result.err()
        );
    }
}

fuzz_target!(|input: Input| {
    let d = dirs();
    reset(d);
    let sentinel = d.outside.join("sentinel");
    let mut stats = UnpackStats::default();
    match &input {
        Input::RawTar(b) => one_layer(b, media::LAYER_TAR, d, &mut stats),
        Input::RawGzip(b) => one_layer(b, media::LAYER_GZIP, d, &mut stats),
        Input::GzippedTar(b) => one_layer(&gzip(b), media::LAYER_GZIP, d, &mut stats),
        Input::Layers(layers) => {
            for (i, l) in layers.iter().take(3).enumerate() {
                let tar = tar_of(l, d);
                if i % 2 == 0 {
                    one_layer(&tar, media::LAYER_TAR, d, &mut stats);
                } else {
                    one_layer(&gzip(&tar), media::LAYER_GZIP, d, &mut stats);
                }
            }
        }
    }
    // Nothing beside the root changed.
    let beside: Vec<_> = names(&d.base).into_iter().collect();
    assert_eq!(
        beside,
        ["outside", "root"],
        "something was written beside the root"
    );
    assert_eq!(
        names(&d.outside).into_iter().collect::<Vec<_>>(),
        ["sentinel"],
        "the sentinel directory changed"
    );
    let m = std::fs::symlink_metadata(&sentinel).unwrap();
    assert!(m.is_file(), "the sentinel was replaced");
    assert_eq!(m.nlink(), 1, "the sentinel was hard-linked into the root");
    assert_eq!(
        std::fs::read(&sentinel).unwrap(),
        SENTINEL,
        "the sentinel was written"
    );
});
