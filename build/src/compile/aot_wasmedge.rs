//! Ahead-of-time compilation with WasmEdge 0.14.1's own compiler, into a
//! "universal" wasm module (the original module plus a `wasmedge` section).
//!
//! `wasmedge compile` has no target option: it compiles for the CPU it runs
//! on. So the compiler of the target architecture's sysroot runs, natively
//! through that sysroot's loader when the architectures match, else under
//! `qemu-<arch>-static`. The sysroots are made by `scripts/install-wasmedge`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{bail, Context, Result};

use super::toolchain::find_program;
use crate::selection::Arch;
use lumos_wasm::wasmedge_section;

/// The WasmEdge release the sysroots hold.
pub const VERSION: &str = "0.14.1";

/// `wasmedge-<version>`, as recorded in build.json and image annotations.
pub fn engine_id() -> String {
    format!("wasmedge-{VERSION}")
}

/// The directory holding one sysroot per Debian architecture.
pub fn root() -> PathBuf {
    std::env::var_os("LUMOS_WASMEDGE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/lumos/wasmedge"))
}

/// A WasmEdge compiler for one target architecture.
#[derive(Debug, Clone)]
pub struct Compiler {
    arch: Arch,
    sysroot: PathBuf,
    /// `qemu-<arch>-static` when the target is not the host.
    emulator: Option<PathBuf>,
}

impl Compiler {
    /// Finds the sysroot (and emulator) for `arch`, or says how to install them.
    pub fn locate(arch: Arch) -> Result<Compiler> {
        let sysroot = root().join(arch.debian());
        let stamp = sysroot.join(format!(".lumos-wasmedge-{VERSION}"));
        if !stamp.is_file() || !sysroot.join("usr/bin/wasmedge").is_file() {
            bail!(
                "WasmEdge {VERSION} for {} is not installed in {}: run `scripts/install-wasmedge` (or `scripts/setup`)",
                arch.as_str(),
                sysroot.display()
            );
        }
        let emulator = if Some(arch) == Arch::host() {
            None
        } else {
            let name = format!("qemu-{}-static", arch.as_str());
            Some(find_program(&name).ok_or_else(|| {
                crate::Error::Msg(format!(
                    "`{name}` is needed to run WasmEdge's {} compiler on this machine and was not found: install it with `apt-get install qemu-user-static`",
                    arch.as_str()
                ))
            })?)
        };
        Ok(Compiler {
            arch,
            sysroot,
            emulator,
        })
    }

    /// Whether this compiler runs under emulation (and is therefore slow).
    pub fn emulated(&self) -> bool {
        self.emulator.is_some()
    }

    fn lib_dir(&self) -> PathBuf {
        let multiarch = match self.arch {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::Aarch64 => "aarch64-linux-gnu",
        };
        self.sysroot.join("usr/lib").join(multiarch)
    }

    fn command(&self) -> Command {
        let wasmedge = self.sysroot.join("usr/bin/wasmedge");
        match &self.emulator {
            Some(qemu) => {
                let mut cmd = Command::new(qemu);
                cmd.arg("-L")
                    .arg(&self.sysroot)
                    .arg("-E")
                    .arg(format!("LD_LIBRARY_PATH={}", self.lib_dir().display()))
                    .arg(wasmedge);
                cmd
            }
            None => {
                let loader = match self.arch {
                    Arch::X86_64 => self.lib_dir().join("ld-linux-x86-64.so.2"),
                    Arch::Aarch64 => self.sysroot.join("usr/lib/ld-linux-aarch64.so.1"),
                };
                let mut cmd = Command::new(loader);
                cmd.arg("--library-path").arg(self.lib_dir()).arg(wasmedge);
                cmd
            }
        }
    }

    /// Compiles `input` into the universal module `output` and checks that the
    /// result carries a `wasmedge` section for the right CPU.
    pub fn compile(&self, input: &Path, output: &Path, opt_level: &str) -> Result<()> {
        let out = self
            .command()
            .arg("compile")
            .arg("--optimize")
            .arg(opt_level)
            .arg(input)
            .arg(output)
            .output()
            .context("cannot start WasmEdge's compiler")?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            bail!(
                "WasmEdge {} compile of {} failed ({}): {last}",
                self.arch.as_str(),
                input.display(),
                out.status
            );
        }
        let bytes = std::fs::read(output)
            .with_context(|| format!("{}: WasmEdge wrote no output", output.display()))?;
        match wasmedge_section::read(&bytes)
            .map_err(lumos_wasm::Error::from)
            .with_context(|| format!("{}: WasmEdge's output", output.display()))?
        {
            Some(section) if section.arch() == Some(self.arch) => Ok(()),
            Some(section) => bail!(
                "{}: the wasmedge section is for CPU {} , not {}",
                output.display(),
                section.arch,
                self.arch.as_str()
            ),
            None => bail!("{}: WasmEdge wrote no wasmedge section", output.display()),
        }
    }
}
