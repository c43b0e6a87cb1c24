//! Latency statistics: exact mean/stddev/min/max from the samples, percentiles
//! from an HDR histogram (3 significant digits), and hyperfine-style warnings.

use hdrhistogram::Histogram;
use std::time::Duration;

pub use lumos_model::LatencyStats;

/// Collects latencies in nanoseconds.
#[derive(Clone)]
pub struct Recorder {
    hist: Histogram<u64>,
    sum: f64,
    sum_sq: f64,
    min: u64,
    max: u64,
    samples: Vec<u64>,
    keep_samples: bool,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new(true)
    }
}

impl Recorder {
    /// `keep_samples`: also keep every sample (for outlier detection).
    pub fn new(keep_samples: bool) -> Recorder {
        Recorder {
            hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"),
            sum: 0.0,
            sum_sq: 0.0,
            min: u64::MAX,
            max: 0,
            samples: vec![],
            keep_samples,
        }
    }

    pub fn record(&mut self, d: Duration) {
        let ns = (d.as_nanos() as u64).max(1);
        self.hist.saturating_record(ns);
        self.sum += ns as f64;
        self.sum_sq += (ns as f64) * (ns as f64);
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
        if self.keep_samples {
            self.samples.push(ns);
        }
    }

    pub fn merge(&mut self, o: &Recorder) {
        let _ = self.hist.add(&o.hist);
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        if self.keep_samples {
            self.samples.extend_from_slice(&o.samples);
        }
    }

    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    pub fn stats(&self) -> LatencyStats {
        let n = self.hist.len();
        if n == 0 {
            return LatencyStats::default();
        }
        let ms = |ns: f64| ns / 1e6;
        let mean = self.sum / n as f64;
        let var = if n > 1 {
            ((self.sum_sq - self.sum * mean) / (n - 1) as f64).max(0.0)
        } else {
            0.0
        };
        LatencyStats {
            n,
            mean: ms(mean),
            stddev: ms(var.sqrt()),
            min: ms(self.min as f64),
            p50: ms(self.hist.value_at_quantile(0.50) as f64),
            p90: ms(self.hist.value_at_quantile(0.90) as f64),
            p99: ms(self.hist.value_at_quantile(0.99) as f64),
            max: ms(self.max as f64),
            // Intervals are the folding's (lumos-bench, lumos-stats).
            p50_ci95: None,
            mean_ci95: None,
        }
    }

    /// hyperfine's warnings: statistical outliers by modified Z-score
    /// (|x - median| / (1.4826 * MAD) > 14.826).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = vec![];
        if self.samples.len() < 3 {
            return w;
        }
        let s: Vec<f64> = self.samples.iter().map(|&x| x as f64).collect();
        let median = lumos_stats::median(&lumos_stats::sorted(&s)).unwrap_or(0.0);
        let dev: Vec<f64> = s.iter().map(|x| (x - median).abs()).collect();
        let mad = lumos_stats::median(&lumos_stats::sorted(&dev)).unwrap_or(0.0);
        if mad > 0.0 {
            let outliers = self
                .samples
                .iter()
                .filter(|&&x| (x as f64 - median).abs() / (1.4826 * mad) > 14.826)
                .count();
            if outliers > 0 {
                w.push(format!(
                    "Statistical outliers were detected ({outliers} of {} samples). Consider re-running this \
                     benchmark on a quiet system without any interferences from other programs.",
                    self.samples.len()
                ));
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_outliers() {
        let mut r = Recorder::new(true);
        for i in 1..=100u64 {
            r.record(Duration::from_micros(1000 + i));
        }
        let s = r.stats();
        assert_eq!(s.n, 100);
        assert!((s.mean - 1.0505).abs() < 1e-6, "{s:?}");
        assert!((s.min - 1.001).abs() < 1e-9);
        assert!((s.max - 1.1).abs() < 1e-9);
        assert!((s.p50 - 1.05).abs() < 0.002, "{s:?}");
        assert!(r.warnings().is_empty());
        r.record(Duration::from_millis(500));
        assert_eq!(r.warnings().len(), 1);
    }
}
