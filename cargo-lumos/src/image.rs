//! `cargo lumos image` (and `build --image`): packs what `build` produced,
//! as listed in `<target-dir>/lumos/build.json`, into the OCI image layout
//! `<target-dir>/lumos/oci/`, one image per function and variant named
//! `<namespace>/<function>:<variant>` plus the `native` index.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context as _;
use lumos_oci::image::{Packed, WasmFormat};
use lumos_oci::pack::{pack_function, ArtifactInput, BaseCache, BaseSpec, PackOptions};
use lumos_oci::registry::ClientOptions;
use lumos_oci::Layout;

use crate::build_manifest::{BuildManifest, FunctionArtifacts};

/// Options of `cargo lumos image` (also flattened into `build --image`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ImageArgs {
    /// Base of native images: `scratch`, `debian-slim` (debian:bookworm-slim)
    /// or any image reference; overrides each function's `base`.
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// Form of wasm and AoT images: `compat` (one layer, platform wasi/wasm,
    /// what crun, runwasi and Kwasm run) or `artifact` (the CNCF Wasm OCI artifact).
    #[arg(long, value_name = "FORMAT", default_value = "compat", value_parser = ["compat", "artifact"])]
    pub wasm_format: String,
    /// First part of every image name: `<namespace>/<function>:<variant>`
    /// (lower-case path components, as in a registry).
    #[arg(long, value_name = "NAME", default_value = "lumos", value_parser = namespace_arg)]
    pub namespace: String,
    /// Only these functions (repeat or comma-separate); all when not given.
    #[arg(long = "function", value_name = "NAME", value_delimiter = ',')]
    pub functions: Vec<String>,
    /// Allow plain HTTP (and unverified TLS) to a non-loopback base-image registry.
    #[arg(long)]
    pub insecure: bool,
    /// A CA certificate (PEM) to trust for the base-image registry.
    #[arg(long, value_name = "PEM", env = "LUMOS_REGISTRY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Print one JSON object per image instead of a line of text (set by the
    /// caller from `--message-format json`).
    #[arg(skip)]
    pub json: bool,
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
pub fn run(args: &ImageArgs, target_dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let manifest = BuildManifest::read(&BuildManifest::path_in(target_dir))?;
    let functions: Vec<&FunctionArtifacts> = manifest
        .functions
        .iter()
        .filter(|f| args.functions.is_empty() || args.functions.contains(&f.name))
        .collect();
    for wanted in &args.functions {
        if !manifest.functions.iter().any(|f| &f.name == wanted) {
            anyhow::bail!(
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
                anyhow::bail!(
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
        namespace: args.namespace.clone(),
        created: lumos_oci::timestamp::source_date_epoch(),
        source,
        revision,
        wasm_format: args.wasm_format.parse::<WasmFormat>()?,
        protocol: None,
        client: ClientOptions {
            insecure: args.insecure,
            ca_cert: args.ca_cert.clone(),
            ..Default::default()
        },
    };

    // Functions are packed in parallel (gzip is the cost); output in order.
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<anyhow::Result<Vec<Packed>>>>> =
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
                    let r = pack_one(&layout, f, args, &opts, &mut bases);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    let mut images = 0;
    for (f, r) in functions
        .iter()
        .zip(results.into_inner().unwrap_or_else(|p| p.into_inner()))
    {
        let packed = r
            .expect("every function was packed")
            .with_context(|| format!("packing {}", f.name))?;
        for p in packed {
            images += 1;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "reason": "image",
                        "function": f.name,
                        "name": p.name,
                        "digest": p.descriptor.digest,
                        "media_type": p.descriptor.media_type,
                        "size": p.descriptor.size,
                        "layout": layout.root(),
                    })
                );
            } else {
                println!("{:<48} {}", p.name, p.descriptor.digest);
            }
        }
    }
    if !args.json {
        eprintln!(
            "packed {images} images into {} in {:.2}s",
            layout.root().display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn pack_one(
    layout: &Layout,
    f: &FunctionArtifacts,
    args: &ImageArgs,
    opts: &PackOptions,
    bases: &mut BaseCache,
) -> anyhow::Result<Vec<Packed>> {
    let base = BaseSpec::parse(args.base.as_deref().unwrap_or(&f.base))?;
    let arts: Vec<ArtifactInput> = f
        .artifacts
        .iter()
        .map(|a| ArtifactInput {
            variant: a.variant.clone(),
            path: a.path.clone(),
            engine: a.engine.clone(),
        })
        .collect();
    // Every image says how its function is invoked (`dev.lumos.protocol`).
    let opts = PackOptions {
        protocol: Some(f.protocol.clone()),
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
