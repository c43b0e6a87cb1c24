//! The Services as YAML: one document each, to stdout, one file, or one
//! file per Service in a directory (`kubectl apply -f` reads all three).

use std::path::{Path, PathBuf};

use super::plan::Deployment;
use crate::error::{Context as _, Result};

/// One YAML document (`---` first) for one Service.
pub fn document(d: &Deployment) -> Result<String> {
    let body = serde_norway::to_string(&d.service)
        .with_context(|| format!("{} {}: writing YAML", d.function, d.variant))?;
    Ok(format!("---\n{body}"))
}

/// Every Service as one multi-document YAML stream.
pub fn stream(deployments: &[Deployment]) -> Result<String> {
    let mut out = String::new();
    for d in deployments {
        out.push_str(&document(d)?);
    }
    Ok(out)
}

/// Where `--out` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// One file holding every document.
    File(PathBuf),
    /// A directory with `<service>.yaml` per Service (made if missing).
    Dir(PathBuf),
}

impl Output {
    /// `--out PATH`: a directory when it is one already or ends with `/`.
    pub fn from_arg(path: Option<PathBuf>) -> Output {
        match path {
            None => Output::Stdout,
            Some(p) if p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') => {
                Output::Dir(p)
            }
            Some(p) => Output::File(p),
        }
    }
}

/// Writes the Services to a file or directory (each file atomically);
/// returns the files written. [`Output::Stdout`] is the caller's to print.
pub fn write(deployments: &[Deployment], out: &Output) -> Result<Vec<PathBuf>> {
    match out {
        Output::Stdout => Ok(vec![]),
        Output::File(path) => {
            write_file(path, &stream(deployments)?)?;
            Ok(vec![path.clone()])
        }
        Output::Dir(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("--out {}: creating the directory", dir.display()))?;
            let mut written = Vec::new();
            for d in deployments {
                let name = d.service.metadata.name.as_deref().unwrap_or("service");
                let path = dir.join(format!("{name}.yaml"));
                write_file(&path, &document(d)?)?;
                written.push(path);
            }
            Ok(written)
        }
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    lumos_oci::write_atomic(path, text.as_bytes())
        .with_context(|| format!("--out {}", path.display()))
}
