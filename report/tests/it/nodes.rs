//! Placement on nodes (`--node`): a node column in the table and the
//! report's rows, a line per node under the table, a section per node in
//! the report, `x native` taken on the same node; nothing of it without nodes.

use lumos_model::{BenchOutput, NodeRecord};
use lumos_report::{html, table};
use scraper::{Html, Selector};

use crate::fixture;

fn node(name: &str, address: &str, rate: Option<&str>) -> NodeRecord {
    let rate = rate.map(|r| r.parse::<lumos_model::Rate>().unwrap());
    NodeRecord {
        name: name.into(),
        address: address.into(),
        rate,
        rate_bits_per_sec: rate.map(|r| r.bits_per_sec()),
    }
}

/// The fixture's rows on two nodes: `fast` as they are, `slow` (1mbit)
/// with every latency doubled.
fn placed() -> BenchOutput {
    let mut out = fixture::bench();
    let (fast, slow) = (
        node("fast", "10.233.0.2", None),
        node("slow", "10.233.0.6", Some("1mbit")),
    );
    let mut runs = vec![];
    for r in &out.runs {
        let mut a = r.clone();
        a.node = Some(fast.clone());
        let mut b = r.clone();
        b.node = Some(slow.clone());
        if let Some(l) = b.latency_ms.as_mut() {
            l.p50 *= 2.0;
            l.mean *= 2.0;
            l.p50_ci95 = l.p50_ci95.map(|[a, b]| [2.0 * a, 2.0 * b]);
        }
        runs.push(a);
        runs.push(b);
    }
    out.runs = runs;
    out.settings.nodes = vec![fast, slow];
    out
}

#[test]
fn snapshot() {
    insta::assert_snapshot!(table::render(&placed()));
}

#[test]
fn the_table_names_each_rows_node_and_lists_the_nodes() {
    let text = table::render(&placed());
    let header = text.lines().next().unwrap();
    assert!(header.contains(" node "), "{header}");
    assert!(text.lines().any(|l| l.contains("slow (1mbit)")), "{text}");
    assert!(text
        .lines()
        .any(|l| l == "node slow: 10.233.0.6, 1mbit each way (tc tbf)"));
    assert!(text
        .lines()
        .any(|l| l == "node fast: 10.233.0.2, no bandwidth limit"));
    let plain = table::render(&fixture::bench());
    assert!(!plain.lines().next().unwrap().contains(" node "));
    assert!(!plain.contains("node fast"));
}

#[test]
fn x_native_compares_rows_on_the_same_node() {
    let out = placed();
    // The slow node's rows are all doubled: each row's ratio to native is
    // the same on both nodes.
    for r in out
        .runs
        .iter()
        .filter(|r| r.mode == lumos_model::Mode::Warm)
    {
        let x = lumos_report::compare::x_native(&out.runs, r);
        let twin = out
            .runs
            .iter()
            .find(|o| {
                o.function == r.function
                    && o.runtime == r.runtime
                    && o.group == r.group
                    && o.mode == r.mode
                    && o.node != r.node
            })
            .unwrap();
        let y = lumos_report::compare::x_native(&out.runs, twin);
        match (x, y) {
            (Some(x), Some(y)) => assert!((x - y).abs() < 1e-9, "{x} vs {y}"),
            (x, y) => assert_eq!(x.is_some(), y.is_some()),
        }
    }
}

#[test]
fn the_report_has_a_section_per_node_and_a_node_column() {
    let out = placed();
    let body = html::render(&out);
    let doc = Html::parse_document(&body);
    let h3 = Selector::parse("h3").unwrap();
    let titles: Vec<String> = doc.select(&h3).map(|e| e.text().collect()).collect();
    assert!(titles.iter().any(|t| t == "Node fast"), "{titles:?}");
    assert!(titles.iter().any(|t| t == "Node slow"), "{titles:?}");
    let section = &body[body.find("<h3>Node slow").unwrap()..];
    let section = &section[..section.find("<h2").unwrap_or(section.len())];
    let rows = Html::parse_fragment(section);
    let tr = Selector::parse("tbody tr").unwrap();
    assert_eq!(rows.select(&tr).count(), out.runs.len() / 2);
    assert!(section.contains("1mbit in each direction"));
    let th = Selector::parse("h2 ~ div.scroll table.rows thead th").unwrap();
    assert!(doc
        .select(&th)
        .any(|e| e.text().collect::<String>() == "node"));
    let setup = Selector::parse("table.setup tr").unwrap();
    assert!(doc.select(&setup).any(|tr| {
        let t: String = tr.text().collect();
        t.starts_with("nodes") && t.contains("slow: 10.233.0.6, 1mbit each way (tc tbf)")
    }));
    let plain = html::render(&fixture::bench());
    assert!(!plain.contains("<h2>Nodes</h2>"));
}

#[test]
fn the_csv_names_each_rows_node() {
    let text = lumos_report::csv::render(&placed()).unwrap();
    let mut r = ::csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (node, addr, rate) = (
        col("node"),
        col("node_address"),
        col("node_rate_bits_per_sec"),
    );
    let recs: Vec<_> = r.records().map(Result::unwrap).collect();
    assert!(recs
        .iter()
        .any(|x| &x[node] == "slow" && &x[addr] == "10.233.0.6" && &x[rate] == "1000000"));
    assert!(recs
        .iter()
        .any(|x| &x[node] == "fast" && x[rate].is_empty()));
    assert!(recs.iter().all(|x| !x[node].is_empty()));
}
