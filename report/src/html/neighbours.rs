//! Co-located load: each cell with and without its neighbour.

use lumos_model::BenchOutput;
use maud::{html, Markup};

use crate::neighbours::{cells, describe, notes, pairs, HEADER, TEXT};
use crate::shown::{reason, Shown};

pub(super) fn section(out: &BenchOutput) -> Markup {
    if pairs(&out.runs).next().is_none() {
        return html! {};
    }
    html! {
        h2 { "Co-located load" }
        @if let Some(d) = describe(out) { p.note { (d) "." } }
        div.scroll {
            table.rows {
                thead { tr { @for h in HEADER { th { (h) } } } }
                tbody {
                    @for (r, n, base) in pairs(&out.runs) {
                        @let why = reason(r);
                        tr.(format!("row-{}", Shown::status_word(r))) {
                            @for (i, c) in cells(r, n, base).into_iter().enumerate() {
                                @if TEXT.contains(&i) {
                                    td.text title=[why] { (c) }
                                } @else {
                                    td title=[why] { (c) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @for n in notes(&out.runs) { p.note.bad { (n) } }
    }
}
