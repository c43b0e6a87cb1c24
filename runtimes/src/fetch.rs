//! Getting an image into the local cache and unpacked, timed: from a
//! registry (lumos-oci pull), from a local OCI layout (blobs copied into the
//! cache, verified), or a bare file (no image).
//!
//! Cache layout: `<cache>/layout` (an OCI layout, blobs by digest),
//! `<cache>/rootfs/<manifest hex>/` (unpacked), `<cache>/rootfs/<hex>.json`
//! (written last: the unpack is complete), `<cache>/refs.json` (reference →
//! manifest digest, so a cached image is not pulled again).

use crate::artifact::{image_info, Artifact, ImageInfo};
use crate::error::ImageError;
use crate::runtime::Protocol;
use lumos_oci::image::{parse_index, parse_manifest};
use lumos_oci::registry::{pull, Client, ClientOptions};
use lumos_oci::spec::media;
use lumos_oci::unpack::{unpack_image, UnpackLimits};
use lumos_oci::{Descriptor, Layout, Manifest};
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

#[derive(serde::Serialize, serde::Deserialize)]
struct Stamp {
    config: serde_json::Value,
    annotations: BTreeMap<String, String>,
    image: ImageInfo,
}

fn refs_path(cache: &Path) -> PathBuf {
    cache.join("refs.json")
}

/// `refs.json` maps an image's top-level digest (what a tag or a layout name
/// points to now: an index or a manifest) to the manifest digest unpacked
/// for this host. Keyed by digest, never by tag: a tag that moved points to
/// a digest the cache does not know, and is pulled anew.
fn cached_ref(cache: &Path, top: &str) -> Option<String> {
    let m: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(refs_path(cache)).ok()?).ok()?;
    m.get(top).cloned()
}

fn remember_ref(cache: &Path, top: &str, digest: &str) -> crate::Result<()> {
    let p = refs_path(cache);
    let mut m: BTreeMap<String, String> = std::fs::read(&p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    m.insert(top.to_string(), digest.to_string());
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&m).expect("serialises"))
        .and_then(|_| std::fs::rename(&tmp, &p))
        .map_err(|e| crate::Error::io("write", &p, e))
}

/// The digest a registry reference names now: its own digest, or for a tag
/// what the registry answers to `HEAD /v2/REPO/manifests/TAG`
/// (`Docker-Content-Digest`; a GET when a registry leaves that header out).
fn current_digest(
    client: &Client,
    layout: &Layout,
    reference: &lumos_oci::reference::Reference,
) -> crate::Result<lumos_oci::Digest> {
    if let Some(d) = &reference.digest {
        return Ok(d.clone());
    }
    let repo = &reference.repository;
    let path = format!("/v2/{repo}/manifests/{}", reference.reference());
    let reply = client.send(
        "HEAD",
        &path,
        repo,
        false,
        &[("Accept", media::ACCEPT_MANIFESTS)],
        lumos_oci::registry::client::Body::Empty,
    )?;
    if reply.status == 200 {
        if let Some(d) = reply
            .header("docker-content-digest")
            .and_then(|h| lumos_oci::Digest::parse(h).ok())
        {
            return Ok(d);
        }
    } else if reply.status != 404 && reply.status != 405 {
        return Err(client.unexpected("HEAD", &path, reply).into());
    }
    // No digest header (or HEAD not allowed, or 404: the GET says why).
    let (desc, _) =
        lumos_oci::registry::pull::fetch_manifest(client, layout, repo, &reference.reference())?;
    Ok(desc.digest)
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

/// An image already unpacked in `cache` under its manifest digest, loaded
/// with no registry or layout contact (what a node does for a tag it holds
/// under `imagePullPolicy: IfNotPresent`); None when the cache lacks it.
pub fn load_cached(
    cache: &Path,
    manifest_digest: &str,
    protocol: Option<Protocol>,
) -> Option<crate::Result<Artifact>> {
    from_stamp(cache, manifest_digest, protocol)
}

pub fn fetch(
    r: &ImageRef,
    cache: &Path,
    opts: &crate::RunOpts,
    protocol: Option<Protocol>,
) -> crate::Result<Fetched> {
    let (insecure, limits) = (opts.insecure, &opts.unpack_limits);
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
            let t0 = Instant::now();
            let mut reference = lumos_oci::reference::Reference::parse(s)?;
            let mut client_opts = ClientOptions {
                insecure,
                ..Default::default()
            };
            if let Some(t) = opts.registry_timeout {
                client_opts.timeout = t;
            }
            let client = Client::connect(&reference.registry, client_opts)?;
            let layout = Layout::create(cache.join("layout"))?;
            // What the tag points to now, so a cache never serves a digest the tag left.
            let top = current_digest(&client, &layout, &reference)?;
            if let Some(d) = cached_ref(cache, top.as_str()) {
                if let Some(a) = from_stamp(cache, &d, protocol) {
                    return Ok(Fetched {
                        artifact: a?,
                        // The registry was asked for the tag's digest: that is the pull.
                        pull: Some(t0.elapsed()),
                        unpack: Some(Duration::ZERO),
                        was_empty: false,
                    });
                }
            }
            // Pull exactly the digest just seen (its manifest may be in the layout already).
            reference.digest = Some(top.clone());
            let pulled = pull(&client, &layout, &reference, None)?;
            let pull_t = t0.elapsed();
            let digest = pulled.descriptor.digest.to_string();
            let a = unpack(
                &layout,
                &pulled.manifest,
                &pulled.descriptor,
                &pulled.config,
                s,
                cache,
                (protocol, limits),
            )?;
            remember_ref(cache, top.as_str(), &digest)?;
            Ok(Fetched {
                artifact: a.0,
                pull: Some(pull_t),
                unpack: Some(a.1),
                was_empty: true,
            })
        }
        ImageRef::Layout { dir, name } => {
            let key = format!("oci:{}:{}", dir.display(), name.as_deref().unwrap_or(""));
            let t0 = Instant::now();
            let src = Layout::open(dir)?;
            let top = match name {
                Some(n) => src.resolve(n)?,
                None => {
                    let refs = src.refs()?;
                    match refs.as_slice() {
                        [(_, d)] => d.clone(),
                        [] => src
                            .index()?
                            .manifests
                            .first()
                            .cloned()
                            .ok_or_else(|| ImageError::EmptyLayout { dir: dir.clone() })?,
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
            // What the name points to now (a rebuilt layout moves it).
            if let Some(d) = cached_ref(cache, top.digest.as_str()) {
                if let Some(a) = from_stamp(cache, &d, protocol) {
                    return Ok(Fetched {
                        artifact: a?,
                        pull: Some(Duration::ZERO),
                        unpack: Some(Duration::ZERO),
                        was_empty: false,
                    });
                }
            }
            let layout = Layout::create(cache.join("layout"))?;
            // Manifests, indexes and configs: size-capped, media types checked.
            let copy = |d: &Descriptor| layout.copy_document_from(&src, d);
            let mut desc = top.clone();
            let mut bytes = copy(&top)?;
            if media::is_index(&top.media_type) {
                let idx = parse_index(&bytes, &top, &format!("index of {key}"))?;
                let want = lumos_oci::registry::pull::host_platform();
                desc = lumos_oci::registry::pull::select_platform(&idx, &want, &key)?.clone();
                bytes = copy(&desc)?;
            }
            let manifest = parse_manifest(&bytes, &desc, &format!("manifest of {key}"))?;
            let config = copy(&manifest.config)?;
            for l in &manifest.layers {
                if !layout.has_blob(&l.digest) {
                    let f = src.open_blob(&l.digest)?;
                    layout.write_blob_from(f, Some((&l.digest, Some(l.size))))?;
                }
            }
            let pull_t = t0.elapsed();
            let a = unpack(
                &layout,
                &manifest,
                &desc,
                &config,
                &key,
                cache,
                (protocol, limits),
            )?;
            remember_ref(cache, top.digest.as_str(), desc.digest.as_str())?;
            Ok(Fetched {
                artifact: a.0,
                pull: Some(pull_t),
                unpack: Some(a.1),
                was_empty: true,
            })
        }
    }
}

/// Unpacks into `<cache>/rootfs/<hex>/` and writes the stamp last. On any
/// failure (a refused entry, the size bound, a refused path in the
/// metadata) the partial rootfs and its stamp are removed.
fn unpack(
    layout: &Layout,
    manifest: &Manifest,
    desc: &Descriptor,
    config: &[u8],
    reference: &str,
    cache: &Path,
    (protocol, limits): (Option<Protocol>, &UnpackLimits),
) -> crate::Result<(Artifact, Duration)> {
    let digest = desc.digest.to_string();
    let root = rootfs_dir(cache, &digest);
    let stamp = root.with_extension("json");
    let r = unpack_into(
        layout, manifest, config, reference, &digest, &root, &stamp, protocol, limits,
    );
    if r.is_err() {
        let _ = std::fs::remove_file(&stamp);
        let _ = std::fs::remove_dir_all(&root);
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn unpack_into(
    layout: &Layout,
    manifest: &Manifest,
    config: &[u8],
    reference: &str,
    digest: &str,
    root: &Path,
    stamp_path: &Path,
    protocol: Option<Protocol>,
    limits: &UnpackLimits,
) -> crate::Result<(Artifact, Duration)> {
    let t0 = Instant::now();
    let _ = std::fs::remove_file(stamp_path);
    if root.exists() {
        std::fs::remove_dir_all(root)
            .map_err(|e| crate::Error::io("remove stale rootfs", root, e))?;
    }
    std::fs::create_dir_all(root).map_err(|e| crate::Error::io("create rootfs", root, e))?;
    let mut annotations = manifest.annotations.clone().unwrap_or_default();
    let mut config: serde_json::Value =
        serde_json::from_slice(config).map_err(ImageError::Config)?;
    let is_artifact = manifest
        .layers
        .iter()
        .any(|l| l.media_type == media::WASM_LAYER);
    if is_artifact {
        // The CNCF Wasm OCI artifact: one raw module layer, no entrypoint.
        // The module is named after the function, a plain name checked and
        // created directly in the rootfs (crate::confine).
        let l = &manifest.layers[0];
        let function = annotations
            .get("dev.lumos.function")
            .cloned()
            .unwrap_or_else(|| "function".into());
        let field = "annotation dev.lumos.function";
        crate::confine::plain_name(field, &function)?;
        let file = format!("{function}.wasm");
        let mut r = layout.open_blob_verified(l)?;
        let mut f = crate::confine::create_file(root, field, &file)?;
        std::io::copy(&mut r, &mut f).map_err(ImageError::ModuleLayer)?;
        config = serde_json::json!({ "config": { "Entrypoint": [format!("/{file}")] } });
        annotations
            .entry("dev.lumos.function".into())
            .or_insert(function);
    } else {
        unpack_image(layout, manifest, root, limits)?;
    }
    let unpack_t = t0.elapsed();
    let image = image_info(reference, digest.to_string(), manifest, root);
    // Checked before the stamp is written: a refused image leaves nothing.
    let a = Artifact::from_config(
        &config,
        &annotations,
        root.to_path_buf(),
        image.clone(),
        protocol,
    )?;
    let stamp = Stamp {
        config,
        annotations,
        image,
    };
    std::fs::write(
        stamp_path,
        serde_json::to_vec_pretty(&stamp).expect("serialises"),
    )
    .map_err(|e| crate::Error::io("write stamp", stamp_path, e))?;
    Ok((a, unpack_t))
}
