//! Getting an image into the local cache and unpacked, timed: from a
//! registry (lumos-oci pull), from a local OCI layout (blobs copied into the
//! cache, verified), or a bare file (no image).
//!
//! Cache layout: `<cache>/layout` (an OCI layout, blobs by digest),
//! `<cache>/rootfs/<manifest hex>/` (unpacked), `<cache>/rootfs/<hex>.json`
//! (written last: the unpack is complete), `<cache>/refs.json` (reference →
//! manifest digest, so a cached image is not pulled again).

use crate::artifact::{tree_bytes, Artifact, ImageInfo};
use crate::runtime::Protocol;
use lumos_oci::registry::{pull, Client, ClientOptions};
use lumos_oci::spec::media;
use lumos_oci::unpack::{unpack_image, UnpackLimits};
use lumos_oci::{Descriptor, Index, Layout, Manifest};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// `file:PATH` or an existing regular file: a bare executable or module.
    File(PathBuf),
    /// `oci:DIR[:NAME]`: an image in a local OCI layout (NAME from index.json;
    /// may be omitted when the layout holds one image).
    Layout { dir: PathBuf, name: Option<String> },
    /// `HOST[:PORT]/REPO[:TAG|@DIGEST]`.
    Registry(String),
}

impl ImageRef {
    pub fn parse(s: &str) -> crate::Result<ImageRef> {
        if let Some(p) = s.strip_prefix("file:") {
            return Ok(ImageRef::File(p.into()));
        }
        if let Some(rest) = s.strip_prefix("oci:") {
            // The directory is the longest prefix (up to a ':') that exists.
            let mut cut = None;
            for (i, ch) in rest.char_indices() {
                if ch == ':' && Path::new(&rest[..i]).is_dir() {
                    cut = Some(i);
                }
            }
            return Ok(match cut {
                Some(i) => ImageRef::Layout {
                    dir: rest[..i].into(),
                    name: Some(rest[i + 1..].to_string()),
                },
                None => ImageRef::Layout {
                    dir: rest.into(),
                    name: None,
                },
            });
        }
        if Path::new(s).is_file() {
            return Ok(ImageRef::File(s.into()));
        }
        if s.contains('/') {
            return Ok(ImageRef::Registry(s.to_string()));
        }
        Err(crate::Error::Usage(format!(
            "image {s:?}: expected HOST[:PORT]/REPO:TAG, oci:DIR[:NAME] or file:PATH"
        )))
    }
}

/// An image in the cache, unpacked.
pub struct Fetched {
    pub artifact: Artifact,
    pub pull: Option<Duration>,
    pub unpack: Option<Duration>,
    pub was_empty: bool,
}

fn oci(e: lumos_oci::Error) -> crate::Error {
    crate::Error::Oci(e.to_string())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stamp {
    config: serde_json::Value,
    annotations: BTreeMap<String, String>,
    image: ImageInfo,
}

fn refs_path(cache: &Path) -> PathBuf {
    cache.join("refs.json")
}

fn cached_ref(cache: &Path, reference: &str) -> Option<String> {
    let m: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(refs_path(cache)).ok()?).ok()?;
    m.get(reference).cloned()
}

fn remember_ref(cache: &Path, reference: &str, digest: &str) -> crate::Result<()> {
    let p = refs_path(cache);
    let mut m: BTreeMap<String, String> = std::fs::read(&p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    m.insert(reference.to_string(), digest.to_string());
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&m).expect("serialises"))
        .and_then(|_| std::fs::rename(&tmp, &p))
        .map_err(|e| crate::Error::io("write", &p, e))
}

fn rootfs_dir(cache: &Path, digest: &str) -> PathBuf {
    cache
        .join("rootfs")
        .join(digest.trim_start_matches("sha256:"))
}

/// Loads an unpacked image from the cache if its stamp is there.
fn from_stamp(
    cache: &Path,
    digest: &str,
    protocol: Option<Protocol>,
) -> Option<crate::Result<Artifact>> {
    let root = rootfs_dir(cache, digest);
    let stamp: Stamp =
        serde_json::from_slice(&std::fs::read(root.with_extension("json")).ok()?).ok()?;
    Some(Artifact::from_config(
        &stamp.config,
        &stamp.annotations,
        root,
        stamp.image,
        protocol,
    ))
}

pub fn fetch(
    r: &ImageRef,
    cache: &Path,
    insecure: bool,
    protocol: Option<Protocol>,
) -> crate::Result<Fetched> {
    match r {
        ImageRef::File(p) => {
            let dir = cache.join("files").join(crate::instance::new_instance_id());
            let a = Artifact::from_file(p, &dir, protocol)?;
            Ok(Fetched {
                artifact: a,
                pull: None,
                unpack: None,
                was_empty: true,
            })
        }
        ImageRef::Registry(s) => {
            if let Some(d) = cached_ref(cache, s) {
                if let Some(a) = from_stamp(cache, &d, protocol) {
                    return Ok(Fetched {
                        artifact: a?,
                        pull: Some(Duration::ZERO),
                        unpack: Some(Duration::ZERO),
                        was_empty: false,
                    });
                }
            }
            let t0 = Instant::now();
            let reference = lumos_oci::reference::Reference::parse(s).map_err(oci)?;
            let client = Client::connect(
                &reference.registry,
                ClientOptions {
                    insecure,
                    ..Default::default()
                },
            )
            .map_err(oci)?;
            let layout = Layout::create(cache.join("layout")).map_err(oci)?;
            let pulled = pull(&client, &layout, &reference, None).map_err(oci)?;
            let pull_t = t0.elapsed();
            let digest = pulled.descriptor.digest.to_string();
            let a = unpack(
                &layout,
                &pulled.manifest,
                &pulled.descriptor,
                &pulled.config,
                s,
                cache,
                protocol,
            )?;
            remember_ref(cache, s, &digest)?;
            Ok(Fetched {
                artifact: a.0,
                pull: Some(pull_t),
                unpack: Some(a.1),
                was_empty: true,
            })
        }
        ImageRef::Layout { dir, name } => {
            let key = format!("oci:{}:{}", dir.display(), name.as_deref().unwrap_or(""));
            if let Some(d) = cached_ref(cache, &key) {
                if let Some(a) = from_stamp(cache, &d, protocol) {
                    return Ok(Fetched {
                        artifact: a?,
                        pull: Some(Duration::ZERO),
                        unpack: Some(Duration::ZERO),
                        was_empty: false,
                    });
                }
            }
            let t0 = Instant::now();
            let src = Layout::open(dir).map_err(oci)?;
            let top = match name {
                Some(n) => src.resolve(n).map_err(oci)?,
                None => {
                    let refs = src.refs().map_err(oci)?;
                    match refs.as_slice() {
                        [(_, d)] => d.clone(),
                        [] => src
                            .index()
                            .map_err(oci)?
                            .manifests
                            .first()
                            .cloned()
                            .ok_or_else(|| {
                                crate::Error::Image(format!("{}: empty layout", dir.display()))
                            })?,
                        many => {
                            let names: Vec<_> = many.iter().map(|(n, _)| n.as_str()).collect();
                            return Err(crate::Error::Usage(format!(
                                "{} holds {} images; name one: oci:{}:NAME with NAME one of {}",
                                dir.display(),
                                many.len(),
                                dir.display(),
                                names.join(", ")
                            )));
                        }
                    }
                }
            };
            let layout = Layout::create(cache.join("layout")).map_err(oci)?;
            let copy = |d: &Descriptor| -> crate::Result<Vec<u8>> {
                if !layout.has_blob(&d.digest) {
                    let f = src.open_blob(&d.digest).map_err(oci)?;
                    layout
                        .write_blob_from(f, Some((&d.digest, Some(d.size))))
                        .map_err(oci)?;
                }
                layout.read_blob(&d.digest).map_err(oci)
            };
            let mut desc = top.clone();
            let mut bytes = copy(&top)?;
            if media::is_index(&top.media_type) {
                let idx: Index = serde_json::from_slice(&bytes)
                    .map_err(|e| crate::Error::Image(format!("index: {e}")))?;
                let want = lumos_oci::registry::pull::host_platform();
                desc = lumos_oci::registry::pull::select_platform(&idx, &want, &key)
                    .map_err(oci)?
                    .clone();
                bytes = copy(&desc)?;
            }
            let manifest: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| crate::Error::Image(format!("manifest: {e}")))?;
            let config = copy(&manifest.config)?;
            for l in &manifest.layers {
                if !layout.has_blob(&l.digest) {
                    let f = src.open_blob(&l.digest).map_err(oci)?;
                    layout
                        .write_blob_from(f, Some((&l.digest, Some(l.size))))
                        .map_err(oci)?;
                }
            }
            let pull_t = t0.elapsed();
            let a = unpack(&layout, &manifest, &desc, &config, &key, cache, protocol)?;
            remember_ref(cache, &key, desc.digest.as_str())?;
            Ok(Fetched {
                artifact: a.0,
                pull: Some(pull_t),
                unpack: Some(a.1),
                was_empty: true,
            })
        }
    }
}

fn unpack(
    layout: &Layout,
    manifest: &Manifest,
    desc: &Descriptor,
    config: &[u8],
    reference: &str,
    cache: &Path,
    protocol: Option<Protocol>,
) -> crate::Result<(Artifact, Duration)> {
    let t0 = Instant::now();
    let digest = desc.digest.to_string();
    let root = rootfs_dir(cache, &digest);
    if root.exists() {
        std::fs::remove_dir_all(&root)
            .map_err(|e| crate::Error::io("remove stale rootfs", &root, e))?;
    }
    std::fs::create_dir_all(&root).map_err(|e| crate::Error::io("create rootfs", &root, e))?;
    let mut annotations = manifest.annotations.clone().unwrap_or_default();
    let mut config: serde_json::Value =
        serde_json::from_slice(config).map_err(|e| crate::Error::Image(format!("config: {e}")))?;
    let is_artifact = manifest
        .layers
        .iter()
        .any(|l| l.media_type == media::WASM_LAYER);
    if is_artifact {
        // The CNCF Wasm OCI artifact: one raw module layer, no entrypoint.
        let l = &manifest.layers[0];
        let function = annotations
            .get("dev.lumos.function")
            .cloned()
            .unwrap_or_else(|| "function".into());
        let dst = root.join(format!("{function}.wasm"));
        let mut r = layout.open_blob_verified(l).map_err(oci)?;
        let mut f =
            std::fs::File::create(&dst).map_err(|e| crate::Error::io("write module", &dst, e))?;
        std::io::copy(&mut r, &mut f)
            .map_err(|e| crate::Error::Image(format!("module layer: {e}")))?;
        config = serde_json::json!({ "config": { "Entrypoint": [format!("/{function}.wasm")] } });
        annotations
            .entry("dev.lumos.function".into())
            .or_insert(function);
    } else {
        unpack_image(layout, manifest, &root, &UnpackLimits::default()).map_err(oci)?;
    }
    let unpack_t = t0.elapsed();
    let image = ImageInfo {
        reference: reference.to_string(),
        digest: Some(digest),
        config_digest: Some(manifest.config.digest.to_string()),
        layer_digests: manifest
            .layers
            .iter()
            .map(|l| l.digest.to_string())
            .collect(),
        compressed_bytes: manifest.config.size
            + manifest.layers.iter().map(|l| l.size).sum::<u64>(),
        unpacked_bytes: tree_bytes(&root),
    };
    let stamp = Stamp {
        config: config.clone(),
        annotations: annotations.clone(),
        image: image.clone(),
    };
    let sp = root.with_extension("json");
    std::fs::write(&sp, serde_json::to_vec_pretty(&stamp).expect("serialises"))
        .map_err(|e| crate::Error::io("write stamp", &sp, e))?;
    let a = Artifact::from_config(&config, &annotations, root, image, protocol)?;
    Ok((a, unpack_t))
}
