//! Lines: CDFs (drawn as steps) and throughput against latency (points
//! joined, each labelled).

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::{
    layout, legend, tick, Area, Axis, ChartError, DrawResult, LegendEntry, Linear, FONT, H, W,
};
use crate::series::Series;
use crate::shown::Shown;

/// One point, with an optional label drawn beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub label: Option<String>,
}

/// One line: its points, or the marker of a row without figures (then no
/// line is drawn, and the legend says `failed` or `n/a`).
#[derive(Debug, Clone)]
pub struct Line {
    pub series: Series,
    pub points: Vec<Point>,
    pub marked: Option<Shown>,
}

/// A line chart.
#[derive(Debug, Clone)]
pub struct Lines {
    pub title: String,
    pub lines: Vec<Line>,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// Steps (a CDF) rather than straight segments between labelled points.
    pub step: bool,
}

impl Lines {
    /// The chart as an `<svg>` element.
    pub fn svg(&self) -> Result<String, ChartError> {
        let xs = || self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.x));
        let ys = || self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.y));
        let x = Axis::new(xs(), self.log_x, !self.log_x);
        let y = Axis::new(ys(), self.log_y, !self.log_y);
        let lin = Linear::new;
        let log = |a: &Axis| {
            (a.lo..a.hi)
                .log_scale()
                .with_key_points(a.ticks())
                .with_light_points(a.minor())
        };
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
            let r = match (self.log_x, self.log_y) {
                (true, true) => self.draw(&root, log(&x), log(&y)),
                (true, false) => self.draw(&root, log(&x), lin(&y)),
                (false, true) => self.draw(&root, lin(&x), log(&y)),
                (false, false) => self.draw(&root, lin(&x), lin(&y)),
            };
            r.and_then(|()| root.present())
                .map_err(|source| ChartError {
                    title: self.title.clone(),
                    source,
                })?;
        }
        Ok(out)
    }

    fn draw<X, Y>(&self, root: &Area, x: X, y: Y) -> DrawResult
    where
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let (plot, legend_area) = layout(root)?;
        let mut chart = ChartBuilder::on(&plot)
            .caption(&self.title, (FONT, 16))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
            .draw()?;
        for l in self.lines.iter().filter(|l| l.marked.is_none()) {
            let colour = l.series.colour();
            let mut path: Vec<(f64, f64)> = vec![];
            for p in &l.points {
                if self.step {
                    if let Some(&(_, py)) = path.last() {
                        path.push((p.x, py));
                    }
                }
                path.push((p.x, p.y));
            }
            chart.draw_series(LineSeries::new(path, colour.stroke_width(2)))?;
            if !self.step {
                for p in &l.points {
                    chart.draw_series(std::iter::once(Circle::new(
                        (p.x, p.y),
                        3,
                        colour.filled(),
                    )))?;
                    if let Some(label) = &p.label {
                        let (px, py) = chart.backend_coord(&(p.x, p.y));
                        root.draw(&Text::new(
                            label.as_str(),
                            (px + 4, py - 14),
                            (FONT, 11).into_font().color(&RGBColor(0x55, 0x55, 0x55)),
                        ))?;
                    }
                }
            }
        }
        let entries: Vec<LegendEntry> = self
            .lines
            .iter()
            .map(|l| LegendEntry {
                series: l.series,
                marked: l.marked,
            })
            .collect();
        legend(&legend_area, &entries)
    }
}
