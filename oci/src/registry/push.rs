//! Pushing images from a layout: blobs first (HEAD, then upload only what is
//! missing, mounting from another repository of the same registry when one
//! is known to hold the blob), child manifests before their index, manifests
//! as the raw bytes of the layout so the registry's digest is ours.

use super::client::{Body, Client};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::{read_index, read_manifest};
use crate::layout::Layout;
use crate::reference::Reference;
use crate::spec::{annotation, media, Descriptor};

/// What one push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushStats {
    pub blobs_uploaded: usize,
    pub blobs_mounted: usize,
    pub blobs_present: usize,
    pub bytes_uploaded: u64,
    pub manifests_put: usize,
    pub manifests_present: usize,
}

impl PushStats {
    /// Adds another push's figures to these.
    pub fn add(&mut self, o: &PushStats) {
        self.blobs_uploaded += o.blobs_uploaded;
        self.blobs_mounted += o.blobs_mounted;
        self.blobs_present += o.blobs_present;
        self.bytes_uploaded += o.bytes_uploaded;
        self.manifests_put += o.manifests_put;
        self.manifests_present += o.manifests_present;
    }
}

/// Pushes the manifest or index `desc` of `layout` to `repo`, tagged `tag`
/// (by digest only when `None`). Every blob is checked against its digest
/// before it is uploaded: a corrupt layout fails before it reaches the registry.
pub fn push(
    client: &Client,
    layout: &Layout,
    desc: &Descriptor,
    repo: &str,
    tag: Option<&str>,
    stats: &mut PushStats,
) -> Result<()> {
    let reference = tag.map_or_else(|| desc.digest.to_string(), str::to_string);
    if manifest_present(client, repo, &reference, desc)? {
        stats.manifests_present += 1;
        if let Some(t) = tag {
            tracing::debug!(repo, tag = t, digest = %desc.digest, "already in the registry");
        }
        return Ok(());
    }
    if media::is_index(&desc.media_type) {
        let index = read_index(layout, desc)?;
        for child in &index.manifests {
            push(client, layout, child, repo, None, stats)?;
        }
    } else if media::is_manifest(&desc.media_type) {
        let manifest = read_manifest(layout, desc)?;
        // A base on the same registry: its layers can be mounted from there.
        let base_repo = manifest
            .annotations
            .as_ref()
            .and_then(|a| a.get(annotation::BASE_NAME))
            .and_then(|b| Reference::parse(b).ok())
            .filter(|r| r.registry == client.registry())
            .map(|r| r.repository);
        push_blob(client, layout, repo, &manifest.config, None, stats)?;
        for l in &manifest.layers {
            push_blob(client, layout, repo, l, base_repo.as_deref(), stats)?;
        }
    } else {
        return Err(Error::UnsupportedMediaType {
            what: format!("pushing {}", desc.digest),
            media_type: desc.media_type.clone(),
        });
    }
    put_manifest(client, layout, desc, repo, &reference)?;
    stats.manifests_put += 1;
    Ok(())
}

/// Whether `repo:reference` already names exactly `desc`.
fn manifest_present(
    client: &Client,
    repo: &str,
    reference: &str,
    desc: &Descriptor,
) -> Result<bool> {
    let path = format!("/v2/{repo}/manifests/{reference}");
    let accept = desc.media_type.as_str();
    let reply = client.send(
        "HEAD",
        &path,
        repo,
        true,
        &[("Accept", accept)],
        Body::Empty,
    )?;
    match reply.status {
        200 => Ok(reply.header("docker-content-digest") == Some(desc.digest.as_str())),
        404 => Ok(false),
        _ => Err(client.unexpected("HEAD", &path, reply)),
    }
}

fn put_manifest(
    client: &Client,
    layout: &Layout,
    desc: &Descriptor,
    repo: &str,
    reference: &str,
) -> Result<()> {
    let bytes = layout.read_blob(&desc.digest)?;
    let path = format!("/v2/{repo}/manifests/{reference}");
    let reply = client.send(
        "PUT",
        &path,
        repo,
        true,
        &[("Content-Type", desc.media_type.as_str())],
        Body::Bytes(&bytes),
    )?;
    if reply.status != 201 && reply.status != 200 {
        return Err(client.unexpected("PUT", &path, reply));
    }
    if let Some(d) = reply.header("docker-content-digest") {
        if d != desc.digest.as_str() {
            return Err(Error::DigestMismatch {
                what: format!(
                    "manifest pushed to {}/{repo}:{reference}",
                    client.registry()
                ),
                expected: desc.digest.clone(),
                actual: Digest::parse(d)?,
            });
        }
    }
    Ok(())
}

/// Uploads one blob unless the registry has it; mounts it from `mount_from`
/// (or a repository this client saw holding it) when the registry allows.
pub fn push_blob(
    client: &Client,
    layout: &Layout,
    repo: &str,
    desc: &Descriptor,
    mount_from: Option<&str>,
    stats: &mut PushStats,
) -> Result<()> {
    let d = &desc.digest;
    // Held until this upload ends (or fails): another worker of this push
    // wanting the same blob waits, then finds it known.
    let Some(_claim) = client.claim_blob(repo, d) else {
        stats.blobs_present += 1;
        return Ok(());
    };
    let path = format!("/v2/{repo}/blobs/{d}");
    let reply = client.send("HEAD", &path, repo, true, &[], Body::Empty)?;
    match reply.status {
        200 => {
            client.remember_blob(repo, d);
            stats.blobs_present += 1;
            return Ok(());
        }
        404 => {}
        _ => return Err(client.unexpected("HEAD", &path, reply)),
    }
    // Checked before anything is sent.
    layout.verify_blob(desc)?;

    let mut start = format!("/v2/{repo}/blobs/uploads/");
    let from = client
        .repo_holding(d)
        .or_else(|| mount_from.map(str::to_string))
        .filter(|r| r != repo);
    if let Some(from) = &from {
        start.push_str(&format!("?mount={d}&from={from}"));
    }
    let reply = client.send("POST", &start, repo, true, &[], Body::Empty)?;
    if reply.status == 201 && from.is_some() {
        client.remember_blob(repo, d);
        stats.blobs_mounted += 1;
        return Ok(());
    }
    if reply.status != 202 {
        return Err(client.unexpected("POST", &start, reply));
    }
    let location = reply
        .header("location")
        .ok_or_else(|| Error::Registry {
            registry: client.registry().to_string(),
            method: "POST".into(),
            path: start.clone(),
            status: 202,
            message: "no Location header for the upload".into(),
        })?
        .to_string();
    let location = if location.starts_with('/') {
        format!("{}{location}", client.base_url())
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = format!("{location}{sep}digest={d}");
    let blob_path = layout.blob_path(d);
    let reply = client.send(
        "PUT",
        &put,
        repo,
        true,
        &[("Content-Type", "application/octet-stream")],
        Body::File(&blob_path, desc.size),
    )?;
    if reply.status != 201 {
        return Err(client.unexpected("PUT", &put, reply));
    }
    client.remember_blob(repo, d);
    stats.blobs_uploaded += 1;
    stats.bytes_uploaded += desc.size;
    tracing::debug!(repo, digest = %d, bytes = desc.size, "uploaded blob");
    Ok(())
}

/// One image of a layout pushed to a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// The name in the layout, e.g. `lumos/fibonacci:wasm`.
    pub local_name: String,
    /// `host[:port]/namespace/function:tag`.
    pub reference: String,
    pub digest: Digest,
    pub stats: PushStats,
}

/// Where a layout name (`<ns>/<function>:<variant>`) goes in a registry
/// namespace: `<namespace>/<function>` tagged `<tag_prefix><variant>`.
pub fn target_of(local_name: &str, namespace: &str, tag_prefix: &str) -> Result<(String, String)> {
    let (repo, variant) = local_name
        .rsplit_once(':')
        .ok_or_else(|| Error::Image(format!("layout name `{local_name}` has no tag")))?;
    let function = repo.rsplit('/').next().unwrap_or(repo);
    let repo = if namespace.is_empty() {
        function.to_string()
    } else {
        format!("{}/{function}", namespace.trim_matches('/'))
    };
    Ok((repo, format!("{tag_prefix}{variant}")))
}

/// How many images are pushed at once (a registry spends most of an upload
/// waiting on its storage, so a few in flight cut the wall time).
pub const PUSH_WORKERS: usize = 4;

/// Pushes the named images of `layout` (all when `only` is empty) to
/// `namespace` on the client's registry, [`PUSH_WORKERS`] at a time:
/// every manifest first, then the indexes (their children are there by then).
/// `on_pushed` sees each image as it completes; the result is in name order.
pub fn push_layout(
    client: &Client,
    layout: &Layout,
    namespace: &str,
    tag_prefix: &str,
    only: &[String],
    on_pushed: impl FnMut(&PushedImage) + Send,
) -> Result<Vec<PushedImage>> {
    let mut refs = layout.refs()?;
    if !only.is_empty() {
        refs.retain(|(n, _)| only.iter().any(|o| o == n));
    }
    refs.sort_by(|a, b| a.0.cmp(&b.0));
    let (indexes, manifests): (Vec<_>, Vec<_>) = refs
        .into_iter()
        .partition(|(_, d)| media::is_index(&d.media_type));
    let on_pushed = std::sync::Mutex::new(on_pushed);
    let mut out = Vec::new();
    for phase in [manifests, indexes] {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: std::sync::Mutex<Vec<Result<PushedImage>>> = std::sync::Mutex::new(Vec::new());
        let failed = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..PUSH_WORKERS.min(phase.len()) {
                s.spawn(|| loop {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((name, desc)) = phase.get(i) else {
                        break;
                    };
                    let r = (|| {
                        let (repo, tag) = target_of(name, namespace, tag_prefix)?;
                        let mut stats = PushStats::default();
                        push(client, layout, desc, &repo, Some(&tag), &mut stats)?;
                        Ok(PushedImage {
                            local_name: name.clone(),
                            reference: format!("{}/{repo}:{tag}", client.registry()),
                            digest: desc.digest.clone(),
                            stats,
                        })
                    })();
                    match &r {
                        Ok(p) => (on_pushed.lock().unwrap_or_else(|p| p.into_inner()))(p),
                        Err(_) => failed.store(true, std::sync::atomic::Ordering::Relaxed),
                    }
                    results.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                });
            }
        });
        for r in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
            out.push(r?);
        }
    }
    out.sort_by(|a, b| a.local_name.cmp(&b.local_name));
    Ok(out)
}
