//! Hostile images written by hand: manifests, configs and layers with
//! correct digests and hostile content (symlinks out of the rootfs, `..` in
//! annotations, absolute and symlinked entrypoints, `wasi.dirs` through
//! links, entries the unpacker refuses). The tar stream is written here byte
//! by byte so that nothing on the way sanitises what an attacker would send.

use lumos_oci::spec::media;
use lumos_oci::{Descriptor, Layout};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One tar entry, written as given.
#[derive(Debug, Clone)]
pub enum Entry {
    Dir(String),
    File(String, Vec<u8>, u32),
    Symlink(String, String),
}

/// A tar stream (ustar) holding `entries`, names and link targets unchecked.
pub fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (name, kind, mode, body, link): (&str, u8, u32, &[u8], &str) = match e {
            Entry::Dir(n) => (n, b'5', 0o755, &[], ""),
            Entry::File(n, b, m) => (n, b'0', *m, b, ""),
            Entry::Symlink(n, t) => (n, b'2', 0o777, &[], t),
        };
        let mut h = [0u8; 512];
        assert!(
            name.len() <= 100 && link.len() <= 100,
            "keep hostile names short"
        );
        h[..name.len()].copy_from_slice(name.as_bytes());
        let octal = |h: &mut [u8], at: usize, width: usize, v: u64| {
            let s = format!("{v:0w$o}\0", w = width - 1);
            h[at..at + width].copy_from_slice(s.as_bytes());
        };
        octal(&mut h, 100, 8, mode as u64);
        octal(&mut h, 108, 8, 0);
        octal(&mut h, 116, 8, 0);
        octal(&mut h, 124, 12, body.len() as u64);
        octal(&mut h, 136, 12, 0);
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        let s = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(s.as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// A native-shaped image (linux/amd64, uncompressed tar layers) with the
/// given config `config` section, layers and manifest annotations.
pub struct Image {
    pub config: Value,
    pub layers: Vec<Vec<Entry>>,
    pub annotations: BTreeMap<String, String>,
}

impl Image {
    pub fn new(config: Value, layers: Vec<Vec<Entry>>) -> Image {
        Image {
            config,
            layers,
            annotations: BTreeMap::new(),
        }
    }

    pub fn annotate(mut self, k: &str, v: &str) -> Image {
        self.annotations.insert(k.into(), v.into());
        self
    }

    /// Writes the image into a new layout at `dir` under `name`; returns `dir`.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let layout = Layout::create(dir).unwrap();
        let mut layers = vec![];
        let mut diff_ids = vec![];
        for entries in &self.layers {
            let blob = tar(entries);
            let d = layout.write_blob(&blob).unwrap();
            diff_ids.push(d.to_string());
            layers.push(Descriptor::new(media::LAYER_TAR, d, blob.len() as u64));
        }
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": self.config,
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
        });
        let cbytes = serde_json::to_vec(&config).unwrap();
        let cd = layout.write_blob(&cbytes).unwrap();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media::MANIFEST,
            "config": Descriptor::new(media::CONFIG, cd, cbytes.len() as u64),
            "layers": layers,
            "annotations": self.annotations,
        });
        name_manifest(&layout, name, &serde_json::to_vec(&manifest).unwrap());
        dir.to_path_buf()
    }
}

/// A CNCF Wasm OCI artifact (`application/wasm` layer, wasm config media
/// type) holding `module`, with manifest annotations `annotations`.
pub fn wasm_artifact(
    dir: &Path,
    name: &str,
    module: &[u8],
    annotations: &[(&str, &str)],
) -> PathBuf {
    let layout = Layout::create(dir).unwrap();
    let md = layout.write_blob(module).unwrap();
    let config =
        json!({ "architecture": "wasm", "os": "wasip1", "layerDigests": [md.to_string()] });
    let cbytes = serde_json::to_vec(&config).unwrap();
    let cd = layout.write_blob(&cbytes).unwrap();
    let ann: BTreeMap<&str, &str> = annotations.iter().copied().collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media::MANIFEST,
        "config": Descriptor::new(media::WASM_CONFIG, cd, cbytes.len() as u64),
        "layers": [Descriptor::new(media::WASM_LAYER, md, module.len() as u64)],
        "annotations": ann,
    });
    name_manifest(&layout, name, &serde_json::to_vec(&manifest).unwrap());
    dir.to_path_buf()
}

fn name_manifest(layout: &Layout, name: &str, bytes: &[u8]) {
    let d = layout.write_blob(bytes).unwrap();
    let desc = Descriptor::new(media::MANIFEST, d, bytes.len() as u64);
    let mut refs = layout.refs().unwrap_or_default();
    refs.retain(|(n, _)| n != name);
    refs.push((name.to_string(), desc));
    layout.set_refs(&refs).unwrap();
}
