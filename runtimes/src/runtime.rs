//! What this runner can run: each runtime's availability, the executable its
//! instances run in, and its engine version (the vocabulary itself is
//! lumos-model's).

use std::path::{Path, PathBuf};

pub use lumos_model::{Protocol, Runtime};

/// A runtime this runner cannot run, and the one thing that makes it run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{runtime} is not available: {reason}")]
pub struct NotAvailable {
    pub runtime: Runtime,
    pub reason: String,
}

/// The executable a wasm runtime's instances run in (None for native):
/// each engine family has its own shim, linking only its engine.
pub fn shim_program_name(runtime: Runtime) -> Option<&'static str> {
    match runtime {
        Runtime::Native => None,
        Runtime::WasmtimeAot | Runtime::WasmtimeJit | Runtime::WasmtimePooled => {
            Some(lumos_shim::WASMTIME_SHIM)
        }
        Runtime::WasmiInterp => Some(lumos_shim::WASMI_SHIM),
        Runtime::WasmedgeInterp | Runtime::WasmedgeAot => Some(lumos_shim::WASMEDGE_SHIM),
    }
}

/// The environment variable that names a shim executable explicitly:
/// `LUMOS_SHIM_WASMTIME`, `LUMOS_SHIM_WASMI`, `LUMOS_SHIM_WASMEDGE`.
pub fn shim_env(shim: &str) -> String {
    shim.trim_start_matches("lumos-")
        .replace('-', "_")
        .to_ascii_uppercase()
        .replace("SHIM_", "LUMOS_SHIM_")
}

/// Where the shim executable of `runtime` is (None: native, no shim):
/// `$LUMOS_SHIM_<ENGINE>`, else beside `runner_exe`, beside this
/// executable, or on `PATH`, in that order.
pub fn find_shim(
    runtime: Runtime,
    runner_exe: Option<&Path>,
) -> Result<Option<PathBuf>, NotAvailable> {
    let me = std::env::current_exe().ok();
    let Some(name) = shim_program_name(runtime) else {
        return Ok(None);
    };
    search(
        runtime,
        name,
        std::env::var_os(shim_env(name)).map(PathBuf::from),
        &[runner_exe, me.as_deref()],
        std::env::var_os("PATH"),
    )
    .map(Some)
}

/// [`find_shim`] with its inputs given: the explicit path, the executables
/// whose directory may hold the shim, the search path.
fn search(
    runtime: Runtime,
    name: &str,
    explicit: Option<PathBuf>,
    beside: &[Option<&Path>],
    path: Option<std::ffi::OsString>,
) -> Result<PathBuf, NotAvailable> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(NotAvailable {
                runtime,
                reason: format!(
                    "${} is {}, which is not a file",
                    shim_env(name),
                    p.display()
                ),
            })
        };
    }
    let in_dir = |exe: &Path| exe.parent().map(|d| d.join(name)).filter(|p| p.is_file());
    let on_path = || lumos_services::on_path_in(name, path.as_deref());
    beside
        .iter()
        .flatten()
        .find_map(|e| in_dir(e))
        .or_else(on_path)
        .ok_or_else(|| NotAvailable {
            runtime,
            reason: format!(
                "its shim {name} is neither beside {} nor on PATH: {}",
                beside
                    .iter()
                    .flatten()
                    .next()
                    .map_or_else(|| "the runner".to_string(), |p| p.display().to_string()),
                install_hint(name)
            ),
        })
}

/// The command that installs shim `name` (from a checkout of Lumos).
pub fn install_hint(name: &str) -> String {
    let dir = name.trim_start_matches("lumos-shim-");
    let wasmedge = if name == lumos_shim::WASMEDGE_SHIM {
        " after scripts/install-wasmedge"
    } else {
        ""
    };
    format!(
        "run scripts/setup (it installs every shim), or{wasmedge} \
         `cargo install --locked --path shim/{dir}`"
    )
}

/// Whether this runner can run `runtime`; if not, why and what to do.
pub fn availability(runtime: Runtime) -> Result<(), NotAvailable> {
    find_shim(runtime, None).map(drop)
}

/// The error a run of an unavailable runtime ends with.
pub fn require(runtime: Runtime, runner_exe: Option<&Path>) -> crate::Result<()> {
    find_shim(runtime, runner_exe)
        .map(drop)
        .map_err(|e| crate::Error::Unavailable {
            runtime,
            reason: e.to_string(),
        })
}

/// The engine version, for the record.
pub fn engine_version(runtime: Runtime) -> Option<&'static str> {
    match runtime {
        Runtime::Native => None,
        Runtime::WasmtimeAot | Runtime::WasmtimeJit | Runtime::WasmtimePooled => {
            Some(lumos_wasm::wasmtime::VERSION)
        }
        Runtime::WasmiInterp => Some(lumos_shim::WASMI_VERSION),
        Runtime::WasmedgeInterp | Runtime::WasmedgeAot => Some("0.14.1 (C API)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wasmedge_shim_is_found_beside_the_runner_or_on_path_else_named_with_its_fix() {
        let r = Runtime::WasmedgeAot;
        let name = lumos_shim::WASMEDGE_SHIM;
        let (runner_dir, path_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let runner = runner_dir.path().join("lumos-runner");
        let none = || search(r, name, None, &[Some(&runner)], None);
        let e = none().unwrap_err();
        assert!(
            e.reason.contains(name) && e.reason.contains("scripts/setup"),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("wasmedge-aot is not available"),
            "{e}"
        );
        // On PATH.
        std::fs::write(path_dir.path().join(name), b"").unwrap();
        let path = Some(path_dir.path().as_os_str().to_owned());
        assert_eq!(
            search(r, name, None, &[Some(&runner)], path.clone()).unwrap(),
            path_dir.path().join(name)
        );
        // Beside the runner wins over PATH.
        std::fs::write(runner_dir.path().join(name), b"").unwrap();
        assert_eq!(
            search(r, name, None, &[Some(&runner)], path).unwrap(),
            runner_dir.path().join(name)
        );
        // An explicit path must be a file.
        let e = search(r, name, Some(runner_dir.path().join("nope")), &[], None).unwrap_err();
        assert!(e.reason.contains("LUMOS_SHIM_WASMEDGE"), "{e}");
        // Native runs no shim; each engine family has its own.
        assert_eq!(find_shim(Runtime::Native, None).unwrap(), None);
        assert_eq!(shim_env(lumos_shim::WASMTIME_SHIM), "LUMOS_SHIM_WASMTIME");
        assert_eq!(shim_env(lumos_shim::WASMI_SHIM), "LUMOS_SHIM_WASMI");
        assert_eq!(
            shim_program_name(Runtime::WasmtimeJit),
            Some("lumos-shim-wasmtime")
        );
        assert!(install_hint(lumos_shim::WASMI_SHIM).contains("--path shim/wasmi"));
    }
}
