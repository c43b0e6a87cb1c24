//! The one rule for paths taken from image metadata (the entrypoint,
//! `WorkingDir`, `dev.lumos.wasi.dirs`, the `dev.lumos.function` name a
//! module is written under): they resolve inside the image's rootfs, never
//! outside it, or are refused with one line naming the field and the value.
//!
//! Semantics are those of `openat2(2)` with `RESOLVE_IN_ROOT` (and of
//! filepath-securejoin, and of what a process in the container sees): the
//! rootfs is `/`; `..` at the root stays at the root; a symlink is followed
//! inside the rootfs, an absolute target being taken from the rootfs (so a
//! debian-style `/bin -> usr/bin` works, and `x -> /etc/passwd` means the
//! image's own `/etc/passwd`); at most 40 links. A link can therefore never
//! lead out: it is re-rooted, not refused. What must exist and does not is
//! refused.
//!
//! Why a walker and not `openat2(RESOLVE_IN_ROOT)` itself: the runner also
//! runs under `qemu-aarch64-static` (7.2 here, which has no `openat2` and
//! answers ENOSYS), and seccomp profiles of older container engines also
//! answer ENOSYS for it. The walker below does what the kernel does, one
//! component at a time on directory descriptors (`openat` with
//! `O_PATH|O_NOFOLLOW` on the descriptor of the directory reached so far), so
//! no component is ever looked up through a path string that something could
//! change in between. Its result is checked against `openat2` in the tests.
//!
//! The result is a descriptor of what was found plus its symlink-free path.
//! Whoever opens the file later (a wasm shim, a process sandbox) either uses
//! the descriptor (`/proc/self/fd/N`) or resolves again at that moment.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Most symlinks followed in one resolution (the kernel's MAXSYMLINKS).
const MAX_LINKS: u32 = 40;

/// A path from image metadata that does not resolve to what it must be.
#[derive(Debug, thiserror::Error)]
#[error("image: {field} {value:?}: {reason}")]
pub struct Refused {
    /// Where the value came from, e.g. `config Entrypoint[0]`,
    /// `label dev.lumos.wasi.dirs[1]`, `annotation dev.lumos.function`.
    pub field: String,
    pub value: String,
    pub reason: String,
    /// An unexpected I/O failure while resolving (not a verdict on the value).
    #[source]
    pub source: Option<std::io::Error>,
}

/// What a resolved path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Other,
}

/// A path resolved inside a rootfs.
#[derive(Debug)]
pub struct InRoot {
    /// The path inside the rootfs, absolute, with no `.`, `..` or symlink in it.
    pub guest: String,
    /// The same on the host: the rootfs joined with `guest`.
    pub host: PathBuf,
    /// An `O_PATH` descriptor of what was found.
    pub fd: OwnedFd,
    pub kind: Kind,
}

impl InRoot {
    /// A path that opens exactly what was resolved (the descriptor's magic
    /// link), whatever happens to the rootfs afterwards.
    pub fn fd_path(&self) -> PathBuf {
        match self.kind {
            // `/.` after the magic link: it is then not the last component, so
            // a directory opens even with O_NOFOLLOW (WasmEdge opens so).
            Kind::Dir => PathBuf::from(format!("/proc/self/fd/{}/.", self.fd.as_raw_fd())),
            _ => PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd())),
        }
    }
}

fn refuse(field: &str, value: &str, reason: impl Into<String>) -> Refused {
    Refused {
        field: field.to_string(),
        value: value.to_string(),
        reason: reason.into(),
        source: None,
    }
}

fn cstr(b: &[u8]) -> Option<CString> {
    CString::new(b).ok()
}

fn open_at(dir: RawFd, name: &[u8], flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let c = cstr(name).ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: plain openat on a descriptor we hold; the result is owned below.
    let fd = unsafe { libc::openat(dir, c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn mode_of(fd: &OwnedFd) -> std::io::Result<libc::mode_t> {
    // SAFETY: zeroed stat is a valid out-parameter; fstat works on O_PATH descriptors.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st.st_mode & libc::S_IFMT)
}

fn read_link_at(dir: RawFd, name: &[u8]) -> std::io::Result<Vec<u8>> {
    let c = cstr(name).ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: the buffer is as long as we say.
    let n = unsafe { libc::readlinkat(dir, c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

fn dup(fd: &OwnedFd) -> std::io::Result<OwnedFd> {
    fd.try_clone()
}

/// Resolves `value` (a path inside the rootfs, absolute or not) inside
/// `root`, as described at the top of this module. `field` names where the
/// value came from, for the error.
pub fn resolve(root: &Path, field: &str, value: &str) -> Result<InRoot, Refused> {
    let io_err = |what: &str, e: std::io::Error| Refused {
        field: field.to_string(),
        value: value.to_string(),
        reason: format!("{what} in the rootfs {}: {e}", root.display()),
        source: Some(e),
    };
    if value.as_bytes().contains(&0) {
        return Err(refuse(field, value, "contains a NUL byte"));
    }
    if value.is_empty() {
        return Err(refuse(field, value, "an empty path"));
    }
    let root_c =
        cstr(root.as_os_str().as_bytes()).ok_or_else(|| refuse(field, value, "bad rootfs path"))?;
    // SAFETY: plain open; owned below.
    let rfd = unsafe {
        libc::open(
            root_c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if rfd < 0 {
        return Err(io_err("open", std::io::Error::last_os_error()));
    }
    // SAFETY: rfd is ours.
    let root_fd = unsafe { OwnedFd::from_raw_fd(rfd) };

    // Directories entered so far below the root, each with its name.
    let mut stack: Vec<(OwnedFd, OsString)> = Vec::new();
    // Components still to walk, next first (reversed for pop).
    let mut todo: Vec<Vec<u8>> = split(value.as_bytes());
    let mut links = 0u32;
    // The final object, once the last component was reached (None: a directory on the stack).
    let mut last: Option<(OwnedFd, OsString, libc::mode_t)> = None;
    let so_far = |stack: &[(OwnedFd, OsString)], extra: Option<&OsStr>| -> String {
        let mut p = String::new();
        for (_, n) in stack {
            p.push('/');
            p.push_str(&n.to_string_lossy());
        }
        if let Some(e) = extra {
            p.push('/');
            p.push_str(&e.to_string_lossy());
        }
        if p.is_empty() {
            p.push('/');
        }
        p
    };
    while let Some(comp) = todo.pop() {
        if let Some((fd, name, mode)) = last.take() {
            // A non-directory in the middle of the path.
            if mode != libc::S_IFDIR {
                return Err(refuse(
                    field,
                    value,
                    format!(
                        "{} is not a directory in the image",
                        so_far(&stack, Some(&name))
                    ),
                ));
            }
            stack.push((fd, name));
        }
        if comp == b".." {
            stack.pop();
            continue;
        }
        if comp == b"." {
            // Only says that what came before is a directory (checked above).
            continue;
        }
        let dir = stack.last().map(|(f, _)| f).unwrap_or(&root_fd);
        let fd = match open_at(dir.as_raw_fd(), &comp, libc::O_PATH | libc::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let name = OsString::from_vec(comp);
                return Err(refuse(
                    field,
                    value,
                    format!(
                        "{} does not exist in the image (paths from image metadata resolve \
                         inside the rootfs: `..` stops at its root, symlinks are followed within it)",
                        so_far(&stack, Some(&name))
                    ),
                ));
            }
            Err(e) => return Err(io_err("open", e)),
        };
        let mode = mode_of(&fd).map_err(|e| io_err("stat", e))?;
        if mode == libc::S_IFLNK {
            links += 1;
            if links > MAX_LINKS {
                return Err(refuse(
                    field,
                    value,
                    format!("more than {MAX_LINKS} symlinks to follow"),
                ));
            }
            let target = read_link_at(dir.as_raw_fd(), &comp).map_err(|e| io_err("readlink", e))?;
            if target.is_empty() {
                return Err(refuse(field, value, "an empty symlink on the way"));
            }
            if target.starts_with(b"/") {
                stack.clear();
            }
            todo.extend(split(&target));
            continue;
        }
        last = Some((fd, OsString::from_vec(comp), mode));
    }
    let (fd, mode) = match last {
        Some((fd, name, mode)) => {
            stack.push((fd, name));
            let fd = dup(&stack.last().expect("pushed").0).map_err(|e| io_err("dup", e))?;
            (fd, mode)
        }
        None => {
            let fd = dup(stack.last().map(|(f, _)| f).unwrap_or(&root_fd))
                .map_err(|e| io_err("dup", e))?;
            (fd, libc::S_IFDIR)
        }
    };
    let guest = so_far(&stack, None);
    let host = if guest == "/" {
        root.to_path_buf()
    } else {
        root.join(&guest[1..])
    };
    let kind = match mode {
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFREG => Kind::File,
        _ => Kind::Other,
    };
    Ok(InRoot {
        guest,
        host,
        fd,
        kind,
    })
}

/// Components of a path, reversed (next last), without empty ones; a
/// trailing `/` becomes a `.` (what precedes it must be a directory).
fn split(p: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = p
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    if p.len() > 1 && p.ends_with(b"/") {
        v.push(b".".to_vec());
    }
    v.reverse();
    v
}

/// [`resolve`], and the result must be a directory.
pub fn dir(root: &Path, field: &str, value: &str) -> Result<InRoot, Refused> {
    let r = resolve(root, field, value)?;
    if r.kind != Kind::Dir {
        return Err(refuse(
            field,
            value,
            format!("{} is not a directory in the image", r.guest),
        ));
    }
    Ok(r)
}

/// [`resolve`], and the result must be a regular file.
pub fn file(root: &Path, field: &str, value: &str) -> Result<InRoot, Refused> {
    let r = resolve(root, field, value)?;
    if r.kind != Kind::File {
        return Err(refuse(
            field,
            value,
            format!("{} is not a regular file in the image", r.guest),
        ));
    }
    Ok(r)
}

/// A name the runner will create a file under, directly in the rootfs: one
/// plain path component (no `/`, not `.` or `..`, no NUL, not empty, at
/// most 200 bytes).
pub fn plain_name<'a>(field: &str, value: &'a str) -> Result<&'a str, Refused> {
    let bad = value.is_empty()
        || value == "."
        || value == ".."
        || value.len() > 200
        || value.bytes().any(|b| b == b'/' || b == 0);
    if bad {
        return Err(refuse(
            field,
            value,
            "not a plain file name (one path component, no `/`, not `.` or `..`)",
        ));
    }
    Ok(value)
}

/// Creates `name` (a [`plain_name`]) directly in the rootfs directory
/// `root`, never through a symlink and never over an existing entry.
pub fn create_file(root: &Path, field: &str, name: &str) -> Result<std::fs::File, Refused> {
    let name = plain_name(field, name)?;
    let root_fd = open_at(
        libc::AT_FDCWD,
        root.as_os_str().as_bytes(),
        libc::O_PATH | libc::O_DIRECTORY,
    )
    .map_err(|e| Refused {
        field: field.to_string(),
        value: name.to_string(),
        reason: format!("open the rootfs {}: {e}", root.display()),
        source: Some(e),
    })?;
    let fd = open_at(
        root_fd.as_raw_fd(),
        name.as_bytes(),
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
    )
    .map_err(|e| Refused {
        field: field.to_string(),
        value: name.to_string(),
        reason: format!("create in the rootfs {}: {e}", root.display()),
        source: Some(e),
    })?;
    Ok(std::fs::File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A tree with the tricks images play.
    fn tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("usr/bin/f"), b"in").unwrap();
        std::fs::write(root.join("etc/passwd"), b"image").unwrap();
        std::fs::write(outside.join("secret"), b"host").unwrap();
        symlink("usr/bin", root.join("bin")).unwrap();
        symlink("/usr/bin/f", root.join("abs")).unwrap();
        symlink(&outside, root.join("out")).unwrap();
        symlink("../../../../outside", root.join("dotdot")).unwrap();
        symlink("/etc/passwd", root.join("data/pw")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink("sub/../../usr/bin", root.join("data/rel")).unwrap();
        (t, root, outside)
    }

    #[test]
    fn resolves_inside_the_root() {
        let (_t, root, _) = tree();
        let ok = |v: &str, want: &str| {
            let r = resolve(&root, "f", v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(r.guest, want, "{v}");
            assert_eq!(
                r.host,
                if want == "/" {
                    root.clone()
                } else {
                    root.join(&want[1..])
                }
            );
        };
        ok("/bin/f", "/usr/bin/f");
        ok("bin/f", "/usr/bin/f");
        ok("/abs", "/usr/bin/f");
        ok("/../../../../usr/bin/f", "/usr/bin/f");
        ok("/data/pw", "/etc/passwd");
        ok("/data/rel/f", "/usr/bin/f");
        ok("/data/sub/../..", "/");
        ok("/", "/");
        assert!(resolve(&root, "f", "").is_err());
        ok("/bin/..", "/usr");
        assert_eq!(file(&root, "f", "/bin/f").unwrap().kind, Kind::File);
        assert!(dir(&root, "f", "/data").is_ok());
    }

    #[test]
    fn never_reaches_outside() {
        let (_t, root, outside) = tree();
        for v in [
            "/out/secret",
            "/dotdot/secret",
            "/../outside/secret",
            "../../outside/secret",
        ] {
            let e = resolve(&root, "config Entrypoint[0]", v).unwrap_err();
            let s = e.to_string();
            assert!(s.starts_with("image: config Entrypoint[0] "), "{s}");
            assert!(s.contains("does not exist in the image"), "{s}");
            assert!(!s.contains('\n'), "{s}");
        }
        // The re-rooted target exists: it is the image's, not the host's.
        std::fs::create_dir_all(root.join(outside.strip_prefix("/").unwrap())).unwrap();
        std::fs::write(
            root.join(outside.strip_prefix("/").unwrap()).join("secret"),
            b"img",
        )
        .unwrap();
        let r = file(&root, "f", "/out/secret").unwrap();
        assert!(r.host.starts_with(&root));
        assert_eq!(std::fs::read(r.fd_path()).unwrap(), b"img");
        let e = resolve(&root, "f", "/loop1").unwrap_err();
        assert!(e.to_string().contains("more than 40 symlinks"), "{e}");
        let e = dir(&root, "f", "/bin/f/x").unwrap_err();
        assert!(e.to_string().contains("is not a directory"), "{e}");
        let e = file(&root, "f", "/bin").unwrap_err();
        assert!(
            e.to_string().contains("/usr/bin is not a regular file"),
            "{e}"
        );
    }

    #[test]
    fn names_are_plain() {
        for bad in ["", ".", "..", "../x", "/tmp/x", "a/b", "a\0b"] {
            assert!(
                plain_name("annotation dev.lumos.function", bad).is_err(),
                "{bad:?}"
            );
        }
        assert!(plain_name("f", "fibonacci").is_ok());
        let t = tempfile::tempdir().unwrap();
        symlink("/tmp/should-not-exist-lumos", t.path().join("x.wasm")).unwrap();
        assert!(create_file(t.path(), "f", "x.wasm").is_err());
        assert!(!Path::new("/tmp/should-not-exist-lumos").exists());
        create_file(t.path(), "f", "y.wasm").unwrap();
    }

    /// The walker agrees with the kernel's RESOLVE_IN_ROOT on random paths
    /// through a tree full of links.
    #[test]
    fn agrees_with_openat2_resolve_in_root() {
        let (_t, root, _) = tree();
        let words = [
            "bin", "usr", "f", "..", ".", "abs", "out", "dotdot", "data", "pw", "rel", "sub",
            "etc", "passwd", "secret", "loop1", "nope", "",
        ];
        let root_fd = open_at(
            libc::AT_FDCWD,
            root.as_os_str().as_bytes(),
            libc::O_PATH | libc::O_DIRECTORY,
        )
        .unwrap();
        let mut seed = 0x1005u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n
        };
        let mut agreed = 0;
        for _ in 0..3000 {
            let len = 1 + next(5);
            let mut p = String::new();
            if next(2) == 0 {
                p.push('/');
            }
            for i in 0..len {
                if i > 0 {
                    p.push('/');
                }
                p.push_str(words[next(words.len())]);
            }
            let ours = resolve(&root, "f", &p).map(|r| r.guest);
            let c = CString::new(p.clone()).unwrap();
            // SAFETY: open_how is plain data; zero is valid for every field.
            let mut how: libc::open_how = unsafe { std::mem::zeroed() };
            how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
            how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
            // SAFETY: openat2 with a valid open_how of the size we pass.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    root_fd.as_raw_fd(),
                    c.as_ptr(),
                    &how as *const libc::open_how,
                    std::mem::size_of::<libc::open_how>(),
                )
            };
            let kernel = if fd < 0 {
                None
            } else {
                // SAFETY: fd is ours.
                let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
                let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
                let rel = real.strip_prefix(&root).expect("the kernel stayed inside");
                Some(format!("/{}", rel.display()))
            };
            match (ours, kernel) {
                (Ok(g), Some(k)) => {
                    assert_eq!(g, k, "{p}");
                    agreed += 1;
                }
                (Err(_), None) => agreed += 1,
                (o, k) => panic!("{p}: walker {o:?}, kernel {k:?}"),
            }
        }
        assert_eq!(agreed, 3000);
    }
}
