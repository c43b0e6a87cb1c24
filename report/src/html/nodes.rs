//! Placement on nodes (`--node NAME[:RATE]`, `--place FUNCTION=NODE`): what
//! each node was (its address in its network namespace, its link's rate),
//! and a table per node of the rows it served.

use lumos_model::{BenchOutput, RunRow};
use maud::{html, Markup};

use crate::format::fmt_ms;
use crate::shown::{reason, Figures, Shown};

/// The node the paper's figures are drawn from: the first of the run's
/// nodes (None: no nodes).
pub(super) fn figures_node(out: &BenchOutput) -> Option<String> {
    out.settings.nodes.first().map(|n| n.name.clone())
}

/// Whether row `r` is drawn in the paper's figures: with nodes, the row of
/// its cell on the figures' node, or, for a function pinned elsewhere
/// (`--place`), its only node's.
pub(super) fn drawn(out: &BenchOutput, r: &RunRow, first: Option<&str>) -> bool {
    let (Some(first), Some(node)) = (first, r.node.as_ref()) else {
        return true;
    };
    if node.name == first {
        return true;
    }
    // Another node: drawn only when the cell has no row on the first node.
    !out.runs.iter().any(|o| {
        o.function == r.function
            && o.runtime == r.runtime
            && o.group == r.group
            && o.mode == r.mode
            && o.neighbour.is_some() == r.neighbour.is_some()
            && o.node.as_ref().is_some_and(|n| n.name == first)
    })
}

pub(super) fn section(out: &BenchOutput) -> Markup {
    if out.settings.nodes.is_empty() {
        return html! {};
    }
    let first = figures_node(out).unwrap_or_default();
    html! {
        h2 { "Nodes" }
        p.note {
            "Each node is a network namespace joined to the runner's by a veth pair (a /30 \
             of 10.233.0.0/16), its link limited by " code { "tc tbf" } " on both veth ends \
             when it has a rate. A function's instances placed on a node run inside its \
             namespace, and the runner reaches an http function at the node's address, so \
             requests and responses cross the node's link (frames over stdio do not). The \
             figures above are drawn from node " b { (first) } " (or a function's only node)."
        }
        @for n in &out.settings.nodes {
            @let rows: Vec<&RunRow> = out.runs.iter()
                .filter(|r| r.node.as_ref().is_some_and(|x| x.name == n.name))
                .collect();
            h3 { "Node " (n.name) }
            p.note {
                "Address " code { (n.address) } "; "
                (n.rate.map_or("no bandwidth limit".to_string(), |r| format!("{r} in each direction")))
                "; " (rows.len()) " row(s)."
            }
            @if !rows.is_empty() {
                div.scroll {
                    table.rows {
                        thead { tr {
                            th { "function" } th { "runtime" } th { "g" } th { "mode" }
                            th { "status" } th { "cold total ms" } th { "first resp." }
                            th { "p50 ms" } th { "mean" } th { "errors" }
                        } }
                        tbody {
                            @for r in &rows {
                                @let f = Figures::of(r);
                                @let c = f.and_then(Figures::cold);
                                @let l = f.and_then(Figures::latency);
                                @let why = reason(r);
                                tr.(format!("row-{}", Shown::status_word(r))) {
                                    td.text { (r.function) }
                                    td.text { (r.runtime.as_str()) }
                                    td { (r.group) }
                                    td.text { (r.mode.as_str()) }
                                    td.text title=[why] { (Shown::status_word(r)) }
                                    td { (c.map_or("–".into(), |c| fmt_ms(c.total))) }
                                    td { (c.map_or("–".into(), |c| fmt_ms(c.first_response))) }
                                    td { (l.map_or("–".into(), |l| fmt_ms(l.p50))) }
                                    td { (l.map_or("–".into(), |l| fmt_ms(l.mean))) }
                                    td { (r.errors) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
