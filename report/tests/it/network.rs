//! The storage link (`--baas-bandwidth`, `--baas-delay`): a line in the
//! table, a row in the report's set-up and a section of its own with each
//! row's I/O phase; nothing of it when the run had no link.

use lumos_model::{BaasLink, BenchOutput};
use lumos_report::{html, table};
use scraper::{Html, Selector};

use crate::fixture;

fn linked() -> BenchOutput {
    let mut out = fixture::bench();
    out.settings.baas_link = Some(BaasLink {
        bandwidth: Some("1mbit".parse().unwrap()),
        bandwidth_bits_per_sec: Some(1_000_000),
        delay_ms: 20.0,
        relay_overhead_ms: 0.049,
        direct_rtt_ms: 0.03,
        relayed_rtt_ms: 0.079,
        overhead_samples: 15,
    });
    out
}

#[test]
fn the_table_says_what_link_the_storage_was_behind() {
    let text = table::render(&linked());
    assert!(
        text.lines().any(|l| l
            == "storage link: 1mbit each way, 20 ms delay each way (relay overhead 0.049 ms per round trip)"),
        "{text}"
    );
    assert!(!table::render(&fixture::bench()).contains("storage link"));
}

#[test]
fn the_report_has_a_network_section_with_each_rows_io_phase() {
    let out = linked();
    let doc = Html::parse_document(&html::render(&out));
    let h2 = Selector::parse("h2").unwrap();
    let titles: Vec<String> = doc.select(&h2).map(|e| e.text().collect()).collect();
    assert!(
        titles.iter().any(|t| t == "Network to the storage server"),
        "{titles:?}"
    );
    let setup = Selector::parse("table.setup tr").unwrap();
    assert!(doc.select(&setup).any(|tr| {
        let t: String = tr.text().collect();
        t.starts_with("storage link") && t.contains("1mbit each way")
    }));
    // One line per row with figures and phases, its io as in the row.
    let with_phases = out
        .runs
        .iter()
        .filter(|r| {
            lumos_report::shown::Figures::of(r)
                .and_then(|f| f.phases())
                .is_some()
        })
        .count();
    assert!(with_phases > 0);
    let body = html::render(&out);
    let section = &body[body.find("Network to the storage server").unwrap()..];
    let section = &section[..section.find("<h2").unwrap_or(section.len())];
    let rows = Html::parse_fragment(section);
    let tr = Selector::parse("tbody tr").unwrap();
    assert_eq!(rows.select(&tr).count(), with_phases);

    let plain = html::render(&fixture::bench());
    assert!(!plain.contains("Network to the storage server"));
    assert!(!plain.contains("storage link"));
}
