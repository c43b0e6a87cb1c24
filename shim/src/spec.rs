//! The shim's contract: what `<shim> --spec JSON` carries, written by the
//! runner's launcher and read back by every shim the same way.

use std::path::PathBuf;

/// What the shim gives the guest. Empty by default: the capability-free sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WasiPolicy {
    /// `KEY=VALUE` pairs.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// (host directory, guest path) pairs; with a shim `root`, the first
    /// of each pair is a path inside that rootfs.
    #[serde(default)]
    pub preopens: Vec<(PathBuf, String)>,
    /// Sockets (only engines that provide them: WasmEdge).
    #[serde(default)]
    pub network: bool,
}

/// Everything a shim needs: what `lumos-shim-<engine> --spec JSON` carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShimOpts {
    /// The engine that hosts the module (a wasm runtime).
    pub engine: lumos_model::Runtime,
    /// The rootfs of the image: when set, `module` and the preopened
    /// directories are paths inside it, resolved by [`crate::confine`] when
    /// the shim opens them (so nothing written to the rootfs since the runner
    /// checked them can lead the shim out of it).
    pub root: Option<PathBuf>,
    pub module: PathBuf,
    /// How errors name the module (default: `module`); set by the shim itself.
    #[serde(skip)]
    pub shown: Option<String>,
    /// argv[0] the guest sees.
    pub name: String,
    /// The rest of the guest's argv.
    #[serde(default)]
    pub args: Vec<String>,
    /// Bytes of linear memory the guest may grow to (None: the engine's limit).
    #[serde(default)]
    pub memory_limit: Option<u64>,
    #[serde(default)]
    pub policy: WasiPolicy,
    /// Serve a wasi:http component on `127.0.0.1:PORT` (protocol
    /// `wasi-http`; wasmtime only, hosted by the runner's executable).
    #[serde(default)]
    pub http_port: Option<u16>,
    /// The address a wasi:http component is served on instead of
    /// `127.0.0.1` (`0.0.0.0` in a bench node's network namespace, whose
    /// address the runner reaches it at).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_host: Option<std::net::IpAddr>,
    /// Host instances of the module on this Unix socket, one store per
    /// connection, in this one process (engine `wasmtime-pooled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_socket: Option<PathBuf>,
}

impl ShimOpts {
    /// The module as errors name it.
    pub fn module_shown(&self) -> String {
        self.shown
            .clone()
            .unwrap_or_else(|| self.module.display().to_string())
    }
}

/// The command line of a shim, after the word `shim`: `--spec JSON`. Fails
/// only for a path that is not UTF-8 (JSON cannot carry it).
pub fn shim_args(opts: &ShimOpts) -> Result<[String; 2], serde_json::Error> {
    Ok(["--spec".into(), serde_json::to_string(opts)?])
}

/// A shim command line that is not `--spec JSON` of [`ShimOpts`].
#[derive(Debug, thiserror::Error)]
pub enum ShimArgsError {
    #[error("expected `--spec JSON`, got {0:?}")]
    Usage(Vec<String>),
    #[error("--spec: {0}")]
    Spec(#[from] serde_json::Error),
}

/// Reads a shim command line (the arguments after `shim`): `--spec JSON`
/// or `--spec=JSON`.
pub fn parse_shim_args<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<ShimOpts, ShimArgsError> {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let json = match args.as_slice() {
        [flag, json] if flag == "--spec" => json.as_str(),
        [one] if one.starts_with("--spec=") => &one["--spec=".len()..],
        _ => return Err(ShimArgsError::Usage(args)),
    };
    Ok(serde_json::from_str(json)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ShimOpts {
        ShimOpts {
            engine: lumos_model::Runtime::WasmiInterp,
            root: Some("/cache/rootfs/abc".into()),
            module: "/fn.wasm".into(),
            shown: None,
            name: "fn".into(),
            // Arguments that look like flags, or hold `=`, pass as they are.
            args: vec!["--spec".into(), "-".into(), "a=b".into()],
            memory_limit: Some(64 << 20),
            policy: WasiPolicy {
                env: vec![("K".into(), "v=w".into())],
                preopens: vec![("/data".into(), "/data".into())],
                network: true,
            },
            http_port: Some(8080),
            http_host: None,
            pool_socket: None,
        }
    }

    #[test]
    fn the_shim_reads_back_what_the_launcher_wrote() {
        let o = opts();
        let args = shim_args(&o).unwrap();
        assert_eq!(args[0], "--spec");
        assert_eq!(parse_shim_args(&args).unwrap(), o);
        let joined = format!("--spec={}", args[1]);
        assert_eq!(parse_shim_args(&[joined]).unwrap(), o);
        // Only what the launcher writes is read; the rest defaults.
        let minimal = r#"{"engine":"wasmtime-jit","root":null,"module":"m.wasm","name":"f"}"#;
        let m = parse_shim_args(&["--spec", minimal]).unwrap();
        assert_eq!(
            (m.engine, m.policy, m.args.len(), m.http_port),
            (
                lumos_model::Runtime::WasmtimeJit,
                WasiPolicy::default(),
                0,
                None
            )
        );
    }

    #[test]
    fn a_shim_command_line_that_is_not_a_spec_is_refused_saying_why() {
        let e = parse_shim_args(&["--engine", "wasmi-interp", "m.wasm"]).unwrap_err();
        assert!(matches!(e, ShimArgsError::Usage(_)), "{e}");
        assert!(e.to_string().starts_with("expected `--spec JSON`"), "{e}");
        let unknown = r#"{"engine":"wasmi-interp","root":null,"module":"m","name":"f","dirs":[]}"#;
        let e = parse_shim_args(&["--spec", unknown]).unwrap_err();
        assert!(e.to_string().contains("unknown field `dirs`"), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        let e = parse_shim_args(&["--spec", r#"{"engine":"wasm3"}"#]).unwrap_err();
        assert!(e.to_string().contains("unknown runtime `wasm3`"), "{e}");
    }
}
