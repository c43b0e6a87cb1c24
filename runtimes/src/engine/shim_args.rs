//! The command line of a wasm shim (`lumos-runner shim …`), parsed the same
//! way wherever a runner executable hosts shims (lumos-runner, cargo-lumos).

use std::path::PathBuf;

use super::{shim_main, ShimOpts, WasiPolicy};
use crate::Runtime;

/// Host one wasm module in one engine on this process's stdio (or, with
/// `--http-port`, one wasi:http component over HTTP).
#[derive(Debug, Clone, clap::Args)]
pub struct ShimArgs {
    #[arg(long)]
    pub engine: String,
    #[arg(long, default_value = "function")]
    pub name: String,
    #[arg(long = "memory-limit")]
    pub memory_limit: Option<u64>,
    /// KEY=VALUE given to the guest.
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// HOST::GUEST directory preopened for the guest.
    #[arg(long = "dir")]
    pub dirs: Vec<String>,
    #[arg(long)]
    pub network: bool,
    /// Serve a wasi:http component over HTTP/1.1 on 127.0.0.1:PORT.
    #[arg(long = "http-port")]
    pub http_port: Option<u16>,
    pub module: PathBuf,
}

impl ShimArgs {
    /// The engine and options, or what is wrong with the arguments.
    pub fn into_opts(self) -> Result<(Runtime, ShimOpts), String> {
        let engine: Runtime = self.engine.parse().map_err(|e| format!("{e}"))?;
        let mut policy = WasiPolicy {
            network: self.network,
            ..Default::default()
        };
        for kv in self.env {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(format!("--env {kv}: expected KEY=VALUE"));
            };
            policy.env.push((k.into(), v.into()));
        }
        for d in self.dirs {
            let Some((h, g)) = d.split_once("::") else {
                return Err(format!("--dir {d}: expected HOST::GUEST"));
            };
            policy.preopens.push((h.into(), g.into()));
        }
        let opts = ShimOpts {
            module: self.module,
            name: self.name,
            memory_limit: self.memory_limit,
            policy,
            http_port: self.http_port,
        };
        Ok((engine, opts))
    }

    /// Runs the shim; returns the process exit status (2 for bad arguments).
    pub fn run(self) -> i32 {
        match self.into_opts() {
            Ok((engine, opts)) => shim_main(engine, &opts),
            Err(e) => {
                eprintln!("lumos-runner shim: {e}");
                2
            }
        }
    }
}
