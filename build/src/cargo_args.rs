//! Cargo's usual flags, accepted by `cargo lumos` and passed through to cargo.

use std::path::PathBuf;
use std::process::Command;

/// The parser of every path flag: the path made absolute against the current
/// directory, once, at parse time. cargo runs in the workspace root (so the
/// repository's `.cargo/config.toml` applies), where a relative
/// `--manifest-path sub/Cargo.toml` passed on unchanged would name another
/// file; so would any relative path handed to a process in another directory.
/// Nothing on disk is read (`..` and links are kept as given).
#[cfg(feature = "clap")]
pub fn absolute_path() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser;
    clap::builder::PathBufValueParser::new().try_map(|p| std::path::absolute(&p))
}

/// The flags of `cargo build` that `cargo lumos` understands and forwards.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct CargoArgs {
    /// Path to Cargo.toml of the workspace or package.
    #[cfg_attr(feature = "clap", arg(long, value_name = "PATH", value_parser = absolute_path()))]
    pub manifest_path: Option<PathBuf>,
    /// Function package(s) to build (default: every function of the workspace).
    #[cfg_attr(
        feature = "clap",
        arg(short = 'p', long = "package", value_name = "SPEC")
    )]
    pub packages: Vec<String>,
    /// Build every function of the workspace (the default; accepted for cargo's sake).
    #[cfg_attr(feature = "clap", arg(long))]
    pub workspace: bool,
    /// Leave out these packages.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "SPEC", requires = "workspace")
    )]
    pub exclude: Vec<String>,
    /// Build with the release profile (the default unless metadata names a profile).
    #[cfg_attr(feature = "clap", arg(short = 'r', long, conflicts_with = "profile"))]
    pub release: bool,
    /// Build with this cargo profile (letters, digits, `-`, `_`; no leading `-`).
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME", value_parser = crate::config::profile_name))]
    pub profile: Option<String>,
    /// Directory for all generated artifacts.
    #[cfg_attr(feature = "clap", arg(long, value_name = "DIR", value_parser = absolute_path()))]
    pub target_dir: Option<PathBuf>,
    /// Space or comma separated list of features to activate.
    #[cfg_attr(
        feature = "clap",
        arg(short = 'F', long = "features", value_name = "FEATURES")
    )]
    pub features: Vec<String>,
    /// Activate all available features.
    #[cfg_attr(feature = "clap", arg(long))]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[cfg_attr(feature = "clap", arg(long))]
    pub no_default_features: bool,
    /// Assert that Cargo.lock will remain unchanged.
    #[cfg_attr(feature = "clap", arg(long))]
    pub locked: bool,
    /// Run without accessing the network.
    #[cfg_attr(feature = "clap", arg(long))]
    pub offline: bool,
    /// Equivalent to --locked and --offline.
    #[cfg_attr(feature = "clap", arg(long))]
    pub frozen: bool,
}

impl CargoArgs {
    /// The cargo program: `$CARGO` when run by cargo, else `cargo` on PATH.
    pub fn cargo_program() -> PathBuf {
        std::env::var_os("CARGO")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("cargo"))
    }

    /// Flags that apply to every cargo invocation (metadata and build).
    pub fn apply_common(&self, cmd: &mut Command) {
        if let Some(path) = &self.manifest_path {
            cmd.arg("--manifest-path").arg(path);
        }
        if self.locked {
            cmd.arg("--locked");
        }
        if self.offline {
            cmd.arg("--offline");
        }
        if self.frozen {
            cmd.arg("--frozen");
        }
    }

    /// Flags that only `cargo build` takes (features; profile is chosen per function set).
    pub fn apply_build(&self, cmd: &mut Command) {
        self.apply_common(cmd);
        for f in &self.features {
            cmd.arg("--features").arg(f);
        }
        if self.all_features {
            cmd.arg("--all-features");
        }
        if self.no_default_features {
            cmd.arg("--no-default-features");
        }
    }

    /// The profile asked for on the command line, if any.
    pub fn cli_profile(&self) -> Option<String> {
        if self.release {
            Some("release".to_string())
        } else {
            self.profile.clone()
        }
    }
}
