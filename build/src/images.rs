//! Packing (`cargo lumos image`, `build --image`): what `build` produced,
//! as listed in `<target-dir>/lumos/build.json`, into the OCI image layout
//! `<target-dir>/lumos/oci/`, one image per function and variant named
//! `<namespace>/<function>:<variant>` plus the `native` index.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{bail, Context as _, Result};
use lumos_oci::image::Packed;
pub use lumos_oci::image::WasmFormat;
use lumos_oci::pack::{pack_function, ArtifactInput, BaseCache, BaseSpec, PackOptions};
use lumos_oci::registry::ClientOptions;
use lumos_oci::Layout;

use crate::manifest::{BuildManifest, FunctionArtifacts};

/// What to pack.
#[derive(Debug, Clone)]
pub struct PackRequest {
    /// Base of native images (`scratch`, `debian-slim`, an image reference);
    /// None: each function's `base`.
    pub base: Option<String>,
    /// Form of wasm and AoT images.
    pub wasm_format: WasmFormat,
    /// First part of every image name: `<namespace>/<function>:<variant>`.
    pub namespace: String,
    /// Only these functions; all of build.json when empty.
    pub functions: Vec<String>,
    /// Plain HTTP (and unverified TLS) to a non-loopback base-image registry.
    pub insecure: bool,
    /// A CA certificate (PEM) to trust for the base-image registry.
    pub ca_cert: Option<PathBuf>,
}

impl Default for PackRequest {
    fn default() -> Self {
        PackRequest {
            base: None,
            wasm_format: WasmFormat::Compat,
            namespace: "lumos".into(),
            functions: vec![],
            insecure: false,
            ca_cert: None,
        }
    }
}

/// One image written into the layout.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PackedImage {
    pub function: String,
    /// `<namespace>/<function>:<tag>`.
    pub name: String,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

/// What [`pack`] did.
#[derive(Debug, Clone)]
pub struct PackReport {
    /// The OCI layout the images are in.
    pub layout: PathBuf,
    pub images: Vec<PackedImage>,
    pub elapsed: Duration,
}

/// `--namespace`, checked at parse time.
pub fn namespace_arg(s: &str) -> Result<String, lumos_oci::Error> {
    lumos_oci::reference::validate_namespace(s).map(|()| s.to_string())
}

/// Where the layout lives for a target dir.
pub fn layout_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("lumos").join("oci")
}

/// Packs every built artifact of the selected functions.
pub fn pack(target_dir: &Path, req: &PackRequest) -> Result<PackReport> {
    let started = Instant::now();
    let manifest = crate::manifest::read(target_dir)?;
    let functions: Vec<&FunctionArtifacts> = manifest
        .functions
        .iter()
        .filter(|f| req.functions.is_empty() || req.functions.contains(&f.name))
        .collect();
    for wanted in &req.functions {
        if manifest.function(wanted).is_none() {
            bail!(
                "no function `{wanted}` in {} (run `cargo lumos build` first)",
                BuildManifest::path_in(target_dir).display()
            );
        }
    }
    for f in &functions {
        for a in &f.artifacts {
            let meta = std::fs::metadata(&a.path).with_context(|| {
                format!(
                    "{} {}: artifact {} (run `cargo lumos build` again)",
                    f.name,
                    a.variant,
                    a.path.display()
                )
            })?;
            if meta.len() != a.bytes {
                bail!(
                    "{} {}: {} has {} bytes, build.json says {} (run `cargo lumos build` again)",
                    f.name,
                    a.variant,
                    a.path.display(),
                    meta.len(),
                    a.bytes
                );
            }
        }
    }
    let layout = Layout::create(layout_dir(target_dir))?;
    let (source, revision) = git_source();
    let opts = PackOptions {
        namespace: req.namespace.clone(),
        created: lumos_oci::timestamp::source_date_epoch(),
        source,
        revision,
        wasm_format: req.wasm_format,
        protocol: None,
        client: ClientOptions {
            insecure: req.insecure,
            ca_cert: req.ca_cert.clone(),
            ..Default::default()
        },
    };

    // Functions are packed in parallel (gzip is the cost); reported in order.
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Vec<Packed>>>>> =
        Mutex::new((0..functions.len()).map(|_| None).collect());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(functions.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut bases = BaseCache::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = functions.get(i) else { break };
                    let r = pack_one(&layout, f, req, &opts, &mut bases);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    let mut images = Vec::new();
    for (f, r) in functions
        .iter()
        .zip(results.into_inner().unwrap_or_else(|p| p.into_inner()))
    {
        let packed = r
            .expect("every function was packed")
            .with_context(|| format!("packing {}", f.name))?;
        images.extend(packed.into_iter().map(|p| PackedImage {
            function: f.name.clone(),
            name: p.name,
            digest: p.descriptor.digest.to_string(),
            media_type: p.descriptor.media_type.clone(),
            size: p.descriptor.size,
        }));
    }
    Ok(PackReport {
        layout: layout.root().to_path_buf(),
        images,
        elapsed: started.elapsed(),
    })
}

fn pack_one(
    layout: &Layout,
    f: &FunctionArtifacts,
    req: &PackRequest,
    opts: &PackOptions,
    bases: &mut BaseCache,
) -> Result<Vec<Packed>> {
    let base = BaseSpec::parse(req.base.as_deref().unwrap_or(&f.base))?;
    let arts: Vec<ArtifactInput> = f.artifacts.iter().map(ArtifactInput::from).collect();
    // Every image says how its function is invoked (`dev.lumos.protocol`).
    let opts = PackOptions {
        protocol: Some(f.protocol),
        ..opts.clone()
    };
    Ok(pack_function(layout, &f.name, &arts, &base, &opts, bases)?)
}

/// `org.opencontainers.image.source` and `.revision` from git, when the
/// current directory is in a repository (`LUMOS_SOURCE`/`LUMOS_REVISION`
/// override). Any user or token in the remote URL is dropped.
fn git_source() -> (Option<String>, Option<String>) {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let source = std::env::var("LUMOS_SOURCE")
        .ok()
        .or_else(|| git(&["remote", "get-url", "origin"]))
        .map(|u| strip_userinfo(&u));
    let revision = std::env::var("LUMOS_REVISION")
        .ok()
        .or_else(|| git(&["rev-parse", "HEAD"]));
    (source, revision)
}

fn strip_userinfo(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if path.is_empty() {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}/{path}")
        }
    } else {
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_dropped_from_source_urls() {
        assert_eq!(
            strip_userinfo("https://bob:tok3n@git.example/a/b.git"),
            "https://git.example/a/b.git"
        );
        assert_eq!(
            strip_userinfo("https://git.example/a"),
            "https://git.example/a"
        );
        assert_eq!(
            strip_userinfo("git@git.example:a/b.git"),
            "git@git.example:a/b.git"
        );
    }
}
