//! `cargo lumos build`: every selected function into every selected variant.
//!
//! 1. check the toolchain (targets, linkers, WasmEdge, qemu) for what is asked,
//! 2. one `cargo build` per target triple and profile (native musl per arch, wasm32-wasip1),
//! 3. wasm-opt, then AoT compiles, each cached by the digest of its inputs,
//! 4. place each artifact under `<target-dir>/lumos/<function>/<variant>/`,
//! 5. write `<target-dir>/lumos/build.json`.

mod aot_wasmedge;
mod aot_wasmtime;
mod cargo_build;
pub mod store;
mod toolchain;
mod wasm_opt;
pub mod wasmedge_section;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::build_manifest::{Artifact, BuildManifest, FunctionArtifacts};
use crate::cargo_args::CargoArgs;
use crate::variant::{AotEngine, Arch, Selection, Variant};
use crate::workspace::{Function, Workspace};
use store::Cache;

/// Options of a build beyond cargo's own flags.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub selection: Selection,
    /// Optimisation level of AoT compilers: 0, 1, 2, 3, s or z.
    pub aot_opt_level: String,
    /// Print one JSON object per artifact on stdout.
    pub json: bool,
}

/// The result of a build.
#[derive(Debug)]
pub struct BuildReport {
    pub manifest: BuildManifest,
    pub target_dir: PathBuf,
    /// Functions that failed to build, with the reason.
    pub failures: Vec<(String, String)>,
}

/// One artifact to produce.
#[derive(Debug, Clone)]
struct Job {
    function: usize,
    variant: Variant,
}

/// Runs the whole build.
pub fn run(cargo: &CargoArgs, opts: &BuildOptions) -> Result<Option<BuildReport>> {
    let ws = Workspace::load(cargo)?;
    if ws.functions.is_empty() {
        eprintln!(
            "note: no function in the workspace at {} (a function is a bin package with a [package.metadata.lumos] table); nothing to build",
            ws.root.display()
        );
        return Ok(None);
    }
    let mut jobs = Vec::new();
    for (i, f) in ws.functions.iter().enumerate() {
        for variant in opts.selection.variants(&f.config.runtimes) {
            jobs.push(Job {
                function: i,
                variant,
            });
        }
    }
    if jobs.is_empty() {
        eprintln!("note: the selected runtimes are supported by none of the selected functions; nothing to build");
        return Ok(None);
    }
    let lumos_dir = ws.lumos_dir();
    // One build at a time per target dir; then leftovers of killed builds can go.
    let _lock = store::lock_dir(&lumos_dir)?;
    store::sweep_temporaries(&lumos_dir);
    let cache = Cache::new(lumos_dir.join(".cache"));
    let sysroot = toolchain::rustc_sysroot(&ws.root)?;

    // Toolchain pieces, checked before anything is built.
    let mut triples: BTreeSet<&'static str> = BTreeSet::new();
    let mut wasmedge_arches: BTreeSet<Arch> = BTreeSet::new();
    for job in &jobs {
        match job.variant {
            Variant::Native(arch) => {
                triples.insert(arch.musl_triple());
            }
            Variant::Wasm | Variant::Aot(AotEngine::Wasmtime, _) => {
                triples.insert("wasm32-wasip1");
            }
            Variant::Aot(AotEngine::Wasmedge, arch) => {
                triples.insert("wasm32-wasip1");
                wasmedge_arches.insert(arch);
            }
        }
    }
    let mut envs: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for triple in &triples {
        toolchain::require_target(&sysroot, triple)?;
        let env = if triple.ends_with("-musl") {
            toolchain::musl_environment(&ws.root, &sysroot, triple)?
        } else {
            BTreeMap::new()
        };
        envs.insert(triple, env);
    }
    let mut wasmedge = BTreeMap::new();
    for arch in wasmedge_arches {
        wasmedge.insert(arch, aot_wasmedge::Compiler::locate(arch)?);
    }

    // Cargo builds: one per (triple, profile).
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let mut compiled: BTreeMap<(&str, String), PathBuf> = BTreeMap::new(); // (triple, package) -> exe
    for triple in &triples {
        let mut by_profile: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for job in jobs.iter().filter(|j| triple_of(j.variant) == *triple) {
            let f = &ws.functions[job.function];
            by_profile
                .entry(profile_for(cargo, &ws, f))
                .or_default()
                .insert(f.package.clone(), f.name.clone());
        }
        for (profile, packages) in by_profile {
            eprintln!(
                "    Building {} function(s) for {triple} ({profile})",
                packages.len()
            );
            let out = cargo_build::CargoBuild {
                workspace_root: &ws.root,
                target_dir: &ws.target_dir,
                triple,
                profile: &profile,
                packages,
                env: envs[triple].clone(),
                args: cargo,
            }
            .run()?;
            for package in &out.failed {
                failures.entry(package.clone()).or_insert_with(|| {
                    format!("cargo build for {triple} failed (see cargo's messages above)")
                });
            }
            for (package, exe) in out.executables {
                compiled.insert((triple, package), exe);
            }
        }
    }

    // wasm modules, optimised and cached, are the input of AoT.
    let wasm_opt = wasm_opt::version();
    if wasm_opt.is_none() {
        eprintln!("warning: wasm-opt not found (apt-get install binaryen); wasm modules are not size-optimised");
    }
    let mut wasm_modules: BTreeMap<usize, PathBuf> = BTreeMap::new();
    let mut produced: Vec<(usize, Variant, PathBuf, Option<String>)> = Vec::new();
    for (i, f) in ws.functions.iter().enumerate() {
        if failures.contains_key(&f.package) {
            continue;
        }
        let wants_wasm = jobs
            .iter()
            .any(|j| j.function == i && triple_of(j.variant) == "wasm32-wasip1");
        if !wants_wasm {
            continue;
        }
        let Some(raw) = compiled.get(&("wasm32-wasip1", f.package.clone())) else {
            continue;
        };
        let module = optimised_wasm(&cache, raw, &f.name, wasm_opt.as_deref())?;
        wasm_modules.insert(i, module);
    }

    // Place native and wasm artifacts; collect AoT work.
    let mut aot_jobs = Vec::new();
    for job in &jobs {
        let f = &ws.functions[job.function];
        if failures.contains_key(&f.package) {
            continue;
        }
        match job.variant {
            Variant::Native(arch) => {
                if let Some(exe) = compiled.get(&(arch.musl_triple(), f.package.clone())) {
                    produced.push((job.function, job.variant, exe.clone(), None));
                }
            }
            Variant::Wasm => {
                if let Some(m) = wasm_modules.get(&job.function) {
                    produced.push((job.function, job.variant, m.clone(), None));
                }
            }
            Variant::Aot(..) => {
                if wasm_modules.contains_key(&job.function) {
                    aot_jobs.push(job.clone());
                }
            }
        }
    }

    // AoT compiles: cached by input digest, independent ones in parallel.
    let aot_results = Mutex::new(Vec::new());
    let queue = Mutex::new(aot_jobs);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let Some(job) = queue.lock().unwrap().pop() else {
                    break;
                };
                let f = &ws.functions[job.function];
                let module = &wasm_modules[&job.function];
                let result = aot_compile(
                    &cache,
                    module,
                    f,
                    job.variant,
                    &opts.aot_opt_level,
                    &wasmedge,
                );
                aot_results.lock().unwrap().push((job, result));
            });
        }
    });
    for (job, result) in aot_results.into_inner().unwrap() {
        let f = &ws.functions[job.function];
        match result {
            Ok((path, engine)) => produced.push((job.function, job.variant, path, Some(engine))),
            Err(e) => {
                failures
                    .entry(f.package.clone())
                    .or_insert_with(|| format!("{}: {e:#}", job.variant));
            }
        }
    }

    // Place everything and describe it.
    produced.sort_by_key(|a| (a.0, a.1));
    let mut built: BTreeMap<usize, Vec<Artifact>> = BTreeMap::new();
    for (i, variant, src, engine) in produced {
        let f = &ws.functions[i];
        let dest = lumos_dir
            .join(&f.name)
            .join(variant.to_string())
            .join(variant.file_name(&f.name));
        let sha = store::sha256_file(&src)?;
        let fresh = !store::place(&src, &sha, &dest)?;
        let bytes = std::fs::metadata(&dest)?.len();
        let artifact = Artifact {
            variant: variant.to_string(),
            path: dest,
            bytes,
            sha256: sha,
            engine,
        };
        if opts.json {
            let line = serde_json::json!({
                "reason": "lumos-artifact",
                "function": f.name,
                "package": f.package,
                "variant": artifact.variant,
                "path": artifact.path,
                "bytes": artifact.bytes,
                "sha256": artifact.sha256,
                "engine": artifact.engine,
                "fresh": fresh,
            });
            println!("{line}");
        } else {
            eprintln!(
                "{:>12} {} {} ({}) {}",
                if fresh { "Fresh" } else { "Built" },
                f.name,
                artifact.variant,
                human_bytes(bytes),
                artifact.path.display()
            );
        }
        built.entry(i).or_default().push(artifact);
    }

    let manifest_path = BuildManifest::path_in(&ws.target_dir);
    let manifest = merge_manifest(&manifest_path, &ws, built)?;
    let text = serde_json::to_vec_pretty(&manifest)?;
    store::write_atomic(&manifest_path, &text)?;
    for (package, reason) in &failures {
        eprintln!("error: function package `{package}` failed: {reason}");
    }
    Ok(Some(BuildReport {
        manifest,
        target_dir: ws.target_dir.clone(),
        failures: failures.into_iter().collect(),
    }))
}

fn triple_of(variant: Variant) -> &'static str {
    match variant {
        Variant::Native(arch) => arch.musl_triple(),
        _ => "wasm32-wasip1",
    }
}

/// Command line first, then the package's metadata, then the workspace's, then `release`.
fn profile_for(cargo: &CargoArgs, ws: &Workspace, f: &Function) -> String {
    cargo
        .cli_profile()
        .or_else(|| f.config.profile.clone())
        .or_else(|| ws.default_profile.clone())
        .unwrap_or_else(|| "release".to_string())
}

/// The size-optimised module for a raw cargo output, from the cache when its input is unchanged.
fn optimised_wasm(
    cache: &Cache,
    raw: &Path,
    name: &str,
    wasm_opt: Option<&str>,
) -> Result<PathBuf> {
    let raw_sha = store::sha256_file(raw)?;
    let Some(version) = wasm_opt else {
        return Ok(raw.to_path_buf());
    };
    let flags = wasm_opt::FLAGS.join(" ");
    let key = store::cache_key(&["wasm-opt", version, &flags, &raw_sha]);
    let file = format!("{name}.wasm");
    if let Some(hit) = cache.lookup("wasm-opt", &key, &file) {
        return Ok(hit);
    }
    let dest = cache.entry("wasm-opt", &key, &file);
    let dir = dest.parent().expect("cache entries have a parent");
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(".lumos-tmp-")
        .suffix(".wasm")
        .tempfile_in(dir)?;
    wasm_opt::optimise(raw, tmp.path())?;
    tmp.persist(&dest).map_err(|e| e.error)?;
    Ok(dest)
}

/// Compiles (or finds in the cache) one AoT artifact. Returns its path and engine id.
fn aot_compile(
    cache: &Cache,
    module: &Path,
    f: &Function,
    variant: Variant,
    opt_level: &str,
    wasmedge: &BTreeMap<Arch, aot_wasmedge::Compiler>,
) -> Result<(PathBuf, String)> {
    let Variant::Aot(engine, arch) = variant else {
        unreachable!("only AoT variants are queued for AoT compilation")
    };
    let module_sha = store::sha256_file(module)?;
    let engine_id = match engine {
        AotEngine::Wasmtime => aot_wasmtime::engine_id(),
        AotEngine::Wasmedge => aot_wasmedge::engine_id(),
    };
    let key = store::cache_key(&[&engine_id, arch.as_str(), opt_level, &module_sha]);
    let kind = format!("aot-{}", engine.as_str());
    let file = variant.file_name(&f.name);
    if let Some(hit) = cache.lookup(&kind, &key, &file) {
        return Ok((hit, engine_id));
    }
    let started = Instant::now();
    match engine {
        AotEngine::Wasmtime => {
            let wasm = std::fs::read(module)?;
            let cwasm = aot_wasmtime::precompile(&wasm, arch, opt_level)?;
            let path = cache.store(&kind, &key, &file, &cwasm)?;
            eprintln!(
                "   Compiled {} {variant} with {engine_id} in {:.1}s",
                f.name,
                started.elapsed().as_secs_f64()
            );
            Ok((path, engine_id))
        }
        AotEngine::Wasmedge => {
            let compiler = &wasmedge[&arch];
            eprintln!(
                "  Compiling {} {variant} with {engine_id}{}",
                f.name,
                if compiler.emulated() {
                    " under qemu (slow: about a minute per 100 KB)"
                } else {
                    ""
                }
            );
            let dest = cache.entry(&kind, &key, &file);
            let dir = dest.parent().expect("cache entries have a parent");
            std::fs::create_dir_all(dir)?;
            let tmp = tempfile::Builder::new()
                .prefix(".lumos-tmp-")
                .suffix(".wasm")
                .tempfile_in(dir)?;
            compiler
                .compile(module, tmp.path(), opt_level)
                .with_context(|| format!("{} {variant}", f.name))?;
            tmp.persist(&dest).map_err(|e| e.error)?;
            eprintln!(
                "   Compiled {} {variant} in {:.1}s",
                f.name,
                started.elapsed().as_secs_f64()
            );
            Ok((dest, engine_id))
        }
    }
}

/// The new manifest: this build's artifacts, plus what earlier builds left for
/// variants (or functions) not built now, as long as those files are still there.
fn merge_manifest(
    path: &Path,
    ws: &Workspace,
    built: BTreeMap<usize, Vec<Artifact>>,
) -> Result<BuildManifest> {
    let old = if path.is_file() {
        BuildManifest::read(path).unwrap_or_default()
    } else {
        BuildManifest::default()
    };
    let mut by_name: BTreeMap<String, FunctionArtifacts> = old
        .functions
        .into_iter()
        .map(|f| (f.name.clone(), f))
        .collect();
    for (i, artifacts) in built {
        let f = &ws.functions[i];
        let new_variants: BTreeSet<String> = artifacts.iter().map(|a| a.variant.clone()).collect();
        let mut kept: Vec<Artifact> = by_name
            .remove(&f.name)
            .map(|old| old.artifacts)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !new_variants.contains(&a.variant) && a.path.is_file())
            .collect();
        kept.extend(artifacts);
        kept.sort_by(|a, b| a.variant.cmp(&b.variant));
        by_name.insert(
            f.name.clone(),
            FunctionArtifacts {
                name: f.name.clone(),
                package: f.package.clone(),
                protocol: f.config.protocol.as_str().to_string(),
                base: f.config.base.clone(),
                artifacts: kept,
            },
        );
    }
    let functions = by_name
        .into_values()
        .map(|mut f| {
            f.artifacts.retain(|a| a.path.is_file());
            f
        })
        .filter(|f| !f.artifacts.is_empty())
        .collect();
    Ok(BuildManifest { functions })
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.2} MiB", n as f64 / (1 << 20) as f64)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// Fails when any function failed; used for the exit status.
pub fn check(report: &BuildReport) -> Result<()> {
    if report.failures.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = report.failures.iter().map(|(p, _)| p.as_str()).collect();
    bail!(
        "{} function(s) failed to build: {}",
        names.len(),
        names.join(", ")
    )
}
