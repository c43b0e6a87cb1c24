//! Building: every selected function into every selected variant.
//!
//! 1. check the toolchain (targets, linkers, WasmEdge, qemu) for what is asked,
//! 2. one `cargo build` per target triple and profile (native musl per arch, wasm32-wasip1),
//! 3. wasm-opt, then AoT compiles, each cached by the digest of its inputs,
//! 4. place each artifact under `<target-dir>/lumos/<function>/<variant>/`,
//! 5. write `<target-dir>/lumos/build.json`.
//!
//! What happens is told through [`BuildEvent`]s; the caller shows them.

mod aot_wasmedge;
mod cargo_build;
pub mod store;
mod toolchain;
mod wasm_opt;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cargo_args::CargoArgs;
use crate::error::{bail, Context, Result};
use crate::manifest::{BuildArtifact, BuildManifest, FunctionArtifacts};
use crate::selection::{AotEngine, Arch, Selection, Variant};
use crate::workspace::{Function, Workspace};
use store::Cache;

pub use aot_wasmedge::VERSION as WASMEDGE_VERSION;

/// Options of a build beyond cargo's own flags.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub selection: Selection,
    /// Optimisation level of AoT compilers: 0, 1, 2, 3, s or z.
    pub aot_opt_level: String,
}

/// What a build tells while it runs.
#[derive(Debug, Clone)]
pub enum BuildEvent {
    /// Nothing to build, and why.
    Nothing(String),
    /// Another build holds the target dir's lock; waiting.
    Waiting(PathBuf),
    /// A `cargo build` of `count` packages for `triple` with `profile` starts.
    Cargo {
        triple: String,
        profile: String,
        count: usize,
    },
    /// Something worth knowing that does not stop the build.
    Warning(String),
    /// Variants of a function that are not built, and why (e.g. a wasi:http
    /// component has no native or WasmEdge build): said, never silent.
    Skipped {
        function: String,
        variants: Vec<Variant>,
        reason: String,
    },
    /// An AoT compile starts (`emulated`: under qemu, slow).
    Compiling {
        function: String,
        variant: Variant,
        engine: String,
        emulated: bool,
    },
    /// An AoT compile ended.
    Compiled {
        function: String,
        variant: Variant,
        engine: String,
        elapsed: Duration,
    },
    /// An artifact is in place (`fresh`: its bytes did not change).
    Artifact {
        function: String,
        package: String,
        artifact: BuildArtifact,
        fresh: bool,
    },
    /// Some variants of a function package failed (the others were built).
    Failed(BuildFailure),
}

/// Variants of one function package that did not build, for one reason.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildFailure {
    pub function: String,
    pub package: String,
    /// The variants asked for and not built.
    pub variants: Vec<Variant>,
    /// Why, on one line.
    pub reason: String,
}

impl BuildFailure {
    /// The variants, comma-separated.
    pub fn variant_list(&self) -> String {
        let names: Vec<String> = self.variants.iter().map(Variant::to_string).collect();
        names.join(", ")
    }
}

/// The result of a build.
#[derive(Debug, Default)]
pub struct BuildReport {
    /// build.json as written (None when there was nothing to build).
    pub manifest: Option<BuildManifest>,
    /// The functions of which this build placed at least one artifact.
    pub built: BTreeSet<String>,
    /// What failed: a failed variant fails alone, the function's other
    /// variants are built, placed and listed in build.json.
    pub failures: Vec<BuildFailure>,
}

impl BuildReport {
    /// Fails when any variant failed; used for the exit status.
    pub fn check(&self) -> Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = self
            .failures
            .iter()
            .map(|f| format!("{} ({})", f.package, f.variant_list()))
            .collect();
        bail!("{} build(s) failed: {}", names.len(), names.join(", "))
    }

    /// Whether `variant` of `package` failed in this build.
    pub fn failed(&self, package: &str, variant: Variant) -> Option<&BuildFailure> {
        self.failures
            .iter()
            .find(|f| f.package == package && f.variants.contains(&variant))
    }
}

/// One artifact to produce.
#[derive(Debug, Clone)]
struct Job {
    function: usize,
    variant: Variant,
}

/// Builds the functions of `ws` into the variants `opts` selects.
pub fn build(
    ws: &Workspace,
    cargo: &CargoArgs,
    opts: &BuildOptions,
    on: &mut dyn FnMut(BuildEvent),
) -> Result<BuildReport> {
    if ws.functions.is_empty() {
        on(BuildEvent::Nothing(format!(
            "no function in the workspace at {} (a function is a bin package with a [package.metadata.lumos] table)",
            ws.root.display()
        )));
        return Ok(BuildReport::default());
    }
    let mut jobs = Vec::new();
    for (i, f) in ws.functions.iter().enumerate() {
        let mut skipped: BTreeMap<&'static str, Vec<Variant>> = BTreeMap::new();
        for variant in opts.selection.variants(&f.config.runtimes) {
            match f.config.protocol.refuses_variant(variant) {
                Some(why) => skipped.entry(why).or_default().push(variant),
                None => jobs.push(Job {
                    function: i,
                    variant,
                }),
            }
        }
        for (reason, variants) in skipped {
            on(BuildEvent::Skipped {
                function: f.name.clone(),
                variants,
                reason: reason.to_string(),
            });
        }
    }
    if jobs.is_empty() {
        on(BuildEvent::Nothing(
            "the selected runtimes are supported by none of the selected functions".into(),
        ));
        return Ok(BuildReport::default());
    }
    let lumos_dir = ws.lumos_dir();
    // One build at a time per target dir; then leftovers of killed builds can go.
    let _lock = store::lock_dir(&lumos_dir, on)?;
    store::sweep_temporaries(&lumos_dir, &crate::images::layout_dir(&ws.target_dir));
    let cache = Cache::new(lumos_dir.join(".cache"));
    let sysroot = toolchain::rustc_sysroot(&ws.root)?;

    // Toolchain pieces, checked before anything is built.
    let mut triples: BTreeSet<&'static str> = BTreeSet::new();
    let mut wasmedge_arches: BTreeSet<Arch> = BTreeSet::new();
    for job in &jobs {
        triples.insert(triple_of(&ws.functions[job.function], job.variant));
        if let Variant::Aot(AotEngine::Wasmedge, arch) = job.variant {
            wasmedge_arches.insert(arch);
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

    // Cargo builds: one per (triple, profile). A failure fails the variants
    // of that triple alone: (function, variant) -> why.
    let mut failed: BTreeMap<(usize, Variant), String> = BTreeMap::new();
    let mut compiled: BTreeMap<(&str, String), PathBuf> = BTreeMap::new(); // (triple, package) -> exe
    for triple in &triples {
        let mut by_profile: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        for job in jobs
            .iter()
            .filter(|j| triple_of(&ws.functions[j.function], j.variant) == *triple)
        {
            let f = &ws.functions[job.function];
            by_profile
                .entry(profile_for(cargo, ws, f))
                .or_default()
                .insert(f.package.clone(), f.target.clone());
            ids.insert(f.package.clone(), f.id.clone());
        }
        for (profile, packages) in by_profile {
            on(BuildEvent::Cargo {
                triple: triple.to_string(),
                profile: profile.clone(),
                count: packages.len(),
            });
            let out = cargo_build::CargoBuild {
                workspace_root: &ws.root,
                target_dir: &ws.target_dir,
                triple,
                profile: &profile,
                packages,
                ids: ids.clone(),
                env: envs[triple].clone(),
                args: cargo,
            }
            .run()?;
            for job in jobs.iter().filter(|j| {
                triple_of(&ws.functions[j.function], j.variant) == *triple
                    && out.failed.contains(&ws.functions[j.function].package)
            }) {
                let f = &ws.functions[job.function];
                failed
                    .entry((job.function, job.variant))
                    .or_insert_with(|| cargo_failure(f, triple));
            }
            for (package, exe) in out.executables {
                compiled.insert((triple, package), exe);
            }
        }
    }

    // wasm modules, optimised and cached, are the input of AoT.
    let wasm_opt = wasm_opt::version();
    if wasm_opt.is_none() {
        on(BuildEvent::Warning(
            "wasm-opt not found (apt-get install binaryen); wasm modules are not size-optimised"
                .into(),
        ));
    }
    let mut wasm_modules: BTreeMap<usize, PathBuf> = BTreeMap::new();
    let mut produced: Vec<(usize, Variant, PathBuf, Option<String>)> = Vec::new();
    for (i, f) in ws.functions.iter().enumerate() {
        let wasm_triple = wasm_triple(f);
        let wants_wasm = jobs
            .iter()
            .any(|j| j.function == i && triple_of(f, j.variant) == wasm_triple);
        if !wants_wasm {
            continue;
        }
        let Some(raw) = compiled.get(&(wasm_triple, f.package.clone())) else {
            continue;
        };
        // A component goes as rustc made it: wasm-opt (binaryen 108) reads
        // core modules only.
        let module = if wasm_triple == COMPONENT_TRIPLE {
            raw.clone()
        } else {
            optimised_wasm(&cache, raw, &f.name, wasm_opt.as_deref())?
        };
        wasm_modules.insert(i, module);
    }

    // Place native and wasm artifacts; collect AoT work.
    let mut aot_jobs = Vec::new();
    for job in &jobs {
        let f = &ws.functions[job.function];
        if failed.contains_key(&(job.function, job.variant)) {
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

    // AoT compiles: cached by input digest, independent ones in parallel;
    // their events come back here, to the caller's thread.
    let aot_results = Mutex::new(Vec::new());
    let queue = Mutex::new(aot_jobs);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (tx, rx) = std::sync::mpsc::channel::<BuildEvent>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (tx, queue, aot_results) = (tx.clone(), &queue, &aot_results);
            let (cache, wasm_modules, wasmedge) = (&cache, &wasm_modules, &wasmedge);
            scope.spawn(move || loop {
                let Some(job) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else {
                    break;
                };
                let f = &ws.functions[job.function];
                let module = &wasm_modules[&job.function];
                let mut tell = |e: BuildEvent| {
                    let _ = tx.send(e);
                };
                let result = aot_compile(
                    cache,
                    module,
                    f,
                    job.variant,
                    &opts.aot_opt_level,
                    wasmedge,
                    &mut tell,
                );
                aot_results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((job, result));
            });
        }
        drop(tx);
        for e in rx {
            on(e);
        }
    });
    for (job, result) in aot_results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match result {
            Ok((path, engine)) => produced.push((job.function, job.variant, path, Some(engine))),
            Err(e) => {
                failed.insert(
                    (job.function, job.variant),
                    lumos_model::error_chain(&e).to_string(),
                );
            }
        }
    }

    // Place everything and describe it.
    produced.sort_by_key(|a| (a.0, a.1));
    let mut built: BTreeMap<usize, Vec<BuildArtifact>> = BTreeMap::new();
    for (i, variant, src, engine) in produced {
        let f = &ws.functions[i];
        let dest = lumos_dir
            .join(&f.name)
            .join(variant.to_string())
            .join(variant.file_name(&f.name));
        let sha = store::sha256_file(&src)?;
        let fresh = !store::place(&src, &sha, &dest)?;
        let bytes = std::fs::metadata(&dest)
            .with_context(|| format!("{}: cannot read", dest.display()))?
            .len();
        let artifact = BuildArtifact {
            variant,
            path: dest,
            bytes,
            sha256: sha,
            engine,
        };
        on(BuildEvent::Artifact {
            function: f.name.clone(),
            package: f.package.clone(),
            artifact: artifact.clone(),
            fresh,
        });
        built.entry(i).or_default().push(artifact);
    }

    let built_names = built
        .keys()
        .map(|&i| ws.functions[i].name.clone())
        .collect();
    let manifest = merge_manifest(&ws.target_dir, ws, built, &failed);
    crate::manifest::write(&ws.target_dir, &manifest)?;
    // One failure per function and reason, listing its variants.
    let mut grouped: BTreeMap<(usize, String), Vec<Variant>> = BTreeMap::new();
    for ((i, variant), reason) in failed {
        grouped.entry((i, reason)).or_default().push(variant);
    }
    let failures: Vec<BuildFailure> = grouped
        .into_iter()
        .map(|((i, reason), variants)| BuildFailure {
            function: ws.functions[i].name.clone(),
            package: ws.functions[i].package.clone(),
            variants,
            reason,
        })
        .collect();
    for failure in &failures {
        on(BuildEvent::Failed(failure.clone()));
    }
    Ok(BuildReport {
        manifest: Some(manifest),
        built: built_names,
        failures,
    })
}

/// Why the variants of `f` for `triple` were not built: cargo failed. A wasm
/// build failure of a function that also runs natively says how to keep to
/// native (crates on tokio's net, actix or C libraries do not build for wasm).
fn cargo_failure(f: &Function, triple: &str) -> String {
    let mut why = format!("cargo build for {triple} failed (see cargo's messages above)");
    if triple == "wasm32-wasip1"
        && f.config
            .runtimes
            .contains(&lumos_model::RuntimeFamily::Native)
    {
        why.push_str(&format!(
            "; if `{}` is not meant for wasm, set `runtimes = [\"native\"]` in [package.metadata.lumos] of {}",
            f.package,
            f.dir.join("Cargo.toml").display()
        ));
    }
    why
}

/// The target wasi:http components are built for: rustc's `wasm32-wasip2`
/// links a `cdylib` into a component itself (wasm-component-ld), so no
/// adapter or wasm-tools step is needed.
const COMPONENT_TRIPLE: &str = "wasm32-wasip2";

/// The wasm target of a function: `wasm32-wasip2` for a wasi:http component,
/// `wasm32-wasip1` otherwise.
fn wasm_triple(f: &Function) -> &'static str {
    if f.config.protocol == lumos_model::Protocol::WasiHttp {
        COMPONENT_TRIPLE
    } else {
        "wasm32-wasip1"
    }
}

fn triple_of(f: &Function, variant: Variant) -> &'static str {
    match variant {
        Variant::Native(arch) => arch.musl_triple(),
        _ => wasm_triple(f),
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
    cache.produce(&dest, |tmp| wasm_opt::optimise(raw, tmp))?;
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
    on: &mut dyn FnMut(BuildEvent),
) -> Result<(PathBuf, String)> {
    let Variant::Aot(engine, arch) = variant else {
        unreachable!("only AoT variants are queued for AoT compilation")
    };
    let module_sha = store::sha256_file(module)?;
    let engine_id = match engine {
        AotEngine::Wasmtime => lumos_wasm::wasmtime::engine_id(),
        AotEngine::Wasmedge => aot_wasmedge::engine_id(),
    };
    let key = store::cache_key(&[&engine_id, arch.as_str(), opt_level, &module_sha]);
    let kind = format!("aot-{engine}");
    let file = variant.file_name(&f.name);
    if let Some(hit) = cache.lookup(&kind, &key, &file) {
        return Ok((hit, engine_id));
    }
    let started = Instant::now();
    on(BuildEvent::Compiling {
        function: f.name.clone(),
        variant,
        engine: engine_id.clone(),
        emulated: engine == AotEngine::Wasmedge && wasmedge[&arch].emulated(),
    });
    let dest = cache.entry(&kind, &key, &file);
    match engine {
        AotEngine::Wasmtime => {
            let wasm = std::fs::read(module)
                .with_context(|| format!("{}: cannot read", module.display()))?;
            let cwasm = lumos_wasm::wasmtime::precompile(
                &wasm,
                Some(arch),
                lumos_wasm::wasmtime::opt_level(opt_level),
            )
            .with_context(|| format!("{} {variant}", f.name))?;
            cache.produce(&dest, |tmp| Ok(std::fs::write(tmp, &cwasm)?))?;
        }
        AotEngine::Wasmedge => {
            cache.produce(&dest, |tmp| {
                wasmedge[&arch]
                    .compile(module, tmp, opt_level)
                    .with_context(|| format!("{} {variant}", f.name))
            })?;
        }
    }
    on(BuildEvent::Compiled {
        function: f.name.clone(),
        variant,
        engine: engine_id.clone(),
        elapsed: started.elapsed(),
    });
    Ok((dest, engine_id))
}

/// The new manifest: this build's artifacts, plus what earlier builds left for
/// variants (or functions) not built now, as long as those files are still
/// there; a variant that failed now is dropped (its old file is stale).
fn merge_manifest(
    target_dir: &Path,
    ws: &Workspace,
    built: BTreeMap<usize, Vec<BuildArtifact>>,
    failed: &BTreeMap<(usize, Variant), String>,
) -> BuildManifest {
    // An unreadable old manifest is replaced: it only lists what can be rebuilt.
    let old = crate::manifest::read(target_dir).unwrap_or_default();
    let mut by_name: BTreeMap<String, FunctionArtifacts> = old
        .functions
        .into_iter()
        .map(|f| (f.name.clone(), f))
        .collect();
    for (i, artifacts) in built {
        let f = &ws.functions[i];
        let new_variants: BTreeSet<Variant> = artifacts.iter().map(|a| a.variant).collect();
        let mut kept: Vec<BuildArtifact> = by_name
            .remove(&f.name)
            .map(|old| old.artifacts)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !new_variants.contains(&a.variant) && a.path.is_file())
            .collect();
        kept.extend(artifacts);
        // By name, as build.json has always listed them.
        kept.sort_by_key(|a| a.variant.to_string());
        by_name.insert(
            f.name.clone(),
            FunctionArtifacts {
                name: f.name.clone(),
                package: ws.packages_of(&f.name),
                protocol: f.config.protocol,
                // Native images' base: the native twin's.
                base: ws
                    .function_for(&f.name, lumos_model::RuntimeFamily::Native)
                    .unwrap_or(f)
                    .config
                    .base
                    .clone(),
                port: f.config.port,
                args: f.config.args.clone(),
                artifacts: kept,
            },
        );
    }
    for (i, variant) in failed.keys() {
        if let Some(f) = by_name.get_mut(&ws.functions[*i].name) {
            f.artifacts.retain(|a| a.variant != *variant);
        }
    }
    let functions = by_name
        .into_values()
        .map(|mut f| {
            f.artifacts.retain(|a| a.path.is_file());
            f
        })
        .filter(|f| !f.artifacts.is_empty())
        .collect();
    BuildManifest {
        schema_version: lumos_model::SCHEMA_VERSION,
        functions,
    }
}
