//! Number and text formats shared by the table, the CSV and the report.

/// Milliseconds with sensible precision: 3 significant-ish digits.
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

/// Bytes in KiB or MiB.
pub fn fmt_bytes(b: u64) -> String {
    if b >= 10 << 20 {
        format!("{:.0} MiB", b as f64 / (1 << 20) as f64)
    } else if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
    } else {
        format!("{:.0} KiB", b as f64 / 1024.0)
    }
}

/// A ratio such as "x native": two decimals.
pub fn fmt_ratio(r: f64) -> String {
    format!("{r:.2}")
}

/// A 95% interval of milliseconds, `[lo, hi]`.
pub fn fmt_ms_ci(ci: [f64; 2]) -> String {
    format!("[{}, {}]", fmt_ms(ci[0]), fmt_ms(ci[1]))
}

/// A ratio with its 95% interval when known: `1.23 [1.10, 1.40]`.
pub fn fmt_ratio_ci(r: f64, ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("{} [{}, {}]", fmt_ratio(r), fmt_ratio(lo), fmt_ratio(hi)),
        None => fmt_ratio(r),
    }
}

/// The first line of `s`, cut to `max` characters (with an ellipsis).
pub fn first_line(s: &str, max: usize) -> String {
    let l = s.lines().next().unwrap_or("");
    if l.chars().count() > max {
        format!("{}…", l.chars().take(max).collect::<String>())
    } else {
        l.to_string()
    }
}

/// A number on a chart axis or in a tooltip: short, no trailing zeros.
pub fn fmt_axis(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e6 {
        format!("{:.0}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}").trim_end_matches(".0").to_string()
    } else if a >= 0.01 {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// The per-instance limits a run recorded, when it ran under a CPU limit or
/// a device profile: "cpus 0.5, memory 512 MiB (device edge-small)". None
/// for the default limits (the report's figures need no footnote then).
pub fn limits(s: &lumos_model::Settings) -> Option<String> {
    let l = s.limits.as_ref()?;
    if l.cpus.is_none() && s.device.is_none() {
        return None;
    }
    let cpus = l
        .cpus
        .map_or("no CPU limit".to_string(), |c| format!("cpus {c}"));
    let mem = l.memory_bytes.map_or("no memory limit".to_string(), |m| {
        format!("memory {} MiB", m >> 20)
    });
    let dev = s
        .device
        .as_ref()
        .map(|d| format!(" (device {})", d.name))
        .unwrap_or_default();
    Some(format!("{cpus}, {mem}{dev}"))
}

/// The link to the storage server on one line, when the run had one:
/// `10mbit each way, 20 ms each way (relay overhead 0.049 ms per round trip)`.
pub fn baas_link(s: &lumos_model::Settings) -> Option<String> {
    let l = s.baas_link.as_ref()?;
    let bw = l.bandwidth.map_or("no bandwidth limit".to_string(), |r| {
        format!("{r} each way")
    });
    Some(format!(
        "{bw}, {} ms delay each way (relay overhead {} ms per round trip)",
        l.delay_ms,
        fmt_ms(l.relay_overhead_ms)
    ))
}

/// A node (`--node`) in one line: `slow: 10.233.4.2, 1mbit each way (tc tbf)`.
pub fn node(n: &lumos_model::NodeRecord) -> String {
    format!(
        "{}: {}, {}",
        n.name,
        n.address,
        n.rate.map_or("no bandwidth limit".to_string(), |r| format!(
            "{r} each way (tc tbf)"
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_ms(123.4), "123");
        assert_eq!(fmt_ms(12.34), "12.3");
        assert_eq!(fmt_ms(1.234), "1.23");
        assert_eq!(fmt_ms(0.1234), "0.123");
        assert_eq!(fmt_bytes(512 * 1024), "512 KiB");
        assert_eq!(fmt_bytes(3 << 20), "3.0 MiB");
        assert_eq!(fmt_bytes(30 << 20), "30 MiB");
        assert_eq!(first_line("ab\ncd", 1), "a…");
        assert_eq!(fmt_axis(2.0), "2");
        assert_eq!(fmt_axis(25_000.0), "25k");
        assert_eq!(fmt_axis(0.001), "1e-3");
        assert_eq!(fmt_axis(0.1), "0.1");
        assert_eq!(fmt_axis(0.05), "0.05");
    }
}
