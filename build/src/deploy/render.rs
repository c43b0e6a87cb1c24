//! The objects as YAML: one document each, to stdout, one file, or one file
//! per object in a directory (`kubectl apply -f` reads all three).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::cluster::{config_features, runtime_class};
use super::plan::Plan;
use crate::error::{Context as _, Result};

/// One YAML document (`---` first) and the file name it gets in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// `<service>.yaml`; cluster objects start with `00-` so they sort first.
    pub file_name: String,
    pub yaml: String,
}

fn document(file_name: String, value: &impl Serialize, what: &str) -> Result<Document> {
    let body = serde_norway::to_string(value).with_context(|| format!("{what}: writing YAML"))?;
    Ok(Document {
        file_name,
        yaml: format!("---\n{body}"),
    })
}

/// The documents of a plan: with `cluster_setup`, first the RuntimeClass
/// and the `config-features` keys its Services need; then every Service.
pub fn documents(
    plan: &Plan,
    runtime_class_name: &str,
    cluster_setup: bool,
) -> Result<Vec<Document>> {
    let mut out = Vec::new();
    if cluster_setup {
        let spec = |d: &super::Deployment| d.service.spec.template.spec.clone();
        let wasm = plan
            .deployments
            .iter()
            .any(|d| spec(d).runtime_class_name.is_some());
        let pinned = plan
            .deployments
            .iter()
            .any(|d| !spec(d).node_selector.is_empty());
        if wasm {
            out.push(document(
                format!("00-runtimeclass-{runtime_class_name}.yaml"),
                &runtime_class(runtime_class_name),
                "RuntimeClass",
            )?);
        }
        if let Some(features) = config_features(wasm, pinned) {
            out.push(document(
                "00-config-features.yaml".into(),
                &features,
                "config-features",
            )?);
        }
    }
    for d in &plan.deployments {
        let name = d.service.metadata.name.as_deref().unwrap_or("service");
        out.push(document(
            format!("{name}.yaml"),
            &d.service,
            &format!("{} {}", d.function, d.variant),
        )?);
    }
    Ok(out)
}

/// Every document as one multi-document YAML stream.
pub fn stream(documents: &[Document]) -> String {
    documents.iter().map(|d| d.yaml.as_str()).collect()
}

/// Where `--out` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// One file holding every document.
    File(PathBuf),
    /// A directory with one file per document (made if missing).
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

/// Writes the documents to a file or directory (each file atomically);
/// returns the files written. [`Output::Stdout`] is the caller's to print.
pub fn write(documents: &[Document], out: &Output) -> Result<Vec<PathBuf>> {
    match out {
        Output::Stdout => Ok(vec![]),
        Output::File(path) => {
            write_file(path, &stream(documents))?;
            Ok(vec![path.clone()])
        }
        Output::Dir(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("--out {}: creating the directory", dir.display()))?;
            let mut written = Vec::new();
            for d in documents {
                let path = dir.join(&d.file_name);
                write_file(&path, &d.yaml)?;
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
