//! The link to the storage server (`--baas-bandwidth`, `--baas-delay`):
//! the link, the relay's measured overhead, and each row's I/O phase beside
//! the function's own time.

use lumos_model::BenchOutput;
use maud::{html, Markup};

use crate::format::fmt_ms;
use crate::shown::Figures;

pub(super) fn section(out: &BenchOutput) -> Markup {
    let Some(l) = &out.settings.baas_link else {
        return html! {};
    };
    let bw = l.bandwidth.map_or("no bandwidth limit".to_string(), |r| {
        format!("{r} in each direction")
    });
    let rows: Vec<_> = out
        .runs
        .iter()
        .filter_map(Figures::of)
        .filter_map(|f| Some((f.row(), f.phases()?)))
        .collect();
    html! {
        h2 { "Network to the storage server" }
        p.note {
            "Storage (" code { (out.settings.store) } ") was reached through a network \
             namespace made for this run: a veth pair limited by " code { "tc tbf" } " ("
            (bw) ") and a relay that holds every chunk " (l.delay_ms) " ms in each \
             direction (a round trip gets twice that). The relay's own overhead: "
            (fmt_ms(l.relay_overhead_ms)) " ms per round trip (a small GET: "
            (fmt_ms(l.relayed_rtt_ms)) " ms through the link at 0 ms and no limit, "
            (fmt_ms(l.direct_rtt_ms)) " ms straight to the server, medians of "
            (l.overhead_samples) "). " b { "io" } " is the SDK's I/O phase: the function's \
             storage calls, mean per request."
        }
        @if !rows.is_empty() {
            div.scroll {
                table.rows {
                    thead { tr {
                        th { "function" } th { "runtime" } th { "g" } th { "mode" }
                        th { "io ms" } th { "function ms" } th { "io share" }
                    } }
                    tbody {
                        @for (r, p) in &rows {
                            tr {
                                td.text { (r.function) }
                                td.text { (r.runtime.as_str()) }
                                td { (r.group) }
                                td.text { (r.mode.as_str()) }
                                td { (fmt_ms(p.io)) }
                                td { (fmt_ms(p.total)) }
                                td { @if p.total > 0.0 {
                                    (format!("{:.0}%", 100.0 * p.io / p.total))
                                } @else { "–" } }
                            }
                        }
                    }
                }
            }
        }
    }
}
