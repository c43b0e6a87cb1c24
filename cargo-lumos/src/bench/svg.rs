//! Inline SVG charts for the HTML report, drawn from numbers: grouped bars
//! and lines, linear or log axes. No scripts, no fonts to fetch.

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 320.0;
const L: f64 = 70.0; // left margin (y labels)
const R: f64 = 170.0; // right margin (legend)
const T: f64 = 34.0;
const B: f64 = 60.0; // bottom margin (x labels)

/// A stable colour per series name (runtimes get the same colour everywhere).
pub fn colour(name: &str) -> &'static str {
    match name {
        "native" => "#444444",
        "wasmtime-aot" => "#1f77b4",
        "wasmtime-jit" => "#17becf",
        "wasmi-interp" => "#d62728",
        "wasmedge-aot" => "#2ca02c",
        "wasmedge-interp" => "#ff7f0e",
        "compressed" => "#1f77b4",
        "unpacked" => "#aec7e8",
        _ => {
            const P: [&str; 6] = [
                "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#393b79",
            ];
            let h = name
                .bytes()
                .fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
            P[h % P.len()]
        }
    }
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An axis mapping values to pixels.
#[derive(Clone, Copy)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    fn new(values: impl Iterator<Item = f64>, log: bool, zero: bool) -> Axis {
        let v: Vec<f64> = values
            .filter(|x| x.is_finite() && (!log || *x > 0.0))
            .collect();
        let (mut lo, mut hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        if v.is_empty() {
            lo = if log { 0.1 } else { 0.0 };
            hi = 1.0;
        }
        if log {
            lo = 10f64.powf(lo.log10().floor());
            hi = 10f64.powf(hi.log10().ceil());
            if hi <= lo {
                hi = lo * 10.0;
            }
        } else {
            if zero {
                lo = lo.min(0.0);
            }
            if hi <= lo {
                hi = lo + 1.0;
            }
            let step = nice_step((hi - lo) / 5.0);
            lo = (lo / step).floor() * step;
            hi = (hi / step).ceil() * step;
        }
        Axis { lo, hi, log }
    }
    /// 0..1 along the axis.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            let v = v.max(self.lo);
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            // Decades; with 2 and 5 between them when there are few decades.
            let few = self.hi / self.lo <= 100.0 + 1e-9;
            let mut t = vec![];
            let mut x = self.lo;
            while x <= self.hi * 1.0001 {
                t.push(x);
                if few {
                    t.extend([2.0 * x, 5.0 * x].into_iter().filter(|v| *v < self.hi));
                }
                x *= 10.0;
            }
            t
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let mut t = vec![];
            let mut x = self.lo;
            while x <= self.hi + step * 1e-6 {
                t.push(x);
                x += step;
            }
            t
        }
    }
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    }
}

pub fn num(v: f64) -> String {
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
        format!("{v:.2}")
    } else {
        format!("{v:.0e}")
    }
}

fn frame(out: &mut String, title: &str, y: &Axis, y_label: &str) {
    let pw = W - L - R;
    let ph = H - T - B;
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img"><title>{t}</title><text x="{L}" y="20" class="title">{t}</text>"#,
        t = esc(title)
    );
    for t in y.ticks() {
        let py = T + ph * (1.0 - y.frac(t));
        let _ = write!(
            out,
            r##"<line x1="{L}" x2="{x2}" y1="{py:.1}" y2="{py:.1}" stroke="#e5e5e5"/><text x="{tx}" y="{ty:.1}" text-anchor="end" class="tick">{n}</text>"##,
            x2 = L + pw,
            tx = L - 6.0,
            ty = py + 4.0,
            n = num(t)
        );
    }
    let _ = write!(
        out,
        r##"<text transform="translate(16 {cy}) rotate(-90)" text-anchor="middle" class="axis">{yl}</text><line x1="{L}" x2="{L}" y1="{T}" y2="{yb}" stroke="#888"/><line x1="{L}" x2="{xr}" y1="{yb}" y2="{yb}" stroke="#888"/>"##,
        cy = T + ph / 2.0,
        yl = esc(y_label),
        yb = T + ph,
        xr = L + pw
    );
}

fn legend(out: &mut String, names: &[String]) {
    for (i, n) in names.iter().enumerate() {
        let y = T + 6.0 + i as f64 * 18.0;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{y}" width="12" height="12" fill="{c}"/><text x="{tx}" y="{ty}" class="tick">{n}</text>"#,
            x = W - R + 14.0,
            c = colour(n),
            tx = W - R + 32.0,
            ty = y + 10.0,
            n = esc(n)
        );
    }
}

/// Grouped bars: one group per category, one bar per series (None: no bar).
pub fn bars(
    title: &str,
    categories: &[String],
    series: &[(String, Vec<Option<f64>>)],
    y_label: &str,
    log: bool,
) -> String {
    let y = Axis::new(
        series.iter().flat_map(|(_, v)| v.iter().flatten().copied()),
        log,
        true,
    );
    let mut out = String::new();
    frame(&mut out, title, &y, y_label);
    let pw = W - L - R;
    let ph = H - T - B;
    let gw = pw / categories.len().max(1) as f64;
    let bw = (gw * 0.8 / series.len().max(1) as f64).min(40.0);
    for (ci, c) in categories.iter().enumerate() {
        let gx = L + gw * ci as f64 + (gw - bw * series.len() as f64) / 2.0;
        for (si, (name, vals)) in series.iter().enumerate() {
            let Some(v) = vals.get(ci).copied().flatten() else {
                continue;
            };
            let top = T + ph * (1.0 - y.frac(v).clamp(0.0, 1.0));
            let base = if log {
                T + ph
            } else {
                T + ph * (1.0 - y.frac(0.0f64.max(y.lo)))
            };
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{top:.1}" width="{bw:.1}" height="{h:.1}" fill="{col}"><title>{c} / {n}: {v}</title></rect>"#,
                x = gx + bw * si as f64,
                h = (base - top).max(0.5),
                col = colour(name),
                c = esc(c),
                n = esc(name),
                v = num(v)
            );
        }
        let lx = L + gw * (ci as f64 + 0.5);
        let _ = write!(
            out,
            r#"<text transform="translate({lx:.1} {ly}) rotate(-20)" text-anchor="end" class="tick">{c}</text>"#,
            ly = T + ph + 14.0,
            c = esc(c)
        );
    }
    legend(
        &mut out,
        &series.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
    );
    out.push_str("</svg>");
    out
}

/// One line of a line chart: points (x, y) and an optional label per point.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64, Option<String>)>,
}

/// Lines (optionally drawn as steps, for CDFs).
pub fn lines(
    title: &str,
    series: &[Line],
    x_label: &str,
    y_label: &str,
    log_x: bool,
    log_y: bool,
    step: bool,
) -> String {
    let x = Axis::new(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
        log_x,
        false,
    );
    let y = Axis::new(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        log_y,
        !log_y,
    );
    let mut out = String::new();
    frame(&mut out, title, &y, y_label);
    let pw = W - L - R;
    let ph = H - T - B;
    let px = |v: f64| L + pw * x.frac(v).clamp(0.0, 1.0);
    let py = |v: f64| T + ph * (1.0 - y.frac(v).clamp(0.0, 1.0));
    for t in x.ticks() {
        let _ = write!(
            out,
            r#"<text x="{tx:.1}" y="{ty}" text-anchor="middle" class="tick">{n}</text>"#,
            tx = px(t),
            ty = T + ph + 16.0,
            n = num(t)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{cx}" y="{cy}" text-anchor="middle" class="axis">{xl}</text>"#,
        cx = L + pw / 2.0,
        cy = H - 18.0,
        xl = esc(x_label)
    );
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        let mut d = String::new();
        let mut prev: Option<(f64, f64)> = None;
        for &(a, b, _) in &s.points {
            let (qx, qy) = (px(a), py(b));
            match prev {
                None => {
                    let _ = write!(d, "M{qx:.1},{qy:.1}");
                }
                Some((_, pyv)) if step => {
                    let _ = write!(d, " L{qx:.1},{pyv:.1} L{qx:.1},{qy:.1}");
                }
                Some(_) => {
                    let _ = write!(d, " L{qx:.1},{qy:.1}");
                }
            }
            prev = Some((qx, qy));
        }
        let c = colour(&s.name);
        let _ = write!(
            out,
            r#"<path d="{d}" fill="none" stroke="{c}" stroke-width="2"/>"#
        );
        if !step {
            for (a, b, label) in &s.points {
                let _ = write!(
                    out,
                    r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="3" fill="{c}"><title>{n}: {lx}, {ly}</title></circle>"#,
                    cx = px(*a),
                    cy = py(*b),
                    n = esc(&s.name),
                    lx = num(*a),
                    ly = num(*b)
                );
                if let Some(l) = label {
                    let _ = write!(
                        out,
                        r#"<text x="{tx:.1}" y="{ty:.1}" class="pt">{l}</text>"#,
                        tx = px(*a) + 4.0,
                        ty = py(*b) - 4.0,
                        l = esc(l)
                    );
                }
            }
        }
    }
    legend(
        &mut out,
        &series.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_and_charts() {
        let a = Axis::new([0.3, 42.0].into_iter(), true, false);
        assert_eq!((a.lo, a.hi), (0.1, 100.0));
        assert!((a.frac(10.0) - 2.0 / 3.0).abs() < 1e-9);
        let s = bars(
            "t",
            &["a".into()],
            &[("native".into(), vec![Some(3.0)])],
            "ms",
            false,
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>") && s.contains("<rect"));
        let l = lines(
            "t",
            &[Line {
                name: "x".into(),
                points: vec![(1.0, 0.5, None), (2.0, 1.0, None)],
            }],
            "ms",
            "fraction",
            false,
            false,
            true,
        );
        assert!(l.contains("<path"));
    }
}
