//! How a shim starts and ends: the spec's paths resolved inside the rootfs,
//! the engine run, a failure printed on stderr as one line, the exit status.

use crate::spec::{parse_shim_args, ShimOpts};

/// Exit status of a shim whose guest trapped (or failed to load).
pub const TRAP_EXIT: i32 = 70;

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
#[derive(Debug, Clone, Copy)]
pub struct Trace(Option<std::time::Instant>);

impl Default for Trace {
    fn default() -> Trace {
        Trace::new()
    }
}

impl Trace {
    pub fn new() -> Trace {
        Trace(std::env::var_os("LUMOS_SHIM_TRACE").map(|_| std::time::Instant::now()))
    }
    /// Whether tracing is on (a shim may then trace more than its start).
    pub fn on(&self) -> bool {
        self.0.is_some()
    }
    pub fn mark(&self, what: &str) {
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

/// The `main` of a shim executable: `--version` (or `-V`) prints `name`,
/// this version and `engine_version` (what the shim links); anything else
/// is [`run_shim`] on the process's arguments, whose status it exits with.
pub fn shim_main(
    name: &str,
    engine_version: &str,
    engine: impl FnOnce(&ShimOpts) -> Result<i32, ShimError>,
) -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if matches!(
        args.first().and_then(|a| a.to_str()),
        Some("--version" | "-V")
    ) {
        println!("{name} {} ({engine_version})", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    let code = run_shim(name, &args, engine);
    std::process::ExitCode::from(code.clamp(0, 255) as u8)
}

/// The whole life of a shim process: `args` are its arguments; `engine`
/// runs the confined spec. `name` names the shim in its messages.
/// Returns the process exit status: 2 for arguments that are not a spec,
/// [`TRAP_EXIT`] for a module that fails to load or traps, else the guest's.
pub fn run_shim<S: AsRef<std::ffi::OsStr>>(
    name: &str,
    args: &[S],
    engine: impl FnOnce(&ShimOpts) -> Result<i32, ShimError>,
) -> i32 {
    let opts = match parse_shim_args(args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("{name}: {e}");
            return 2;
        }
    };
    let runtime = opts.engine;
    let (opts, _held) = match confined(&opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lumos-shim[{}]: {e}", runtime.name());
            return TRAP_EXIT;
        }
    };
    match engine(&opts) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lumos-shim[{}]: {e}", runtime.name());
            TRAP_EXIT
        }
    }
}
