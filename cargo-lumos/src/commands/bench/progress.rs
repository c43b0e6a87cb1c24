//! The bench's events on stderr: a bar with an ETA on a terminal, one line
//! per finished cell otherwise (CI logs, pipes); build and preparation steps
//! as lines.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lumos_bench::Event;
use lumos_model::RunRow;
use lumos_report::format::fmt_ms;

use crate::cli::MessageFormat;

/// Shows a bench's events.
#[derive(Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
}

impl Progress {
    fn line(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Shows one event.
    pub fn show(&mut self, e: &Event) {
        match e {
            Event::Build(b) => crate::commands::build::show(b, MessageFormat::Human),
            Event::Building { functions } => {
                eprintln!("bench: building {functions} function(s)")
            }
            Event::Packed { images, elapsed } => eprintln!(
                "bench: packed {images} images in {:.2}s",
                elapsed.as_secs_f64()
            ),
            Event::Registry { addr, pid } => {
                eprintln!("bench: throwaway registry on {addr} (pid {pid})")
            }
            Event::Pushed {
                images,
                registry,
                elapsed,
            } => eprintln!(
                "bench: pushed {images} images to {registry} in {:.2}s",
                elapsed.as_secs_f64()
            ),
            Event::Unavailable { runtime, why } => {
                eprintln!("bench: {runtime} is unavailable: {why}")
            }
            Event::Skipped {
                function,
                runtime,
                why,
            } => eprintln!("bench: skipping {function} on {runtime}: {why}"),
            Event::NoPayloads { function } => eprintln!(
                "warning: {function} has no payloads (metadata `payloads`): it gets an empty request"
            ),
            Event::Planned { steps, .. } => {
                self.total = *steps;
                self.bar = std::io::stderr().is_terminal().then(|| {
                    let b =
                        ProgressBar::with_draw_target(Some(*steps), ProgressDrawTarget::stderr());
                    b.set_style(
                        ProgressStyle::with_template(
                            "{elapsed_precise} [{bar:30}] {pos}/{len} ETA {eta} {msg}",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    b.enable_steady_tick(Duration::from_millis(250));
                    b
                });
            }
            Event::CellStarted { cell } => {
                if let Some(b) = &self.bar {
                    b.set_message(cell.to_string());
                }
            }
            Event::Step { n } => {
                self.done += n;
                if let Some(b) = &self.bar {
                    b.inc(*n);
                }
            }
            Event::CellFinished { cell, row } => {
                let line = format!("[{}/{}] {}", self.done, self.total, summary(&cell.to_string(), row));
                self.line(&line);
            }
            Event::Finished { rows, elapsed } => {
                self.finish();
                eprintln!("bench: {rows} rows in {:.1}s", elapsed.as_secs_f64());
            }
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// One line about a finished cell.
fn summary(label: &str, r: &RunRow) -> String {
    let mut s = format!("{label}: {}", r.status);
    if r.status.has_figures() {
        if let Some(c) = r.cold_start_ms {
            s += &format!(", cold {} ms", fmt_ms(c.total));
        }
        if let Some(l) = r.latency_ms.filter(|l| l.n > 0) {
            s += &format!(", p50 {} ms", fmt_ms(l.p50));
        }
    }
    if let Some(n) = r.neighbour.as_ref().filter(|n| n.error.is_none()) {
        s += &format!(", neighbour {:.1} req/s ({} ok)", n.achieved_rps, n.ok);
    }
    if r.errors > 0 {
        s += &format!(", {} error(s)", r.errors);
        if let Some(e) = r.error_samples.first().or(r.error.as_ref()) {
            s += &format!(" ({})", e.lines().next().unwrap_or(""));
        }
    }
    s
}
