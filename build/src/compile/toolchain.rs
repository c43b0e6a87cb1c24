//! Checks that every piece of the toolchain a build needs is there, before
//! anything is built, and says the one command that installs what is missing.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{bail, Context, Result};

/// The rustc that cargo will use: `$RUSTC`, else `rustc` on PATH.
fn rustc_program() -> OsString {
    std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"))
}

/// The sysroot of the toolchain that builds in `dir` (honours rust-toolchain.toml).
pub fn rustc_sysroot(dir: &Path) -> Result<PathBuf> {
    let out = Command::new(rustc_program())
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .context("cannot run rustc (is a Rust toolchain installed? see https://rustup.rs)")?;
    if !out.status.success() {
        bail!(
            "`rustc --print sysroot` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Fails with the rustup command to run when `triple`'s standard library is missing.
pub fn require_target(sysroot: &Path, triple: &str) -> Result<()> {
    if sysroot
        .join("lib/rustlib")
        .join(triple)
        .join("lib")
        .is_dir()
    {
        return Ok(());
    }
    bail!(
        "the Rust target `{triple}` is not installed in {}: run `rustup target add {triple}`",
        sysroot.display()
    )
}

/// Where a target's linker comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkerSetting {
    pub linker: String,
    /// Where it was set: an environment variable or a config file.
    pub source: String,
}

/// The linker configured for `triple`, looking where cargo looks: the
/// `CARGO_TARGET_<TRIPLE>_LINKER` variable, then `.cargo/config.toml` (or
/// `.cargo/config`) in `dir` and its ancestors, then `$CARGO_HOME/config.toml`.
pub fn configured_linker(dir: &Path, triple: &str) -> Result<Option<LinkerSetting>> {
    let var = format!(
        "CARGO_TARGET_{}_LINKER",
        triple.to_uppercase().replace(['-', '.'], "_")
    );
    if let Some(v) = std::env::var_os(&var) {
        return Ok(Some(LinkerSetting {
            linker: v.to_string_lossy().into_owned(),
            source: format!("${var}"),
        }));
    }
    let mut files = Vec::new();
    for ancestor in dir.ancestors() {
        for name in ["config.toml", "config"] {
            let f = ancestor.join(".cargo").join(name);
            if f.is_file() {
                files.push(f);
                break;
            }
        }
    }
    if let Some(home) = cargo_home() {
        for name in ["config.toml", "config"] {
            let f = home.join(name);
            if f.is_file() && !files.contains(&f) {
                files.push(f);
                break;
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("{}: cannot read", file.display()))?;
        let value: toml::Table = text
            .parse()
            .with_context(|| format!("{}: not valid TOML", file.display()))?;
        let linker = value
            .get("target")
            .and_then(|t| t.get(triple))
            .and_then(|t| t.get("linker"))
            .and_then(|l| l.as_str());
        if let Some(linker) = linker {
            // Cargo resolves a relative linker path with a slash against the
            // directory holding `.cargo/`.
            let linker = if linker.contains('/') && !linker.starts_with('/') {
                let base = file
                    .parent()
                    .and_then(Path::parent)
                    .unwrap_or(Path::new("."));
                base.join(linker).to_string_lossy().into_owned()
            } else {
                linker.to_string()
            };
            return Ok(Some(LinkerSetting {
                linker,
                source: file.display().to_string(),
            }));
        }
    }
    Ok(None)
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// Finds a program on PATH (or checks a path that names one).
pub fn find_program(name: &str) -> Option<PathBuf> {
    lumos_services::on_path(name)
}

/// What a cargo build for a native musl target needs in its environment, and
/// a check that the linker is really there.
///
/// Where the repository configures a linker we use it; otherwise aarch64 links
/// with `rust-lld` (shipped with rustc) and C parts (`*-sys` crates) compile
/// with the zig wrappers of scripts/install-zig (`$LUMOS_ZIG_ROOT/bin`,
/// default /opt/lumos/zig/bin) or an `aarch64-linux-musl-gcc` on PATH, unless
/// `CC_aarch64_unknown_linux_musl` is set. Debian's `aarch64-linux-gnu-gcc`
/// has no libc headers, musl or glibc, so it cannot build them.
pub fn musl_environment(
    dir: &Path,
    sysroot: &Path,
    triple: &str,
) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    let configured = configured_linker(dir, triple)?;
    let is_aarch64 = triple.starts_with("aarch64");
    let (linker, source) = match configured {
        Some(s) => (s.linker, s.source),
        None if is_aarch64 => {
            let var = format!(
                "CARGO_TARGET_{}_LINKER",
                triple.to_uppercase().replace('-', "_")
            );
            env.insert(var, "rust-lld".to_string());
            let cc_var = format!("CC_{}", triple.replace('-', "_"));
            if std::env::var_os(&cc_var).is_none() {
                let zig_bin = std::env::var_os("LUMOS_ZIG_ROOT")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/opt/lumos/zig"))
                    .join("bin");
                let zig_cc = zig_bin.join("aarch64-linux-musl-cc");
                let (cc, ar) = if zig_cc.is_file() {
                    (zig_cc, zig_bin.join("aarch64-linux-musl-ar"))
                } else if let Some(gcc) = find_program("aarch64-linux-musl-gcc") {
                    let ar = gcc.with_file_name("aarch64-linux-musl-ar");
                    (gcc, ar)
                } else {
                    bail!(
                        "no C compiler for {triple} (crates with C code such as zstd-sys need one): run scripts/install-zig (or scripts/setup), or set {cc_var}"
                    );
                };
                env.insert(cc_var, cc.to_string_lossy().into_owned());
                let ar_var = format!("AR_{}", triple.replace('-', "_"));
                if std::env::var_os(&ar_var).is_none() && ar.is_file() {
                    env.insert(ar_var, ar.to_string_lossy().into_owned());
                }
            }
            ("rust-lld".to_string(), "the lumos default".to_string())
        }
        None => ("cc".to_string(), "rustc's default".to_string()),
    };
    let found = if linker == "rust-lld" {
        let host = host_triple();
        let bundled = sysroot.join("lib/rustlib").join(host).join("bin/rust-lld");
        bundled.is_file() || find_program("rust-lld").is_some()
    } else {
        find_program(&linker).is_some()
    };
    if !found {
        let install = if linker.contains("aarch64") {
            "apt-get install gcc-aarch64-linux-gnu"
        } else if linker == "rust-lld" {
            "rustup component add llvm-tools"
        } else {
            "apt-get install build-essential musl-tools"
        };
        bail!(
            "linker `{linker}` for target {triple} (from {source}) was not found: install it with `{install}` or set another in .cargo/config.toml"
        );
    }
    Ok(env)
}

/// The triple this program was built for; rust-lld lives under it in a sysroot.
fn host_triple() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linker_is_read_from_a_config_file_in_an_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".cargo")).unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(
            dir.path().join(".cargo/config.toml"),
            "[target.aarch64-unknown-linux-musl]\nlinker = \"my-gcc\"\n",
        )
        .unwrap();
        let s = configured_linker(&dir.path().join("a/b"), "aarch64-unknown-linux-musl")
            .unwrap()
            .unwrap();
        assert_eq!(s.linker, "my-gcc");
        assert!(s.source.ends_with(".cargo/config.toml"));
        assert_eq!(
            configured_linker(&dir.path().join("a/b"), "x86_64-unknown-linux-musl").unwrap(),
            None
        );
    }

    #[test]
    fn aarch64_musl_c_compiler_is_the_zig_wrapper_or_a_one_line_error() {
        if std::env::var_os("CC_aarch64_unknown_linux_musl").is_some()
            || std::env::var_os("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER").is_some()
            || find_program("aarch64-linux-musl-gcc").is_some()
        {
            return; // the machine's own setting wins; nothing to check here
        }
        let ws = tempfile::tempdir().unwrap();
        let zig = tempfile::tempdir().unwrap();
        let sysroot = rustc_sysroot(ws.path()).unwrap();
        // Only this test sets LUMOS_ZIG_ROOT.
        std::env::set_var("LUMOS_ZIG_ROOT", zig.path());
        let e = musl_environment(ws.path(), &sysroot, "aarch64-unknown-linux-musl")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("scripts/install-zig") && e.contains("CC_aarch64_unknown_linux_musl"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        std::fs::create_dir_all(zig.path().join("bin")).unwrap();
        for tool in ["aarch64-linux-musl-cc", "aarch64-linux-musl-ar"] {
            std::fs::write(zig.path().join("bin").join(tool), "#!/bin/sh\n").unwrap();
        }
        let env = musl_environment(ws.path(), &sysroot, "aarch64-unknown-linux-musl").unwrap();
        std::env::remove_var("LUMOS_ZIG_ROOT");
        let bin = zig.path().join("bin");
        assert_eq!(
            env.get("CC_aarch64_unknown_linux_musl").map(PathBuf::from),
            Some(bin.join("aarch64-linux-musl-cc"))
        );
        assert_eq!(
            env.get("AR_aarch64_unknown_linux_musl").map(PathBuf::from),
            Some(bin.join("aarch64-linux-musl-ar"))
        );
        assert_eq!(
            env.get("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER")
                .map(String::as_str),
            Some("rust-lld")
        );
    }

    #[test]
    fn missing_target_names_the_rustup_command() {
        let dir = tempfile::tempdir().unwrap();
        let e = require_target(dir.path(), "wasm32-wasip1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rustup target add wasm32-wasip1"), "{e}");
    }
}
