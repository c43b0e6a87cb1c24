//! Grouped bars: one group per category, one bar per series.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    layout, legend, marker_colour, tick, Area, Axis, ChartError, DrawResult, LegendEntry, Linear,
    FONT, H, W,
};
use crate::series::Series;
use crate::shown::{Figures, Shown};

/// One cell of a bar chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// No row (nothing drawn).
    Empty,
    /// A figure (a bar).
    Value(f64),
    /// A row without figures: a placeholder marked `failed` or `n/a`.
    Marked(Shown),
}

impl Cell {
    /// The cell for `row`: its figure `f`, its marker when it has no
    /// figures, or empty when there is no row or no such figure.
    pub fn of(row: Option<&lumos_model::RunRow>, f: impl Fn(Figures) -> Option<f64>) -> Cell {
        let Some(r) = row else {
            return Cell::Empty;
        };
        match Figures::of(r) {
            Some(fig) => f(fig).map_or(Cell::Empty, Cell::Value),
            None => Cell::Marked(Shown::of(r)),
        }
    }

    fn value(self) -> Option<f64> {
        match self {
            Cell::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// One series: a cell per category.
#[derive(Debug, Clone)]
pub struct BarSeries {
    pub series: Series,
    pub cells: Vec<Cell>,
}

/// A grouped bar chart.
#[derive(Debug, Clone)]
pub struct Bars {
    pub title: String,
    pub categories: Vec<String>,
    pub series: Vec<BarSeries>,
    pub y_label: String,
    pub log: bool,
}

impl Bars {
    /// Whether there is anything to draw.
    pub fn is_empty(&self) -> bool {
        self.series
            .iter()
            .all(|s| s.cells.iter().all(|c| *c == Cell::Empty))
    }

    /// The chart as an `<svg>` element.
    pub fn svg(&self) -> Result<String, ChartError> {
        let values = self
            .series
            .iter()
            .flat_map(|s| s.cells.iter().filter_map(|c| c.value()));
        let y = Axis::new(values, self.log, true);
        let (lo, hi) = (y.lo, y.hi);
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
            let r = if self.log {
                let spec = (lo..hi).log_scale().with_key_points(y.ticks());
                self.draw(&root, spec.with_light_points(y.minor()), lo)
            } else {
                self.draw(&root, Linear::new(&y), lo.max(0.0))
            };
            r.and_then(|()| root.present())
                .map_err(|source| ChartError {
                    title: self.title.clone(),
                    source,
                })?;
        }
        Ok(out)
    }

    fn draw<Y>(&self, root: &Area, y: Y, base: f64) -> DrawResult
    where
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let (plot, legend_area) = layout(root)?;
        let n = self.categories.len().max(1);
        let mut chart = ChartBuilder::on(&plot)
            .caption(&self.title, (FONT, 16))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n as f64, y)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(self.y_label.as_str())
            .y_label_formatter(&tick)
            .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
            .draw()?;

        let ns = self.series.len().max(1) as f64;
        // Bars take 80% of a category, at most 40 px each.
        let (px0, _) = chart.backend_coord(&(0.0, base));
        let (px1, _) = chart.backend_coord(&(1.0, base));
        let unit = f64::from((px1 - px0).max(1));
        let bw = (0.8 / ns).min(40.0 / unit);
        let mut marks = vec![];
        for (si, s) in self.series.iter().enumerate() {
            let colour = s.series.colour();
            for (ci, cell) in s.cells.iter().enumerate() {
                let x0 = ci as f64 + (1.0 - bw * ns) / 2.0 + bw * si as f64;
                match *cell {
                    Cell::Empty => {}
                    Cell::Value(v) => {
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(x0, base), (x0 + bw, v.max(base))],
                            colour.filled(),
                        )))?;
                    }
                    Cell::Marked(m) => marks.push((x0, colour, m)),
                }
            }
        }
        // Placeholders: an outlined slot with its marker written upwards,
        // drawn in pixels so they look the same on linear and log axes.
        for (x0, colour, m) in marks {
            let (l, b) = chart.backend_coord(&(x0, base));
            let (r, _) = chart.backend_coord(&(x0 + bw, base));
            let top = b - 64;
            root.draw(&Rectangle::new(
                [(l, top), (r.max(l + 2), b)],
                colour.stroke_width(1),
            ))?;
            let style = (FONT, 12)
                .into_font()
                .transform(FontTransform::Rotate270)
                .color(&marker_colour(m))
                .pos(Pos::new(HPos::Left, VPos::Center));
            let label = m.marker().unwrap_or_default();
            root.draw(&Text::new(label, ((l + r) / 2, b - 4), style))?;
        }
        // Category names under their group, staggered when they would overlap.
        let longest = self
            .categories
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0);
        let stagger = (longest as f64) * 7.0 > unit;
        for (ci, c) in self.categories.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(ci as f64 + 0.5, base));
            let dy = if stagger && ci % 2 == 1 { 20 } else { 6 };
            let style = (FONT, 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(c.as_str(), (x, y + dy), style))?;
        }
        let entries: Vec<LegendEntry> = self
            .series
            .iter()
            .map(|s| LegendEntry {
                series: s.series,
                marked: if s.cells.iter().any(|c| c.value().is_some()) {
                    None
                } else {
                    s.cells.iter().find_map(|c| match c {
                        Cell::Marked(m) => Some(*m),
                        _ => None,
                    })
                },
            })
            .collect();
        legend(&legend_area, &entries)
    }
}
