//! Writing payloads to a directory with a `payloads.json` manifest.
//!
//! Layout under the output directory:
//! - `<function>/g<group>/request.json`: the request body;
//! - `objects/<key>`: each storage object, at its key's path;
//! - `payloads.json`: a [`Manifest`] listing every file's path, size and sha256.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{rng::SEED, sha256_hex, Payload, PayloadError};

/// File name of the manifest.
pub const MANIFEST: &str = "payloads.json";

/// File name of the payloads file in the format `cargo lumos bench` reads
/// (written when the directory holds one function's payloads).
pub const LUMOS_PAYLOADS: &str = "payloads.toml";

/// One written file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the output directory, with `/`.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256, lowercase hex.
    pub sha256: String,
}

/// A storage object's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    /// The storage key to preload it under.
    pub key: String,
    /// The file.
    #[serde(flatten)]
    pub file: FileEntry,
}

/// One (function, group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The function.
    pub function: String,
    /// The group.
    pub group: u8,
    /// What the payload is.
    pub description: String,
    /// The request body's file.
    pub request: FileEntry,
    /// The storage objects to preload.
    pub objects: Vec<ObjectEntry>,
}

/// The `payloads.json` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Which generator wrote it.
    pub generator: String,
    /// The PRNG seed, hex.
    pub seed: String,
    /// Every payload written.
    pub payloads: Vec<ManifestEntry>,
}

fn write(dir: &Path, relative: &str, bytes: &[u8]) -> Result<FileEntry, PayloadError> {
    let path = dir.join(relative);
    let io = |source| PayloadError::Io {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(&path, bytes).map_err(io)?;
    Ok(FileEntry {
        path: relative.to_owned(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(bytes),
    })
}

fn safe_relative(key: &str) -> bool {
    !key.is_empty()
        && Path::new(key)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

/// Writes `payloads` under `dir` and the manifest beside them; returns the manifest.
pub fn write_dir(dir: &Path, payloads: &[Payload]) -> Result<Manifest, PayloadError> {
    let mut entries = Vec::new();
    for p in payloads {
        let request = write(
            dir,
            &format!("{}/g{}/request.json", p.function, p.group),
            &p.request,
        )?;
        let mut objects = Vec::new();
        for o in &p.objects {
            assert!(
                safe_relative(&o.key),
                "generated keys are safe relative paths: {:?}",
                o.key
            );
            let file = write(dir, &format!("objects/{}", o.key), &o.bytes)?;
            objects.push(ObjectEntry {
                key: o.key.clone(),
                file,
            });
        }
        entries.push(ManifestEntry {
            function: p.function.clone(),
            group: p.group,
            description: p.description.clone(),
            request,
            objects,
        });
    }
    let manifest = Manifest {
        generator: format!("lumos-payloads {}", env!("CARGO_PKG_VERSION")),
        seed: format!("{SEED:#x}"),
        payloads: entries,
    };
    let mut json = serde_json::to_vec_pretty(&manifest).expect("the manifest always serializes");
    json.push(b'\n');
    write(dir, MANIFEST, &json)?;
    let functions: std::collections::BTreeSet<&str> = manifest
        .payloads
        .iter()
        .map(|p| p.function.as_str())
        .collect();
    if functions.len() == 1 {
        write(
            dir,
            LUMOS_PAYLOADS,
            lumos_payloads_file(&manifest).as_bytes(),
        )?;
    }
    Ok(manifest)
}

/// The payloads file `cargo lumos bench` reads (`[group.N]` with
/// `request_file` and `objects`, paths relative to the directory).
fn lumos_payloads_file(m: &Manifest) -> String {
    #[derive(Serialize)]
    struct Group<'a> {
        request_file: &'a str,
        objects: std::collections::BTreeMap<&'a str, &'a str>,
    }
    #[derive(Serialize)]
    struct File<'a> {
        group: std::collections::BTreeMap<String, Group<'a>>,
    }
    let file = File {
        group: m
            .payloads
            .iter()
            .map(|p| {
                let group = Group {
                    request_file: &p.request.path,
                    objects: p
                        .objects
                        .iter()
                        .map(|o| (o.key.as_str(), o.file.path.as_str()))
                        .collect(),
                };
                (p.group.to_string(), group)
            })
            .collect(),
    };
    format!(
        "# Written by {} (seed {}); read by `cargo lumos bench`.\n{}",
        m.generator,
        m.seed,
        toml::to_string(&file).expect("the payloads file always serializes")
    )
}

/// The manifest's path in `dir`.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_files_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let payloads = vec![
            crate::payload("fibonacci", 1).unwrap(),
            crate::payload("encrypt-message", 1).unwrap(),
        ];
        let manifest = write_dir(dir.path(), &payloads).unwrap();
        let read: Manifest =
            serde_json::from_slice(&std::fs::read(manifest_path(dir.path())).unwrap()).unwrap();
        assert_eq!(read, manifest);
        assert_eq!(read.payloads.len(), 2);
        let enc = &read.payloads[1];
        assert_eq!(enc.objects[0].key, "encrypt-message/g1/message.json");
        let bytes = std::fs::read(dir.path().join(&enc.objects[0].file.path)).unwrap();
        assert_eq!(bytes.len() as u64, enc.objects[0].file.bytes);
        assert_eq!(bytes.len(), 512 * 1024);
        assert_eq!(sha256_hex(&bytes), enc.objects[0].file.sha256);
        let req = std::fs::read(dir.path().join("fibonacci/g1/request.json")).unwrap();
        assert_eq!(req, br#"{"n":10000}"#);
        assert_eq!(read.payloads[0].request.sha256, sha256_hex(&req));
        // Two functions: no single payloads file for cargo lumos.
        assert!(!dir.path().join(LUMOS_PAYLOADS).exists());
    }

    #[test]
    fn one_function_gets_a_lumos_payloads_file() {
        let dir = tempfile::tempdir().unwrap();
        let payloads: Vec<Payload> = [1, 2]
            .into_iter()
            .map(|g| crate::payload("encrypt-message", g).unwrap())
            .collect();
        write_dir(dir.path(), &payloads).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LUMOS_PAYLOADS)).unwrap();
        let v: toml::Table = text.parse().unwrap();
        let g2 = &v["group"]["2"];
        assert_eq!(
            g2["request_file"].as_str(),
            Some("encrypt-message/g2/request.json")
        );
        let objects = g2["objects"].as_table().unwrap();
        let (key, file) = objects.iter().next().unwrap();
        let bytes = std::fs::read(dir.path().join(file.as_str().unwrap())).unwrap();
        assert_eq!(key, "encrypt-message/g2/message.json");
        assert_eq!(bytes.len(), 1024 * 1024);
    }

    #[test]
    fn key_paths() {
        assert!(safe_relative("fuzzy-search/g1/corpus.json"));
        assert!(!safe_relative("../etc/passwd"));
        assert!(!safe_relative("/abs"));
        assert!(!safe_relative(""));
    }
}
