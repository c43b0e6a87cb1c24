//! Packing a function's built artifacts into images in a layout: one image
//! per variant, named `<namespace>/<function>:<variant>`, plus the `native`
//! index over the native variants.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lumos_model::{Arch, BuildArtifact, Protocol, Variant};

use crate::component::pack_component;
use crate::error::{Error, Result};
use crate::image::{
    pack_index, pack_native, pack_wasm, AotInfo, BaseImage, ImageMeta, Packed, WasmFormat,
};
use crate::layout::Layout;
use crate::reference::Reference;
use crate::registry::{pull, Client, ClientOptions};
use crate::spec::Platform;

/// What `debian-slim` stands for.
pub const DEBIAN_SLIM: &str = "docker.io/library/debian:bookworm-slim";

/// One built file of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactInput {
    pub variant: Variant,
    pub path: PathBuf,
    /// For AoT variants: the engine and version, e.g. `wasmedge-0.14.1`
    /// (see [`AotInfo::engine_id`]).
    pub engine: Option<String>,
}

impl From<&BuildArtifact> for ArtifactInput {
    /// An artifact as `build.json` lists it.
    fn from(a: &BuildArtifact) -> Self {
        ArtifactInput {
            variant: a.variant,
            path: a.path.clone(),
            engine: a.engine.clone(),
        }
    }
}

/// The base of native images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSpec {
    Scratch,
    Image(Reference),
}

impl BaseSpec {
    /// `scratch`, `debian-slim` or any image reference.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "" | "scratch" => Ok(BaseSpec::Scratch),
            "debian-slim" => Ok(BaseSpec::Image(Reference::parse(DEBIAN_SLIM)?)),
            other => Ok(BaseSpec::Image(Reference::parse(other)?)),
        }
    }
}

/// Settings shared by every image of a pack run.
#[derive(Debug, Clone)]
pub struct PackOptions {
    pub namespace: String,
    /// Seconds since the epoch for `created` and layer mtimes.
    pub created: i64,
    pub source: Option<String>,
    pub revision: Option<String>,
    pub wasm_format: WasmFormat,
    /// The function's protocol, carried by every image as
    /// `dev.lumos.protocol` (config label and manifest annotation).
    pub protocol: Option<Protocol>,
    /// The function's fixed port (`dev.lumos.port`, `ExposedPorts`).
    pub port: Option<u16>,
    /// Arguments after the entrypoint (the config's `Cmd`).
    pub args: Vec<String>,
    /// How to reach the registries bases are pulled from.
    pub client: ClientOptions,
}

/// Pulls base images (each registry connected once, each base and
/// platform pulled once per run; blobs cached in the layout by digest).
#[derive(Default)]
pub struct BaseCache {
    clients: BTreeMap<String, Client>,
    bases: BTreeMap<(String, Arch), BaseImage>,
}

impl BaseCache {
    /// The base `reference` for `arch`, pulled into `layout`.
    pub fn get(
        &mut self,
        layout: &Layout,
        reference: &Reference,
        arch: Arch,
        opts: &ClientOptions,
    ) -> Result<BaseImage> {
        let key = (reference.to_string(), arch);
        if let Some(b) = self.bases.get(&key) {
            return Ok(b.clone());
        }
        let platform = Platform::linux(arch);
        let host = reference.api_host().to_string();
        if !self.clients.contains_key(&host) {
            let c = Client::connect(&host, opts.clone())?;
            self.clients.insert(host.clone(), c);
        }
        let client = &self.clients[&host];
        let pulled = pull(client, layout, reference, Some(&platform))?;
        let base = pulled.into_base();
        self.bases.insert(key, base.clone());
        Ok(base)
    }
}

/// Packs every artifact of `function` and names the images in the layout.
/// Returns the packed images (the `native` index last among the natives).
pub fn pack_function(
    layout: &Layout,
    function: &str,
    artifacts: &[ArtifactInput],
    base: &BaseSpec,
    opts: &PackOptions,
    bases: &mut BaseCache,
) -> Result<Vec<Packed>> {
    let meta = ImageMeta {
        namespace: opts.namespace.clone(),
        function: function.to_string(),
        created: opts.created,
        source: opts.source.clone(),
        revision: opts.revision.clone(),
        protocol: opts.protocol,
        port: opts.port,
        args: opts.args.clone(),
    };
    let mut packed = Vec::new();
    let mut natives = Vec::new();
    // A wasi:http function's images are component images: the `wasm`
    // artifact is the component, whose imports and exports every image of
    // it describes (its AoT images too).
    let component = match opts.protocol {
        Some(Protocol::WasiHttp) => match artifacts.iter().find(|a| a.variant == Variant::Wasm) {
            Some(a) => Some(std::fs::read(&a.path).map_err(|e| Error::io(&a.path, e))?),
            None => None,
        },
        _ => None,
    };
    for a in artifacts {
        let bytes = std::fs::read(&a.path).map_err(|e| Error::io(&a.path, e))?;
        if opts.protocol == Some(Protocol::WasiHttp) {
            let aot = match a.variant {
                Variant::Aot(engine, arch) => Some(AotInfo {
                    engine,
                    arch,
                    engine_id: a.engine.clone(),
                }),
                _ => None,
            };
            let p = match &aot {
                None => pack_component(layout, &meta, Some(&bytes), opts.wasm_format, None)?,
                Some(info) => pack_component(
                    layout,
                    &meta,
                    component.as_deref(),
                    opts.wasm_format,
                    Some((info, &bytes)),
                )?,
            };
            packed.push(p);
            continue;
        }
        let p = match a.variant {
            Variant::Native(arch) => {
                let base_image = match base {
                    BaseSpec::Scratch => None,
                    BaseSpec::Image(r) => Some(bases.get(layout, r, arch, &opts.client)?),
                };
                let p = pack_native(layout, &meta, &bytes, arch, base_image.as_ref())?;
                natives.push(p.descriptor.clone());
                p
            }
            Variant::Wasm => pack_wasm(layout, &meta, &bytes, opts.wasm_format, None)?,
            Variant::Aot(engine, arch) => {
                let aot = AotInfo {
                    engine,
                    arch,
                    engine_id: a.engine.clone(),
                };
                pack_wasm(layout, &meta, &bytes, opts.wasm_format, Some(&aot))?
            }
        };
        packed.push(p);
    }
    if !natives.is_empty() {
        packed.push(pack_index(layout, &meta, &natives)?);
    }
    let refs: Vec<_> = packed
        .iter()
        .map(|p| (p.name.clone(), p.descriptor.clone()))
        .collect();
    layout.set_refs(&refs)?;
    Ok(packed)
}
