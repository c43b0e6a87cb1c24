//! `--csv FILE`: one line per row of the JSON, nested fields flattened
//! (`cold_start_ms.total` -> `cold_start_total_ms`); load rows give one line
//! per concurrency level.

use super::record::RunRow;

const HEADER: &[&str] = &[
    "function",
    "runtime",
    "group",
    "mode",
    "status",
    "sandbox",
    "image_reference",
    "image_compressed_bytes",
    "image_unpacked_bytes",
    "cold_start_pull_ms",
    "cold_start_unpack_ms",
    "cold_start_start_ms",
    "cold_start_ready_ms",
    "cold_start_first_response_ms",
    "cold_start_total_ms",
    "latency_n",
    "latency_mean_ms",
    "latency_stddev_ms",
    "latency_min_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "phase_io_ms",
    "phase_deserialize_ms",
    "phase_compute_ms",
    "phase_serialize_ms",
    "cpu_ms",
    "peak_rss_bytes",
    "repeats",
    "requests",
    "errors",
    "concurrency",
    "load_mode",
    "throughput_rps",
    "store",
    "error",
];

/// Quotes a field when it needs it (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}

pub fn render(rows: &[RunRow]) -> String {
    let mut out = HEADER.join(",");
    out.push('\n');
    for r in rows {
        let c = r.cold_start_ms;
        let ph = r.phases_ms;
        let levels: Vec<Option<&lumos_runtimes::LoadLevel>> = match &r.load {
            Some(l) if !l.is_empty() => l.iter().map(Some).collect(),
            _ => vec![None],
        };
        for lv in levels {
            let lat = lv.map(|l| l.latency_ms).or(r.latency_ms);
            let cols: Vec<String> = vec![
                r.function.clone(),
                r.runtime.clone(),
                r.group.to_string(),
                r.mode.clone(),
                r.status.clone(),
                r.sandbox.clone().unwrap_or_default(),
                r.image.reference.clone(),
                r.image.compressed_bytes.to_string(),
                r.image.unpacked_bytes.to_string(),
                opt(c.map(|c| c.pull)),
                opt(c.map(|c| c.unpack)),
                opt(c.map(|c| c.start)),
                opt(c.map(|c| c.ready)),
                opt(c.map(|c| c.first_response)),
                opt(c.map(|c| c.total)),
                lat.map(|l| l.n.to_string()).unwrap_or_default(),
                opt(lat.map(|l| l.mean)),
                opt(lat.map(|l| l.stddev)),
                opt(lat.map(|l| l.min)),
                opt(lat.map(|l| l.p50)),
                opt(lat.map(|l| l.p90)),
                opt(lat.map(|l| l.p99)),
                opt(lat.map(|l| l.max)),
                opt(ph.map(|p| p.io)),
                opt(ph.map(|p| p.deserialize)),
                opt(ph.map(|p| p.compute)),
                opt(ph.map(|p| p.serialize)),
                opt(r.cpu_ms),
                r.peak_rss_bytes.map(|b| b.to_string()).unwrap_or_default(),
                r.repeats.to_string(),
                lv.map_or(r.requests, |l| l.sent).to_string(),
                lv.map_or(r.errors, |l| l.errors).to_string(),
                lv.map(|l| l.concurrency.to_string()).unwrap_or_default(),
                lv.map(|l| l.mode.clone()).unwrap_or_default(),
                opt(lv.map(|l| l.throughput_rps)),
                r.store.clone(),
                r.error.clone().unwrap_or_default(),
            ];
            debug_assert_eq!(cols.len(), HEADER.len());
            out.push_str(&cols.iter().map(|s| field(s)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_columns() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"x\""), "\"say \"\"x\"\"\"");
        let r = RunRow {
            function: "f".into(),
            runtime: "native".into(),
            group: 1,
            mode: "cold".into(),
            status: "failed".into(),
            error: Some("boom, bang".into()),
            ..Default::default()
        };
        let text = render(&[r]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with("\"boom, bang\""), "{}", lines[1]);
    }
}
