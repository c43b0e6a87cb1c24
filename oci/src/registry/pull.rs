//! Pulling images into a layout: manifests (an index resolved to the wanted
//! platform), blobs streamed to disk with their digest verified on the way,
//! and nothing fetched twice (the layout is a cache by digest).

use std::io::Read;

use super::client::{Body, Client};
use crate::digest::{unwrap_io, Digest};
use crate::error::{Error, Result};
use crate::image::{parse_index, parse_manifest, BaseImage};
use crate::layout::Layout;
use crate::reference::Reference;
use crate::spec::{media, Descriptor, Index, Manifest, Platform, MAX_DOCUMENT_BYTES};

/// One image pulled into a layout.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The reference as asked for.
    pub reference: Reference,
    /// The index the manifest was selected from, if the reference named one.
    pub index: Option<Descriptor>,
    /// The platform-specific manifest's descriptor.
    pub descriptor: Descriptor,
    pub manifest: Manifest,
    /// The image config, as stored.
    pub config: Vec<u8>,
    /// Sum of the config and layer sizes (what a cold pull transfers).
    pub compressed_size: u64,
    /// Bytes actually downloaded by this pull (0 when all was cached).
    pub bytes_downloaded: u64,
}

impl Pulled {
    /// The pulled image as a base for `image::pack_native`.
    pub fn into_base(self) -> BaseImage {
        BaseImage {
            name: self.reference.to_string(),
            digest: self.descriptor.digest,
            manifest: self.manifest,
            config: self.config,
        }
    }
}

/// Fetches a manifest or index by tag or digest, verifies it (against the
/// digest asked for, or the registry's `Docker-Content-Digest`), and stores
/// it in the layout. A digest already in the layout is not fetched again.
pub fn fetch_manifest(
    client: &Client,
    layout: &Layout,
    repo: &str,
    reference: &str,
) -> Result<(Descriptor, Vec<u8>)> {
    if let Ok(d) = Digest::parse(reference) {
        if layout.has_blob(&d) {
            let size = std::fs::metadata(layout.blob_path(&d)).map_or(0, |m| m.len());
            let sniffed = Descriptor::new(media::MANIFEST, d, size);
            let bytes = layout.read_document(&sniffed)?;
            let media_type = sniff_media_type(&bytes)?;
            return Ok((
                Descriptor {
                    media_type,
                    ..sniffed
                },
                bytes,
            ));
        }
    }
    let path = format!("/v2/{repo}/manifests/{reference}");
    let reply = client.send(
        "GET",
        &path,
        repo,
        false,
        &[("Accept", media::ACCEPT_MANIFESTS)],
        Body::Empty,
    )?;
    if reply.status == 404 {
        return Err(Error::Registry {
            registry: client.registry().to_string(),
            method: "GET".into(),
            path,
            status: 404,
            message: format!("no image {repo}:{reference}"),
        });
    }
    if reply.status != 200 {
        return Err(client.unexpected("GET", &path, reply));
    }
    let header_digest = reply.header("docker-content-digest").map(str::to_string);
    let content_type = reply
        .header("content-type")
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_string());
    let mut bytes = Vec::new();
    reply
        .into_reader()
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unwrap_io(std::path::Path::new(&path), e))?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(Error::DocumentTooLarge {
            what: format!("manifest {}/{repo}:{reference}", client.registry()),
            size: bytes.len() as u64,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let actual = Digest::sha256(&bytes);
    let expected = match Digest::parse(reference) {
        Ok(d) => Some(d),
        Err(_) => header_digest.as_deref().map(Digest::parse).transpose()?,
    };
    if let Some(expected) = expected {
        if expected != actual {
            return Err(Error::DigestMismatch {
                what: format!("manifest {}/{repo}:{reference}", client.registry()),
                expected,
                actual,
            });
        }
    }
    let media_type = match content_type.filter(|c| media::is_index(c) || media::is_manifest(c)) {
        Some(c) => c,
        None => sniff_media_type(&bytes)?,
    };
    layout.write_blob(&bytes)?;
    Ok((
        Descriptor::new(&media_type, actual, bytes.len() as u64),
        bytes,
    ))
}

fn sniff_media_type(bytes: &[u8]) -> Result<String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::json("manifest", e))?;
    if let Some(m) = v.get("mediaType").and_then(|m| m.as_str()) {
        return Ok(m.to_string());
    }
    Ok(if v.get("manifests").is_some() {
        media::INDEX.to_string()
    } else {
        media::MANIFEST.to_string()
    })
}

/// Downloads a blob into the layout unless it is there, verifying its digest
/// and size while it streams. Returns the bytes downloaded.
pub fn fetch_blob(client: &Client, layout: &Layout, repo: &str, desc: &Descriptor) -> Result<u64> {
    if layout.has_blob(&desc.digest) {
        return Ok(0);
    }
    let path = format!("/v2/{repo}/blobs/{}", desc.digest);
    let reply = client.get_blob(&path, repo, desc.size)?;
    if reply.status != 200 {
        return Err(client.unexpected("GET", &path, reply));
    }
    // Read failures come out of the reader as the registry's errors, naming
    // the request (and so the digest), not the temporary file.
    let (_, n) =
        layout.write_blob_from(reply.into_reader(), Some((&desc.digest, Some(desc.size))))?;
    Ok(n)
}

/// The manifest of an index that matches `platform`. An entry for the
/// platform that is not an image manifest (a nested index, an unknown media
/// type) is refused with what it is; entries for other platforms are not
/// looked at.
pub fn select_platform<'a>(
    index: &'a Index,
    platform: &Platform,
    reference: &str,
) -> Result<&'a Descriptor> {
    let matching: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
        .collect();
    if let Some(d) = matching.iter().find(|d| media::is_manifest(&d.media_type)) {
        return Ok(d);
    }
    if let Some(d) = matching.first() {
        if media::is_index(&d.media_type) {
            return Err(Error::Image(format!(
                "{reference}: the entry for {platform} is itself an index ({}); \
                 nested indexes are not followed: name that index's platform manifest instead",
                d.digest
            )));
        }
        return Err(Error::UnsupportedMediaType {
            what: format!(
                "the entry for {platform} ({}) in the index of {reference} (expected an image manifest)",
                d.digest
            ),
            media_type: d.media_type.clone(),
        });
    }
    Err(Error::PlatformNotFound {
        reference: reference.to_string(),
        wanted: platform.to_string(),
        available: {
            let list: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(Platform::to_string))
                .collect();
            if list.is_empty() {
                "no platforms".to_string()
            } else {
                list.join(", ")
            }
        },
    })
}

/// Pulls `reference` into `layout`: with `platform`, an index is resolved to
/// that platform's manifest and a single manifest must be for it (checked
/// against its config); the config and every layer are fetched and verified.
pub fn pull(
    client: &Client,
    layout: &Layout,
    reference: &Reference,
    platform: Option<&Platform>,
) -> Result<Pulled> {
    let repo = &reference.repository;
    let (top, bytes) = fetch_manifest(client, layout, repo, &reference.reference())?;
    let (index, descriptor, manifest_bytes) = if media::is_index(&top.media_type) {
        let idx = parse_index(&bytes, &top, &format!("index of {reference}"))?;
        let wanted = platform.cloned().unwrap_or_else(host_platform);
        let child = select_platform(&idx, &wanted, &reference.to_string())?.clone();
        let (mut desc, mb) = fetch_manifest(client, layout, repo, child.digest.as_str())?;
        // The index entry says what the child is; what the child says of
        // itself must agree (parse_manifest checks it).
        desc.media_type = child.media_type.clone();
        desc.platform = child.platform.clone();
        (Some(top), desc, mb)
    } else if media::is_manifest(&top.media_type) {
        (None, top, bytes)
    } else {
        return Err(Error::UnsupportedMediaType {
            what: format!("manifest of {reference}"),
            media_type: top.media_type,
        });
    };
    let manifest: Manifest = parse_manifest(
        &manifest_bytes,
        &descriptor,
        &format!("manifest of {reference}"),
    )?;
    if manifest.config.size > MAX_DOCUMENT_BYTES {
        return Err(Error::DocumentTooLarge {
            what: format!("config {} of {reference}", manifest.config.digest),
            size: manifest.config.size,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let mut downloaded = fetch_blob(client, layout, repo, &manifest.config)?;
    let config = layout.read_document(&manifest.config)?;
    if let Some(want) = platform {
        if manifest.config.media_type == media::CONFIG
            || manifest.config.media_type == media::DOCKER_CONFIG
        {
            let v: serde_json::Value = serde_json::from_slice(&config)
                .map_err(|e| Error::json(format!("config of {reference}"), e))?;
            let mut have = Platform::new(
                v.get("os").and_then(|x| x.as_str()).unwrap_or("unknown"),
                v.get("architecture")
                    .and_then(|x| x.as_str())
                    .unwrap_or("unknown"),
            );
            have.variant = v
                .get("variant")
                .and_then(|x| x.as_str())
                .map(str::to_string);
            if !want.matches(&have) {
                return Err(Error::PlatformNotFound {
                    reference: reference.to_string(),
                    wanted: want.to_string(),
                    available: have.to_string(),
                });
            }
        }
    }
    for l in &manifest.layers {
        downloaded += fetch_blob(client, layout, repo, l)?;
    }
    let compressed_size =
        manifest.config.size + manifest.layers.iter().map(|l| l.size).sum::<u64>();
    Ok(Pulled {
        reference: reference.clone(),
        index,
        descriptor,
        manifest,
        config,
        compressed_size,
        bytes_downloaded: downloaded,
    })
}

/// The platform of this machine, `linux/amd64` or `linux/arm64`.
pub fn host_platform() -> Platform {
    lumos_model::Arch::host().map_or_else(
        || Platform::new("linux", std::env::consts::ARCH),
        Platform::linux,
    )
}
