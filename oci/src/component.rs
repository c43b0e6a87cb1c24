//! Images of WebAssembly components (wasi:http functions), in the two forms
//! of [`WasmFormat`]:
//!
//! - the CNCF Wasm OCI artifact (TAG Runtime, "Wasm OCI Artifact layout",
//!   <https://tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact/>):
//!   config `application/vnd.wasm.config.v0+json` with `architecture: wasm`,
//!   `os: wasip2`, `layerDigests` and the `component` field (the component's
//!   top-level `exports` and `imports` as WIT names, e.g.
//!   `wasi:http/incoming-handler@0.2.12`), one `application/wasm` layer;
//! - the compat form: FROM scratch, one tar layer holding `/<function>.wasm`,
//!   the entrypoint, `module.wasm.image/variant: compat-smart`, platform
//!   `wasip2/wasm` (see runtimes/README.md "wasi:http components" for why).
//!
//! Both carry `dev.lumos.protocol: wasi-http`. An AoT image carries a
//! wasmtime `.cwasm` precompiled from the component instead of the component;
//! its `component` field still describes the component it was made from.

use lumos_model::Variant;
use serde::Serialize;
use wasmparser::{Parser, Payload};

use crate::error::{Error, Result};
use crate::image::{pack_wasm_file, AotInfo, ImageMeta, Packed, WasmFormat, WasmKind};
use crate::layout::Layout;

/// The `os` of component images.
pub const COMPONENT_OS: &str = "wasip2";

/// The `component` field of the CNCF artifact config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentInfo {
    /// Names the component exports, in its order (e.g. `wasi:http/incoming-handler@0.2.12`).
    pub exports: Vec<String>,
    /// Names the component imports, in its order.
    pub imports: Vec<String>,
}

impl ComponentInfo {
    /// Whether the component exports `wasi:http/incoming-handler` (any version),
    /// the test runwasi's wasmtime shim uses to serve it over HTTP.
    pub fn is_http_handler(&self) -> bool {
        self.exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler"))
    }
}

/// Reads the top-level imports and exports of a component (those of nested
/// modules and components are not the component's own).
///
/// Hand-walked with wasmparser rather than decoded with wit-component: the
/// names are exactly the WIT names wit-component would give for interface
/// imports and exports, and wasmparser alone keeps this library light.
pub fn component_info(what: &str, bytes: &[u8]) -> Result<ComponentInfo> {
    if !Parser::is_component(bytes) {
        return Err(Error::Image(format!(
            "{what}: not a WebAssembly component ({})",
            if Parser::is_core_wasm(bytes) {
                "a core module; build a component with --target wasm32-wasip2"
            } else {
                "no component header"
            }
        )));
    }
    let err = |source| Error::Component {
        what: what.to_string(),
        source,
    };
    let mut info = ComponentInfo {
        exports: vec![],
        imports: vec![],
    };
    // parse_all yields nested modules' and components' payloads inline,
    // each closed by its own `End`.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(err)? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            Payload::ComponentImportSection(r) if depth == 0 => {
                for i in r {
                    info.imports.push(i.map_err(err)?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(r) if depth == 0 => {
                for e in r {
                    info.exports.push(e.map_err(err)?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

/// Packs a component (or, with `aot`, the `.cwasm` precompiled from it) as
/// one image in `format`. `component` is the component itself: its imports
/// and exports go into the artifact config (so the artifact form needs it
/// even for an AoT image; the compat form only checks it when given).
pub fn pack_component(
    layout: &Layout,
    meta: &ImageMeta,
    component: Option<&[u8]>,
    format: WasmFormat,
    aot: Option<(&AotInfo, &[u8])>,
) -> Result<Packed> {
    let variant = aot.map_or(Variant::Wasm, |(a, _)| a.variant()).image_tag();
    let what = format!("component of {}", meta.ref_name(&variant));
    let info = match component {
        Some(c) => Some(component_info(&what, c)?),
        None if format == WasmFormat::Artifact => {
            return Err(Error::Image(format!(
                "{what}: the artifact form of an AoT image lists the component's imports and \
                 exports, so the `wasm` variant (the component) must be built and packed too"
            )))
        }
        None => None,
    };
    let Some(payload) = aot.map(|(_, cwasm)| cwasm).or(component) else {
        return Err(Error::Image(format!("{what}: nothing to pack")));
    };
    pack_wasm_file(
        layout,
        meta,
        payload,
        format,
        aot.map(|(a, _)| a),
        &WasmKind::Component(info),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component importing one instance and exporting one (hand-encoded:
    /// type section with an empty instance type, an import of it, an
    /// export of the imported instance).
    fn tiny_component() -> Vec<u8> {
        let mut b = b"\0asm\x0d\0\x01\0".to_vec();
        // component type section (id 7): 1 type, instance type (0x42) with 0 decls
        b.extend([7, 3, 1, 0x42, 0]);
        // import section (id 10): 1 import, name "a:b/c@1.0.0", instance type 0
        let name = b"a:b/c@1.0.0";
        let mut imp = vec![1, 0x00, name.len() as u8];
        imp.extend(name);
        imp.extend([0x05, 0]); // extern desc: instance, type index 0
        b.push(10);
        b.push(imp.len() as u8);
        b.extend(imp);
        // export section (id 11): 1 export, name "d:e/f@2.0.0", instance 0
        let name = b"d:e/f@2.0.0";
        let mut exp = vec![1, 0x00, name.len() as u8];
        exp.extend(name);
        exp.extend([0x05, 0, 0]); // kind instance, index 0, no ascribed type
        b.push(11);
        b.push(exp.len() as u8);
        b.extend(exp);
        b
    }

    #[test]
    fn reads_top_level_imports_and_exports() {
        let info = component_info("tiny", &tiny_component()).unwrap();
        assert_eq!(info.imports, ["a:b/c@1.0.0"]);
        assert_eq!(info.exports, ["d:e/f@2.0.0"]);
        assert!(!info.is_http_handler());
    }

    #[test]
    fn a_module_is_refused_naming_what_it_is() {
        let e = component_info("m.wasm", b"\0asm\x01\0\0\0").unwrap_err();
        assert!(
            e.to_string()
                .contains("m.wasm: not a WebAssembly component (a core module"),
            "{e}"
        );
    }
}
