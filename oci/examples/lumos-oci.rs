//! A small driver of the library for tests and scripts/bench-oci.
//!
//! ```text
//! lumos-oci pack BUILD_JSON LAYOUT [--base REF] [--namespace NS]   pack every artifact of a build.json
//! lumos-oci push LAYOUT HOST[:PORT]/NAMESPACE [NAME...]            push (all or the named images)
//! lumos-oci sizes LAYOUT                                           compressed and unpacked size per image
//! lumos-oci pull REFERENCE [RUNS]                                  connect + pull into an empty layout, RUNS times
//! ```
//! Each prints one JSON line per image and a JSON summary line.

use std::time::Instant;

use lumos_model::BuildManifest;
use lumos_oci::image::WasmFormat;
use lumos_oci::pack::{pack_function, ArtifactInput, BaseCache, BaseSpec, PackOptions};
use lumos_oci::registry::{push_layout, Client, ClientOptions, PushStats};
use lumos_oci::{Layout, Result};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("pack") if args.len() >= 3 => pack(&args[1], &args[2], &args[3..]),
        Some("push") if args.len() >= 3 => push(&args[1], &args[2], &args[3..]),
        Some("sizes") if args.len() == 2 => sizes(&args[1]),
        Some("pull") if (2..=3).contains(&args.len()) => pull(&args[1], args.get(2)),
        _ => {
            eprintln!("usage: lumos-oci pack BUILD_JSON LAYOUT [--base REF] | push LAYOUT HOST/NS [NAME...] | sizes LAYOUT | pull REF [RUNS]");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn opt(rest: &[String], flag: &str) -> Option<String> {
    rest.iter()
        .position(|a| a == flag)
        .and_then(|i| rest.get(i + 1).cloned())
}

fn pack(build_json: &str, layout: &str, rest: &[String]) -> Result<()> {
    let started = Instant::now();
    let text = std::fs::read(build_json).map_err(|e| lumos_oci::Error::io(build_json, e))?;
    let manifest: BuildManifest =
        serde_json::from_slice(&text).map_err(|e| lumos_oci::Error::json(build_json, e))?;
    let layout = Layout::create(layout)?;
    let namespace = opt(rest, "--namespace").unwrap_or_else(|| "lumos".into());
    let base_override = opt(rest, "--base");
    let mut bases = BaseCache::default();
    let mut images = 0;
    for f in &manifest.functions {
        let arts: Vec<ArtifactInput> = f.artifacts.iter().map(ArtifactInput::from).collect();
        let opts = PackOptions {
            namespace: namespace.clone(),
            created: lumos_oci::timestamp::source_date_epoch(),
            source: None,
            revision: None,
            wasm_format: WasmFormat::Compat,
            protocol: Some(f.protocol),
            port: f.port,
            args: f.args.clone(),
            client: ClientOptions::default(),
        };
        let base = BaseSpec::parse(base_override.as_deref().unwrap_or(&f.base))?;
        for p in pack_function(&layout, &f.name, &arts, &base, &opts, &mut bases)? {
            images += 1;
            println!(
                "{}",
                json!({"image": p.name, "digest": p.descriptor.digest, "size": p.descriptor.size})
            );
        }
    }
    println!(
        "{}",
        json!({"summary": "pack", "images": images, "seconds": started.elapsed().as_secs_f64()})
    );
    Ok(())
}

fn push(layout: &str, target: &str, only: &[String]) -> Result<()> {
    let started = Instant::now();
    let layout = Layout::open(layout)?;
    let (host, namespace) = target.split_once('/').unwrap_or((target, ""));
    let client = Client::connect(host, ClientOptions::default())?;
    let mut total = PushStats::default();
    let pushed = push_layout(&client, &layout, namespace, "", only, |p| {
        println!(
            "{}",
            json!({"reference": p.reference, "digest": p.digest, "blobs_uploaded": p.stats.blobs_uploaded,
                   "blobs_present": p.stats.blobs_present, "bytes_uploaded": p.stats.bytes_uploaded})
        );
    })?;
    for p in &pushed {
        total.add(&p.stats);
    }
    println!(
        "{}",
        json!({"summary": "push", "images": pushed.len(), "blobs_uploaded": total.blobs_uploaded,
               "blobs_mounted": total.blobs_mounted, "blobs_present": total.blobs_present,
               "bytes_uploaded": total.bytes_uploaded, "seconds": started.elapsed().as_secs_f64()})
    );
    Ok(())
}

/// Each run is a cold pull: a new client (scheme probe included) and an
/// empty layout, as the runner's first start of an image. An index resolves
/// to this machine's platform.
fn pull(reference: &str, runs: Option<&String>) -> Result<()> {
    let runs: usize = runs
        .map_or(Ok(10), |r| r.parse())
        .map_err(|_| lumos_oci::Error::Image(format!("RUNS must be a number, got {runs:?}")))?;
    let reference = lumos_oci::reference::Reference::parse(reference)?;
    let (mut connect_ms, mut pull_ms) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir().map_err(|e| lumos_oci::Error::io("tempdir", e))?;
        let t0 = Instant::now();
        let client = Client::connect(&reference.registry, ClientOptions::default())?;
        let t1 = Instant::now();
        let layout = Layout::create(dir.path().join("oci"))?;
        let pulled = lumos_oci::registry::pull(&client, &layout, &reference, None)?;
        let t2 = Instant::now();
        let (c, p) = ((t1 - t0).as_secs_f64() * 1e3, (t2 - t1).as_secs_f64() * 1e3);
        println!(
            "{}",
            json!({"reference": reference.to_string(), "connect_ms": c, "pull_ms": p, "bytes": pulled.bytes_downloaded})
        );
        connect_ms.push(c);
        pull_ms.push(p);
    }
    println!(
        "{}",
        json!({"summary": "pull", "runs": runs, "connect_ms_median": median(&mut connect_ms),
               "pull_ms_median": median(&mut pull_ms)})
    );
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    lumos_stats::median(&lumos_stats::sorted(v)).unwrap_or(f64::NAN)
}

fn sizes(layout: &str) -> Result<()> {
    let layout = Layout::open(layout)?;
    for (name, desc) in layout.refs()? {
        if !lumos_oci::spec::media::is_manifest(&desc.media_type) {
            continue;
        }
        let m = lumos_oci::image::read_manifest(&layout, &desc)?;
        let compressed: u64 = m.config.size + m.layers.iter().map(|l| l.size).sum::<u64>();
        let dir = tempfile::tempdir().map_err(|e| lumos_oci::Error::io("tempdir", e))?;
        let unpacked = if m.layers.iter().all(|l| l.media_type.contains("tar")) {
            let stats =
                lumos_oci::unpack::unpack_image(&layout, &m, dir.path(), &Default::default())?;
            stats.file_bytes
        } else {
            m.layers.iter().map(|l| l.size).sum()
        };
        println!(
            "{}",
            json!({"image": name, "compressed_bytes": compressed, "unpacked_bytes": unpacked})
        );
    }
    Ok(())
}
