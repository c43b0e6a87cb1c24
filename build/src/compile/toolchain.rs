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
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// What a cargo build for a native musl target needs in its environment, and
/// a check that the linker is really there.
///
/// Where the repository configures a linker we use it; otherwise aarch64 links
/// with `rust-lld` (shipped with rustc) and C parts compile with
/// `aarch64-linux-gnu-gcc`.
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
            if std::env::var_os(&cc_var).is_none()
                && find_program("aarch64-linux-gnu-gcc").is_some()
            {
                env.insert(cc_var, "aarch64-linux-gnu-gcc".to_string());
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
    fn missing_target_names_the_rustup_command() {
        let dir = tempfile::tempdir().unwrap();
        let e = require_target(dir.path(), "wasm32-wasip1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rustup target add wasm32-wasip1"), "{e}");
    }
}
