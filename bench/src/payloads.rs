//! What a function is sent: the payload groups its `payloads` file names
//! (metadata key `payloads`, relative to the package). A function without one
//! gets an empty request and one warning, never another function's data.
//!
//! A payloads file (TOML):
//!
//! ```toml
//! [group.1]
//! request = '{"n": 10}'                 # or request_file = "g1.json"
//! args = ["10"]                         # command-line arguments (stdio programs)
//! objects = { "corpus/g1" = "g1.txt" }  # storage key -> file, preloaded
//! ```
//!
//! or, for payloads made by a program of the workspace (the built-in
//! functions' seeded groups come from `lumos-payloads` this way):
//!
//! ```toml
//! generate = { package = "lumos-payloads", args = ["--function", "fibonacci"] }
//! ```
//!
//! The bench runs `cargo run -p PACKAGE -- ARGS --out DIR` in the
//! workspace once (with `--release` when the tool itself is a release
//! build) and reads `DIR/payloads.toml`, a payloads file like the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lumos_build::{CargoArgs, Function, Workspace};

use crate::error::{bail, io};

/// One object to preload into the store.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub bytes: Vec<u8>,
}

/// What one (function, group) sends and needs in storage.
#[derive(Debug, Clone, Default)]
pub struct Payload {
    pub request: Vec<u8>,
    /// Command-line arguments of the instance (stdio programs that take their input so).
    pub args: Vec<String>,
    pub objects: Vec<Object>,
}

impl Payload {
    /// The request plus the objects it reads, bytes.
    pub fn bytes(&self) -> u64 {
        self.request.len() as u64
            + self
                .objects
                .iter()
                .map(|o| o.bytes.len() as u64)
                .sum::<u64>()
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    generate: Option<Generator>,
    #[serde(default)]
    group: BTreeMap<String, Group>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Generator {
    package: String,
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    request: Option<String>,
    request_file: Option<PathBuf>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    objects: BTreeMap<String, PathBuf>,
}

/// The payloads of one function: its groups, read once.
#[derive(Debug, Default)]
pub struct Payloads {
    /// The payloads file read (None: the function has none).
    pub file: Option<PathBuf>,
    groups: BTreeMap<u8, Payload>,
}

impl Payloads {
    /// Reads the payloads of `f` for `groups`, running its generator first
    /// when the file names one (output under `<target-dir>/lumos/payloads/`).
    pub fn load(
        ws: &Workspace,
        cargo: &CargoArgs,
        f: &Function,
        groups: &[u8],
    ) -> crate::Result<Payloads> {
        let Some(rel) = &f.config.payloads else {
            return Ok(Payloads::default());
        };
        let mut path = f.dir.join(rel);
        let mut file = parse(&path)?;
        if let Some(g) = &file.generate {
            let out = ws.lumos_dir().join("payloads").join(&f.name);
            generate(ws, cargo, g, &out, &path)?;
            path = out.join("payloads.toml");
            file = parse(&path)?;
            if file.generate.is_some() {
                bail!(
                    "{}: a generated payloads file may not generate again",
                    path.display()
                );
            }
        }
        let mut out = Payloads {
            file: Some(path.clone()),
            groups: BTreeMap::new(),
        };
        for &g in groups {
            out.groups.insert(g, group(&path, &file, &f.name, g)?);
        }
        Ok(out)
    }

    /// The payload of `group`: an empty request when the function has no payloads file.
    pub fn group(&self, group: u8) -> Payload {
        self.groups.get(&group).cloned().unwrap_or_default()
    }
}

fn parse(path: &Path) -> crate::Result<File> {
    let text =
        std::fs::read_to_string(path).map_err(io(format!("payloads file {}", path.display())))?;
    toml::from_str(&text).map_err(|source| crate::Error::Payloads {
        path: path.to_path_buf(),
        source,
    })
}

/// Runs a payload generator of the workspace into `out`.
fn generate(
    ws: &Workspace,
    cargo: &CargoArgs,
    g: &Generator,
    out: &Path,
    named_in: &Path,
) -> crate::Result<()> {
    let mut cmd = Command::new(CargoArgs::cargo_program());
    cmd.current_dir(&ws.root)
        .args(["run", "--quiet", "-p", &g.package])
        .arg("--target-dir")
        .arg(&ws.target_dir);
    // In the profile this tool was built with: a cargo-lumos built in the
    // workspace's own target dir (scripts/demo's release build, the tests'
    // debug one) has already compiled most of the generator's host
    // dependencies there. Measured in the demo: 82 s in dev after a release
    // build of the tool, 45 s in release.
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    cargo.apply_common(&mut cmd);
    cmd.arg("--").args(&g.args).arg("--out").arg(out);
    let output = cmd
        .output()
        .map_err(io(format!("running the payload generator {}", g.package)))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        bail!(
            "{}: the payload generator `{}` failed ({}): {last}",
            named_in.display(),
            g.package,
            output.status
        );
    }
    Ok(())
}

/// The payload of `group` from a parsed payloads file at `path`.
fn group(path: &Path, file: &File, function: &str, group: u8) -> crate::Result<Payload> {
    let Some(g) = file.group.get(&group.to_string()) else {
        bail!(
            "{}: no payload group {group} for {function} (it has {})",
            path.display(),
            file.group.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    };
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let read = |f: &Path, what: String| {
        std::fs::read(base.join(f)).map_err(io(format!("{}: {what}", path.display())))
    };
    let request = match (&g.request, &g.request_file) {
        (Some(r), None) => r.clone().into_bytes(),
        (None, Some(f)) => read(f, format!("request_file {}", f.display()))?,
        // Arguments alone (a CLI program) send nothing on stdin.
        (None, None) if !g.args.is_empty() => Vec::new(),
        (None, None) => b"{}".to_vec(),
        (Some(_), Some(_)) => bail!(
            "{}: group {group}: give `request` or `request_file`, not both",
            path.display()
        ),
    };
    let mut objects = Vec::new();
    for (key, f) in &g.objects {
        objects.push(Object {
            key: key.clone(),
            bytes: read(f, format!("object {key}: {}", f.display()))?,
        });
    }
    Ok(Payload {
        request,
        args: g.args.clone(),
        objects,
    })
}
