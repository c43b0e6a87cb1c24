//! The request and storage objects of (function, group): a function's own
//! `payloads` file when its metadata names one, else the built-in payloads
//! of `lumos-payloads` for the eight functions of the paper.
//!
//! A `payloads` file (TOML, relative to the package):
//!
//! ```toml
//! [group.1]
//! request = '{"n": 10}'                 # or request_file = "g1.json"
//! objects = { "corpus/g1" = "g1.txt" }  # storage key -> file, preloaded
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// One object to preload into the store.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub bytes: Vec<u8>,
}

/// What one (function, group) sends and needs in storage.
#[derive(Debug, Clone)]
pub struct Payload {
    pub request: Vec<u8>,
    pub objects: Vec<Object>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    group: BTreeMap<String, Group>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    request: Option<String>,
    request_file: Option<PathBuf>,
    #[serde(default)]
    objects: BTreeMap<String, PathBuf>,
}

/// Where a function's payloads come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A `payloads` file of the package.
    File(PathBuf),
    /// `lumos-payloads`.
    BuiltIn,
}

/// Finds the payload source of a function: its `payloads` file (resolved
/// against its package directory) or the built-ins; an error when neither.
pub fn source(
    function: &str,
    payloads_key: Option<&Path>,
    package_dir: Option<&Path>,
) -> Result<Source> {
    if let Some(rel) = payloads_key {
        let dir = package_dir.unwrap_or_else(|| Path::new("."));
        return Ok(Source::File(dir.join(rel)));
    }
    if lumos_payloads::FUNCTIONS.contains(&function) {
        return Ok(Source::BuiltIn);
    }
    bail!(
        "function `{function}` has no payloads: add `payloads = \"payloads.toml\"` to its [package.metadata.lumos] (the built-in payloads cover {})",
        lumos_payloads::FUNCTIONS.join(", ")
    )
}

/// The payload of `function` in `group` from `source`.
pub fn load(source: &Source, function: &str, group: u8) -> Result<Payload> {
    match source {
        Source::BuiltIn => {
            let p = lumos_payloads::payload(function, group)?;
            Ok(Payload {
                request: p.request,
                objects: p
                    .objects
                    .into_iter()
                    .map(|o| Object {
                        key: o.key,
                        bytes: o.bytes,
                    })
                    .collect(),
            })
        }
        Source::File(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{function}: payloads file {}", path.display()))?;
            let file: File = toml::from_str(&text)
                .with_context(|| format!("{}: not a payloads file", path.display()))?;
            let Some(g) = file.group.get(&group.to_string()) else {
                bail!(
                    "{}: no payload group {group} for {function} (it has {})",
                    path.display(),
                    file.group.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            };
            let base = path.parent().unwrap_or_else(|| Path::new("."));
            let request = match (&g.request, &g.request_file) {
                (Some(r), None) => r.clone().into_bytes(),
                (None, Some(f)) => std::fs::read(base.join(f))
                    .with_context(|| format!("{}: request_file {}", path.display(), f.display()))?,
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
                    bytes: std::fs::read(base.join(f)).with_context(|| {
                        format!("{}: object {key}: {}", path.display(), f.display())
                    })?,
                });
            }
            Ok(Payload { request, objects })
        }
    }
}
