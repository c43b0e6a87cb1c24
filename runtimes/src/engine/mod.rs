//! The wasm shim: `lumos-runner shim --spec JSON` hosts one module in one
//! engine, with WASI stdio inherited (the frame pipes), no preopened
//! directories, no environment and no network unless asked, and a memory
//! limit that turns growth past it into a trap. The JSON is a [`ShimOpts`]
//! (the launcher writes it, [`shim_entry`] reads it), so every executable
//! that hosts shims (lumos-runner, cargo-lumos) reads the same thing the
//! same way. With `http_port` set (wasmtime only) the shim serves a wasi:http
//! component over HTTP instead ([`wasi_http`]).

pub mod binary;
pub mod wasi_http;
#[cfg(feature = "wasmedge")]
pub mod wasmedge;
pub mod wasmi;
pub mod wasmtime;

use std::path::PathBuf;

/// Exit status of a shim whose guest trapped (or failed to load).
pub const TRAP_EXIT: i32 = 70;

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

/// Everything a shim needs: what `lumos-runner shim --spec JSON` carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShimOpts {
    /// The engine that hosts the module (a wasm runtime).
    pub engine: crate::Runtime,
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
    /// Serve a wasi:http component on `127.0.0.1:PORT` (protocol `wasi-http`).
    #[serde(default)]
    pub http_port: Option<u16>,
}

impl ShimOpts {
    /// The module as errors name it.
    pub fn module_shown(&self) -> String {
        self.shown
            .clone()
            .unwrap_or_else(|| self.module.display().to_string())
    }
}

/// A failure inside the shim, printed on its stderr.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("load {module}: {msg}")]
    Load { module: String, msg: String },
    #[error("trap: {0}")]
    Trap(String),
    #[error("{0}")]
    Unsupported(String),
}

/// With `LUMOS_SHIM_TRACE` set, the shim prints to stderr the time since it
/// entered `main` at each step of its start.
#[derive(Clone, Copy)]
pub(crate) struct Trace(Option<std::time::Instant>);

impl Trace {
    pub(crate) fn new() -> Trace {
        Trace(std::env::var_os("LUMOS_SHIM_TRACE").map(|_| std::time::Instant::now()))
    }
    pub(crate) fn on(&self) -> bool {
        self.0.is_some()
    }
    pub(crate) fn mark(&self, what: &str) {
        if let Some(t) = self.0 {
            eprintln!(
                "lumos-shim trace: {what}: {:.3} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}

/// With a `root`: resolves the module and the preopened directories inside
/// it and points the options at the descriptors found (`/proc/self/fd/N`),
/// which the returned values keep open.
fn confined(opts: &ShimOpts) -> Result<(ShimOpts, Vec<crate::confine::InRoot>), ShimError> {
    let Some(root) = &opts.root else {
        return Ok((opts.clone(), vec![]));
    };
    let refused = |e: crate::confine::Refused| ShimError::Load {
        module: opts.module.display().to_string(),
        msg: e.to_string(),
    };
    let module =
        crate::confine::file(root, "module", &opts.module.to_string_lossy()).map_err(refused)?;
    let mut out = opts.clone();
    out.root = None;
    out.shown = Some(format!("{} (in {})", module.guest, root.display()));
    out.module = module.fd_path();
    let mut held = vec![module];
    for (i, (dir, _)) in out.policy.preopens.iter_mut().enumerate() {
        let d = crate::confine::dir(root, &format!("shim preopen[{i}]"), &dir.to_string_lossy())
            .map_err(refused)?;
        *dir = d.fd_path();
        held.push(d);
    }
    Ok((out, held))
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

/// The shim's entry point for an executable that hosts shims: `args` are
/// the arguments after the word `shim`. Returns the process exit status
/// (2 for arguments that are not a shim spec).
pub fn shim_entry<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> i32 {
    match parse_shim_args(args) {
        Ok(opts) => shim_main(&opts),
        Err(e) => {
            eprintln!("lumos-runner shim: {e}");
            2
        }
    }
}

/// Runs the shim; returns the process exit status.
pub fn shim_main(opts: &ShimOpts) -> i32 {
    use crate::Runtime as R;
    let engine = opts.engine;
    let (opts, _held) = match confined(opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lumos-shim[{}]: {e}", engine.name());
            return TRAP_EXIT;
        }
    };
    let opts = &opts;
    let r = match (engine, opts.http_port) {
        (R::WasmtimeAot | R::WasmtimeJit, Some(port)) => {
            wasi_http::run(opts, engine == R::WasmtimeAot, port)
        }
        (other, Some(_)) => Err(ShimError::Unsupported(format!(
            "http_port: {} cannot host a wasi:http component (no component model); \
             use wasmtime-jit or wasmtime-aot",
            other.name()
        ))),
        (R::WasmtimeAot, None) => wasmtime::run(opts, true),
        (R::WasmtimeJit, None) => wasmtime::run(opts, false),
        (R::WasmiInterp, None) => wasmi::run(opts),
        #[cfg(feature = "wasmedge")]
        (R::WasmedgeInterp, None) => wasmedge::run(opts, false),
        #[cfg(feature = "wasmedge")]
        (R::WasmedgeAot, None) => wasmedge::run(opts, true),
        (other, None) => Err(ShimError::Unsupported(format!(
            "engine {} is not available in this build of lumos-runner",
            other.name()
        ))),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lumos-shim[{}]: {e}", engine.name());
            TRAP_EXIT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ShimOpts {
        ShimOpts {
            engine: crate::Runtime::WasmiInterp,
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
            (m.engine, m.policy, m.args.len()),
            (crate::Runtime::WasmtimeJit, WasiPolicy::default(), 0)
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
