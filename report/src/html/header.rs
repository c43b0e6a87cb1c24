//! The run's set-up: machine, versions, storage, registry, repeats, and the
//! runtimes that could not run here.

use std::collections::BTreeMap;

use lumos_model::BenchOutput;
use maud::{html, Markup};

use crate::format::fmt_bytes;

pub(super) fn section(out: &BenchOutput) -> Markup {
    let m = &out.machine;
    let v = &out.versions;
    let s = &out.settings;
    let mut kv: BTreeMap<&str, String> = BTreeMap::from([
        (
            "CPU",
            format!("{} ({} cores, {})", m.cpu_model, m.cores, m.arch),
        ),
        ("memory", fmt_bytes(m.memory_bytes)),
        ("kernel", m.kernel.clone()),
        (
            "engines",
            format!(
                "wasmtime {}, wasmi {}, WasmEdge {}",
                v.wasmtime,
                v.wasmi,
                v.wasmedge.as_deref().unwrap_or("not built in")
            ),
        ),
        (
            "containers",
            format!(
                "runc {}, crun {}",
                v.runc.as_deref().unwrap_or("–"),
                v.crun.as_deref().unwrap_or("–")
            ),
        ),
        ("storage", s.store.clone()),
        ("registry", s.registry.clone()),
        ("native base", s.native_base.clone()),
        (
            "repeats",
            format!(
                "{} (warm: {} warm-up + {} measured requests per repeat)",
                s.repeat, s.warmup, s.requests
            ),
        ),
    ]);
    if let Some(l) = crate::format::limits(s) {
        kv.insert("limits per instance", l);
    }
    if let Some(l) = crate::format::baas_link(s) {
        kv.insert("storage link", l);
    }
    if !s.nodes.is_empty() {
        let nodes: Vec<String> = s.nodes.iter().map(crate::format::node).collect();
        kv.insert("nodes", nodes.join("; "));
    }
    if let Some(n) = &s.neighbour {
        kv.insert(
            "neighbour",
            format!(
                "{}@{}, {}{}",
                n.function,
                n.runtime,
                n.arrival(),
                if s.neighbour_baseline {
                    "; each cell measured without it, then with it"
                } else {
                    "; each cell measured with it only"
                }
            ),
        );
    }
    if !s.skipped.is_empty() {
        kv.insert(
            "skipped (--skip)",
            s.skipped
                .iter()
                .map(|k| format!("{} on {}", k.function, k.runtime))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    html! {
        table.setup {
            @for (k, v) in &kv {
                tr { th { (k) } td.text { (v) } }
            }
            @for (rt, why) in &s.runtimes {
                @if let Some(w) = why {
                    tr { th { (rt.as_str()) } td.text.bad { "unavailable: " (w) } }
                }
            }
        }
    }
}
