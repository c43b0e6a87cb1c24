//! The report's charts, drawn with plotters' SVG backend into inline SVG.
//!
//! plotters (SVG backend only, no font or bitmap features: a handful of small
//! crates) does the coordinate mapping, the linear and log axes, their ticks
//! and the SVG output; this module only lays out grouped bars and lines,
//! the legend, and the placeholders for cells without figures. Text is sized
//! by plotters' estimate, so no font is read or embedded.
//!
//! Why plotters rather than the hand-written SVG module this replaces:
//! measured from a cold target dir, plotters with `svg_backend` and
//! `line_series` only is plotters, plotters-svg, plotters-backend and
//! num-traits, about 14 s of compile time together on this shared 2-core
//! machine (the whole crate's new dependencies, comfy-table, csv and maud
//! included, about 60 s, against about 400 s for everything it builds),
//! so there was no build-time reason to keep a chart module of our own.

mod bars;
mod lines;

pub use bars::{BarSeries, Bars, Cell};
pub use lines::{Line, Lines, Point};

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::format::fmt_axis;
use crate::series::Series;
use crate::shown::Shown;

/// Width and height of every chart (px; the page scales them down).
pub(crate) const W: u32 = 720;
pub(crate) const H: u32 = 320;
/// Width of the legend at the right.
const LEGEND_W: u32 = 170;
pub(crate) const FONT: &str = "sans-serif";

/// A chart that plotters could not draw.
#[derive(Debug, thiserror::Error)]
#[error("chart `{title}` could not be drawn")]
pub struct ChartError {
    pub title: String,
    #[source]
    pub source: DrawingAreaErrorKind<std::io::Error>,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Colour of the "failed" marker.
pub(crate) const FAILED: RGBColor = RGBColor(0xbb, 0x00, 0x00);
/// Colour of the "n/a" marker.
pub(crate) const UNAVAILABLE: RGBColor = RGBColor(0x77, 0x77, 0x77);

fn marker_colour(s: Shown) -> RGBColor {
    if s == Shown::Failed {
        FAILED
    } else {
        UNAVAILABLE
    }
}

/// A value axis: its bounds and ticks (plotters draws it; the ticks are
/// chosen here so that a short log axis still has labels).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
}

impl Axis {
    /// The axis over `values`: whole decades on a log axis, a nice step on
    /// a linear one (from 0 when `zero`).
    pub fn new(values: impl Iterator<Item = f64>, log: bool, zero: bool) -> Axis {
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
            lo = decade(lo.log10().floor());
            hi = decade(hi.log10().ceil());
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

    /// Labelled ticks: decades (with 2 and 5 between them when there are
    /// at most two), or about five nice steps.
    pub fn ticks(&self) -> Vec<f64> {
        let mut t = vec![];
        if self.log {
            let few = self.hi / self.lo <= 100.0 * (1.0 + 1e-9);
            let (a, b) = (
                self.lo.log10().round() as i32,
                self.hi.log10().round() as i32,
            );
            for e in a..=b {
                let x = decade(f64::from(e));
                t.push(x);
                if few && e < b {
                    t.extend([2.0 * x, 5.0 * x]);
                }
            }
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let n = ((self.hi - self.lo) / step).round() as i32;
            t.extend((0..=n).map(|i| self.lo + step * f64::from(i)));
        }
        t
    }

    /// Unlabelled grid lines: 2..9 of each decade on a log axis.
    pub fn minor(&self) -> Vec<f64> {
        if !self.log {
            return vec![];
        }
        let (a, b) = (
            self.lo.log10().round() as i32,
            self.hi.log10().round() as i32,
        );
        (a..b)
            .flat_map(|e| (2..10).map(move |k| f64::from(k) * decade(f64::from(e))))
            .collect()
    }
}

/// A linear axis with the ticks of an [`Axis`]. plotters' own linear
/// coordinate draws ten light lines per tick and, once given key points,
/// loses its number formatting; this one has neither problem.
#[derive(Clone)]
pub(crate) struct Linear {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Linear {
    pub fn new(a: &Axis) -> Linear {
        Linear {
            inner: (a.lo..a.hi).into(),
            ticks: a.ticks(),
        }
    }
}

impl Ranged for Linear {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            vec![]
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// 10^e, exact for whole e (powf is not: 10^-2 is 0.010000000000000002).
fn decade(e: f64) -> f64 {
    if e >= 0.0 {
        10f64.powi(e as i32)
    } else {
        1.0 / 10f64.powi(-e as i32)
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

/// One entry of a legend: the series and, when it has no figure anywhere in
/// the chart, how it is marked.
pub(crate) struct LegendEntry {
    pub series: Series,
    pub marked: Option<Shown>,
}

/// Splits the root into the plot and the legend, fills the background.
fn layout<'a>(
    root: &Area<'a>,
) -> Result<(Area<'a>, Area<'a>), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    Ok(root.split_horizontally(W - LEGEND_W))
}

/// Draws the legend: a filled swatch per series, an outlined one with its
/// marker for a series drawn only as placeholders.
fn legend(area: &Area, entries: &[LegendEntry]) -> DrawResult {
    for (i, e) in entries.iter().enumerate() {
        let y = 40 + i as i32 * 18;
        let colour = e.series.colour();
        match e.marked {
            None => area.draw(&Rectangle::new([(12, y), (24, y + 12)], colour.filled()))?,
            Some(_) => area.draw(&Rectangle::new(
                [(12, y), (24, y + 12)],
                colour.stroke_width(1),
            ))?,
        }
        let label = match e.marked.and_then(Shown::marker) {
            Some(m) => format!("{} ({m})", e.series.name()),
            None => e.series.name().to_string(),
        };
        let style = (FONT, 13).into_font().color(&match e.marked {
            Some(s) => marker_colour(s),
            None => BLACK,
        });
        area.draw(&Text::new(label, (30, y + 1), style))?;
    }
    Ok(())
}

/// Formats an axis tick.
fn tick(v: &f64) -> String {
    fmt_axis(*v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes() {
        let a = Axis::new([0.3, 42.0].into_iter(), true, false);
        assert_eq!((a.lo, a.hi), (0.1, 100.0));
        assert_eq!(a.ticks(), [0.1, 1.0, 10.0, 100.0]);
        assert_eq!(a.minor().len(), 3 * 8);
        let short = Axis::new([0.02, 0.09].into_iter(), true, false);
        assert_eq!(short.ticks(), [0.01, 0.02, 0.05, 0.1]);
        let l = Axis::new([3.0, 7.0].into_iter(), false, true);
        assert_eq!((l.lo, l.hi), (0.0, 8.0));
        assert_eq!(l.ticks(), [0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(Axis::new(std::iter::empty(), true, false).hi, 1.0);
    }
}
