//! The summary table printed at the end of a bench run.

use super::record::RunRow;

/// Milliseconds with sensible precision.
pub fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

pub fn fmt_bytes(b: u64) -> String {
    if b >= 10 << 20 {
        format!("{:.0} MiB", b as f64 / (1 << 20) as f64)
    } else if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
    } else {
        format!("{:.0} KiB", b as f64 / 1024.0)
    }
}

/// The headline number of a row: warm p50, cold mean total, load p50 at the lowest level.
pub fn headline_ms(r: &RunRow) -> Option<f64> {
    match r.mode.as_str() {
        "cold" => r.cold_start_ms.map(|c| c.total),
        _ => r.latency_ms.map(|l| l.p50),
    }
}

/// The same row of the native runtime, if there is one with a number.
fn native_of<'a>(rows: &'a [RunRow], r: &RunRow) -> Option<&'a RunRow> {
    rows.iter().find(|n| {
        n.runtime == "native"
            && n.function == r.function
            && n.group == r.group
            && n.mode == r.mode
            && headline_ms(n).is_some()
    })
}

/// The table as text.
pub fn render(rows: &[RunRow]) -> String {
    let header = [
        "function", "runtime", "g", "mode", "image", "unpacked", "cold ms", "p50 ms", "mean ms",
        "sd", "x native", "io", "deser", "compute", "ser", "cpu ms", "rss", "err", "status",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    let dash = || "-".to_string();
    for r in rows {
        let lat = r.latency_ms.filter(|l| l.n > 0);
        let ratio = match (headline_ms(r), native_of(rows, r).and_then(headline_ms)) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => dash(),
        };
        let status = r.status.clone();
        let ph = r.phases_ms;
        lines.push(vec![
            r.function.clone(),
            r.runtime.clone(),
            r.group.to_string(),
            r.mode.clone(),
            if r.image.compressed_bytes > 0 {
                fmt_bytes(r.image.compressed_bytes)
            } else {
                dash()
            },
            if r.image.unpacked_bytes > 0 {
                fmt_bytes(r.image.unpacked_bytes)
            } else {
                dash()
            },
            r.cold_start_ms.map_or_else(dash, |c| fmt_ms(c.total)),
            lat.map_or_else(dash, |l| fmt_ms(l.p50)),
            lat.map_or_else(dash, |l| fmt_ms(l.mean)),
            lat.map_or_else(dash, |l| fmt_ms(l.stddev)),
            ratio,
            ph.map_or_else(dash, |p| fmt_ms(p.io)),
            ph.map_or_else(dash, |p| fmt_ms(p.deserialize)),
            ph.map_or_else(dash, |p| fmt_ms(p.compute)),
            ph.map_or_else(dash, |p| fmt_ms(p.serialize)),
            r.cpu_ms.map_or_else(dash, fmt_ms),
            r.peak_rss_bytes
                .filter(|&b| b > 0)
                .map_or_else(dash, fmt_bytes),
            r.errors.to_string(),
            status,
        ]);
    }
    let cols = header.len();
    let mut widths = vec![0; cols];
    for l in &lines {
        for (i, c) in l.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    // Text columns left-aligned, numbers right-aligned; the last one unpadded.
    let left = [0, 1, 3, cols - 1];
    let mut out = String::new();
    for (n, l) in lines.iter().enumerate() {
        let mut s = String::new();
        for (i, c) in l.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            if i == cols - 1 {
                s.push_str(c);
            } else if left.contains(&i) {
                s.push_str(&format!("{c:<w$}", w = widths[i]));
            } else {
                s.push_str(&format!("{c:>w$}", w = widths[i]));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
        if n == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (cols - 1)));
            out.push('\n');
        }
    }
    // Why rows failed or were not run, once per distinct reason.
    let mut notes: Vec<String> = vec![];
    for r in rows.iter().filter(|r| r.status == "failed") {
        if let Some(e) = &r.error {
            let n = format!(
                "note: {} {} {}: {}",
                r.function,
                r.runtime,
                r.mode,
                first_line(e, 200)
            );
            if !notes.contains(&n) {
                notes.push(n);
            }
        }
    }
    for n in notes {
        out.push_str(&n);
        out.push('\n');
    }
    // Load levels, one line each.
    for r in rows.iter().filter(|r| r.load.is_some()) {
        for lv in r.load.iter().flatten() {
            out.push_str(&format!(
                "load {} {} g{} c={:<4} {:<14} {:>9.1} req/s  p50 {} ms  p99 {} ms  ok {} errors {}\n",
                r.function,
                r.runtime,
                r.group,
                lv.concurrency,
                lv.mode,
                lv.throughput_rps,
                fmt_ms(lv.latency_ms.p50),
                fmt_ms(lv.latency_ms.p99),
                lv.ok,
                lv.errors
            ));
        }
    }
    out
}

fn first_line(s: &str, max: usize) -> String {
    let l = s.lines().next().unwrap_or("");
    if l.chars().count() > max {
        format!("{}…", l.chars().take(max).collect::<String>())
    } else {
        l.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_against_native() {
        let mut n = RunRow {
            function: "f".into(),
            runtime: "native".into(),
            group: 1,
            mode: "warm".into(),
            status: "ok".into(),
            ..Default::default()
        };
        n.latency_ms = Some(lumos_runtimes::measure::latency::LatencyStats {
            n: 1,
            p50: 2.0,
            ..Default::default()
        });
        let mut w = n.clone();
        w.runtime = "wasmi-interp".into();
        w.latency_ms.as_mut().unwrap().p50 = 60.0;
        let t = render(&[n, w]);
        assert!(t.contains("30.00"), "{t}");
    }
}
