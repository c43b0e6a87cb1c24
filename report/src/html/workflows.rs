//! Workflows: one line per workflow row (makespan, steps, hand-overs).

use lumos_model::BenchOutput;
use maud::{html, Markup};

use crate::shown::{reason, Shown};
use crate::workflows::{cells, rows, HEADER, NOTE};

pub(super) fn section(out: &BenchOutput) -> Markup {
    if rows(&out.runs).next().is_none() {
        return html! {};
    }
    html! {
        h2 { "Workflows" }
        p.note { (NOTE) "." }
        div.scroll {
            table.rows {
                thead { tr { @for h in HEADER { th { (h) } } } }
                tbody {
                    @for (r, w) in rows(&out.runs) {
                        @let why = reason(r);
                        tr.(format!("row-{}", Shown::status_word(r))) {
                            @for c in cells(r, w) { td.text title=[why] { (c) } }
                        }
                    }
                }
            }
        }
    }
}
