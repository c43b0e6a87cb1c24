//! The workspace as cargo sees it, and the functions in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{bail, Result};
use cargo_metadata::{CrateType, Metadata, MetadataCommand, Package};
use lumos_model::Protocol;

use crate::cargo_args::CargoArgs;
use crate::config::{self, FunctionConfig};
use lumos_model::RuntimeFamily;

/// A package with `[package.metadata.lumos]` and the binary it builds.
/// Twins (metadata `name`) are two of these with one name and disjoint
/// runtime families.
#[derive(Debug, Clone)]
pub struct Function {
    /// The function's name: metadata `name`, else its binary's name, or for
    /// a `wasi-http` component (a `cdylib`) its package's name.
    pub name: String,
    /// The cargo target that builds it: the binary, or the `cdylib` library
    /// (cargo's name for it, `-` written `_`).
    pub target: String,
    pub package: String,
    /// cargo's package id (`cargo metadata`'s `id`), what Lumos passes to
    /// `cargo build -p`: a package named like one of its dependencies is
    /// ambiguous by name alone.
    pub id: String,
    /// The directory of the package's Cargo.toml (relative metadata paths start here).
    pub dir: PathBuf,
    pub config: FunctionConfig,
}

/// The loaded workspace.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// The selected functions (`-p`, `--exclude`; all when none given),
    /// sorted by name.
    pub functions: Vec<Function>,
    /// Every function of the workspace, selected or not, sorted by name
    /// (a bench's neighbour may be outside the selection).
    pub all_functions: Vec<Function>,
    /// `[workspace.metadata.lumos] profile`, if set.
    pub default_profile: Option<String>,
    /// `[workspace.metadata.lumos.workflows.NAME] steps`: each named
    /// workflow's steps (function names of the workspace, checked).
    pub workflows: BTreeMap<String, Vec<String>>,
}

impl Workspace {
    /// Reads the workspace with `cargo metadata` and finds its functions.
    pub fn load(args: &CargoArgs) -> Result<Workspace> {
        let mut cmd = MetadataCommand::new();
        cmd.cargo_path(CargoArgs::cargo_program()).no_deps();
        if let Some(path) = &args.manifest_path {
            if !path.is_file() {
                bail!("--manifest-path {}: no such file", path.display());
            }
            cmd.manifest_path(path);
        }
        let mut other = Vec::new();
        for (flag, on) in [
            ("--locked", args.locked),
            ("--offline", args.offline),
            ("--frozen", args.frozen),
        ] {
            if on {
                other.push(flag.to_string());
            }
        }
        cmd.other_options(other);
        let metadata = cmd.exec()?;
        Self::from_metadata(metadata, args)
    }

    fn from_metadata(metadata: Metadata, args: &CargoArgs) -> Result<Workspace> {
        let root: PathBuf = metadata.workspace_root.clone().into();
        let root_manifest = root.join("Cargo.toml");
        let ws_table = config::lumos_table(&metadata.workspace_metadata);
        if let Some(t) = ws_table {
            config::validate(t, &root_manifest, "workspace.metadata.lumos")?;
        }
        let default_profile = ws_table
            .and_then(|t| t.get("profile"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let workflows = match ws_table.and_then(|t| t.get("workflows")) {
            // Validated above.
            Some(w) => config::workflows(w).unwrap_or_default(),
            None => BTreeMap::new(),
        };
        let mut functions = Vec::new();
        for package in metadata.workspace_packages() {
            let Some(table) = config::lumos_table(&package.metadata) else {
                continue;
            };
            let manifest: PathBuf = package.manifest_path.clone().into();
            config::validate(table, &manifest, "package.metadata.lumos")?;
            let config = config::resolve(ws_table, table);
            config::check_resolved(&config, &manifest)?;
            let (default_name, target) = if config.protocol == Protocol::WasiHttp {
                (package.name.to_string(), cdylib_name(package)?)
            } else {
                let bin = binary_name(package)?;
                (bin.clone(), bin)
            };
            functions.push(Function {
                name: config.name.clone().unwrap_or(default_name),
                target,
                package: package.name.to_string(),
                id: package.id.repr.clone(),
                dir: manifest
                    .parent()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| root.clone()),
                config,
            });
        }
        functions.sort_by(|a, b| (&a.name, &a.package).cmp(&(&b.name, &b.package)));
        check_twins(&functions)?;
        for (name, steps) in &workflows {
            if let Some(unknown) = steps
                .iter()
                .find(|s| !functions.iter().any(|f| &f.name == *s))
            {
                bail!(
                    "{}: [workspace.metadata.lumos.workflows.{name}] steps: `{unknown}` is not a function of the workspace (functions: {})",
                    root_manifest.display(),
                    function_names(&functions)
                );
            }
        }
        // `--target-dir` is absolute already (made so at parse time).
        let target_dir = match &args.target_dir {
            Some(dir) => dir.clone(),
            None => metadata.target_directory.clone().into(),
        };
        let mut ws = Workspace {
            root,
            target_dir,
            all_functions: functions.clone(),
            functions,
            default_profile,
            workflows,
        };
        ws.select(&metadata, args)?;
        Ok(ws)
    }

    /// Keeps only the functions `-p` / `--exclude` ask for.
    fn select(&mut self, metadata: &Metadata, args: &CargoArgs) -> Result<()> {
        for spec in args.packages.iter().chain(&args.exclude) {
            let known = metadata
                .workspace_packages()
                .iter()
                .any(|p| p.name.as_str() == spec);
            if !known {
                bail!(
                    "package `{spec}` is not a member of the workspace at {}",
                    self.root.display()
                );
            }
        }
        if !args.packages.is_empty() {
            for spec in &args.packages {
                if !self.functions.iter().any(|f| &f.package == spec) {
                    bail!(
                        "package `{spec}` has no [package.metadata.lumos] table, so it is not a function (add one to its Cargo.toml)"
                    );
                }
            }
            self.functions
                .retain(|f| args.packages.contains(&f.package));
        }
        self.functions
            .retain(|f| !args.exclude.contains(&f.package));
        Ok(())
    }

    /// `<target-dir>/lumos`.
    pub fn lumos_dir(&self) -> PathBuf {
        self.target_dir.join("lumos")
    }

    /// The function named `name`, if it was selected (of twins, the first).
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The package of function `name` that supports `family` (twins split the
    /// families between them), else the first of that name.
    pub fn function_for(&self, name: &str, family: RuntimeFamily) -> Option<&Function> {
        self.functions
            .iter()
            .find(|f| f.name == name && f.config.runtimes.contains(&family))
            .or_else(|| self.function(name))
    }

    /// The selected functions' names, each once (twins share one).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.functions.iter().map(|f| f.name.clone()).collect();
        names.dedup();
        names
    }

    /// Every function's name, selected or not, each once.
    pub fn all_names(&self) -> String {
        function_names(&self.all_functions)
    }

    /// The packages of function `name`, joined with `, ` (twins have two).
    pub fn packages_of(&self, name: &str) -> String {
        let packages: Vec<&str> = self
            .functions
            .iter()
            .filter(|f| f.name == name)
            .map(|f| f.package.as_str())
            .collect();
        packages.join(", ")
    }
}

/// The functions' names, each once, joined with `, `.
fn function_names(functions: &[Function]) -> String {
    let mut names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
    names.dedup();
    names.join(", ")
}

/// Packages that are one function (same name) must split the runtime
/// families between them and agree on how the function is invoked.
fn check_twins(functions: &[Function]) -> Result<()> {
    for pair in functions.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.name != b.name {
            continue;
        }
        let both = |what: String| -> Result<()> {
            bail!(
                "{} and {}: packages `{}` and `{}` are both function `{}` (metadata `name`); {what}",
                a.dir.join("Cargo.toml").display(),
                b.dir.join("Cargo.toml").display(),
                a.package,
                b.package,
                a.name
            )
        };
        let shared: Vec<String> = a
            .config
            .runtimes
            .iter()
            .filter(|r| b.config.runtimes.contains(r))
            .map(|r| r.to_string())
            .collect();
        if !shared.is_empty() {
            both(format!(
                "twins need disjoint `runtimes`, both list {}",
                shared.join(", ")
            ))?;
        }
        if a.config.protocol != b.config.protocol
            || a.config.port != b.config.port
            || a.config.args != b.config.args
        {
            both("twins need the same `protocol`, `port` and `args`".into())?;
        }
    }
    Ok(())
}

/// The target directory for commands that only read build output
/// (`target_dir` when given, else what `cargo metadata` says for the workspace).
pub fn target_dir(manifest_path: Option<&Path>, target_dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = target_dir {
        return Ok(dir.to_path_buf());
    }
    let mut cmd = MetadataCommand::new();
    cmd.cargo_path(CargoArgs::cargo_program()).no_deps();
    if let Some(path) = manifest_path {
        if !path.is_file() {
            bail!("--manifest-path {}: no such file", path.display());
        }
        cmd.manifest_path(path);
    }
    let metadata = cmd.exec()?;
    Ok(metadata.target_directory.into())
}

/// The binary a function package builds: the one named like the package, or its only one.
fn binary_name(package: &Package) -> Result<String> {
    let bins: Vec<&str> = package
        .targets
        .iter()
        .filter(|t| t.is_bin())
        .map(|t| t.name.as_str())
        .collect();
    if let Some(b) = bins.iter().find(|b| **b == package.name.as_str()) {
        return Ok(b.to_string());
    }
    match bins.as_slice() {
        [only] => Ok(only.to_string()),
        [] => bail!(
            "{}: package `{}` has [package.metadata.lumos] but no binary target (a function is a bin crate, or a cdylib with protocol = \"wasi-http\")",
            package.manifest_path,
            package.name
        ),
        _ => bail!(
            "{}: package `{}` has several binaries ({}) and none is named like the package",
            package.manifest_path,
            package.name,
            bins.join(", ")
        ),
    }
}

/// The `cdylib` library a `wasi-http` function package builds (the component).
fn cdylib_name(package: &Package) -> Result<String> {
    match package
        .targets
        .iter()
        .find(|t| t.crate_types.contains(&CrateType::CDyLib))
    {
        Some(t) => Ok(t.name.to_string()),
        None => bail!(
            "{}: package `{}` has protocol = \"wasi-http\" but no cdylib library (add [lib] crate-type = [\"cdylib\"]: the component is built from it)",
            package.manifest_path,
            package.name
        ),
    }
}
