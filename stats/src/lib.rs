//! The statistics of Lumos results, in one place: percentiles and 95%
//! confidence intervals of a median, of a mean and of a ratio of two
//! (a runtime's figure over native's).
//!
//! Intervals are `[lo, hi]` (`[f64; 2]`, as the JSON schema writes them).
//! Every function returns `None` when the interval does not exist for the
//! data given (too few samples, a denominator not clearly above zero) rather
//! than a made-up one: a reader sees no interval, never a wrong one.
//!
//! The distributions' quantiles come from `statrs` (Student's t, binomial);
//! what is written here is only the textbook formula around them.

pub mod sampling;

use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal, StudentsT};

/// A closed interval `[lo, hi]`.
pub type Interval = [f64; 2];

/// The confidence level of every interval here.
pub const LEVEL: f64 = 0.95;

/// The `q`-quantile (0..=1) of `sorted` (ascending) by linear interpolation
/// between the closest ranks (Hyndman & Fan type 7, numpy's and R's
/// default). None when `sorted` is empty or `q` is outside 0..=1.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let (i, frac) = (h.floor() as usize, h - h.floor());
    let lo = sorted[i];
    let hi = sorted.get(i + 1).copied().unwrap_or(lo);
    Some(lo + (hi - lo) * frac)
}

/// The median of `sorted` (ascending): the middle value, or the mean of the
/// two middle ones.
pub fn median(sorted: &[f64]) -> Option<f64> {
    percentile(sorted, 0.5)
}

/// `samples` sorted ascending (NaNs last), for the functions that take
/// sorted data.
pub fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// The distribution-free 95% confidence interval of the median of `sorted`
/// (ascending): the order statistics `[x(r), x(n-r+1)]` (1-based) with the
/// largest `r` whose coverage `1 - 2·P(B <= r-1)`, B ~ Binomial(n, 1/2), is
/// still at least 95%. It assumes nothing about the latencies' distribution
/// (they are skewed and often multi-modal), only independent samples.
/// None below 6 samples: no pair of order statistics covers 95% then (at
/// n = 5, [min, max] covers 93.75%).
pub fn median_ci95(sorted: &[f64]) -> Option<Interval> {
    let n = sorted.len() as u64;
    let b = Binomial::new(0.5, n).ok()?;
    let alpha_half = (1.0 - LEVEL) / 2.0;
    // P(B <= r-1) <= alpha/2 must hold for r = 1 (i.e. P(B = 0) = 2^-n).
    if n == 0 || b.cdf(0) > alpha_half {
        return None;
    }
    // The largest k = r-1 in [0, n/2) with cdf(k) <= alpha/2, by bisection
    // (cdf is increasing): lo holds, hi does not.
    let (mut lo, mut hi) = (0u64, n / 2 + 1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if b.cdf(mid) <= alpha_half {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let r = lo as usize + 1;
    Some([sorted[r - 1], sorted[sorted.len() - r]])
}

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom
/// (t such that P(|T| <= t) = 0.95). None for df < 1.
/// statrs' inverse (through the inverse regularised beta) loses digits as
/// df grows (1e-4 off at df = 10^6, where latencies of a long run get to);
/// above 10^4 the Cornish-Fisher expansion around the normal quantile is
/// used instead (its next term is below 10^-12 there).
pub fn t95(df: f64) -> Option<f64> {
    let p = 1.0 - (1.0 - LEVEL) / 2.0;
    if df >= 1e4 {
        let z = Normal::standard().inverse_cdf(p);
        let (z3, z5) = (z.powi(3), z.powi(5));
        return Some(
            z + (z3 + z) / (4.0 * df) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df),
        );
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.inverse_cdf(p))
}

/// The 95% confidence interval of a mean from its summary: `mean ± t(n-1) ·
/// stddev / √n` (Student's t; `stddev` is the sample standard deviation,
/// n-1 in its denominator). None below 2 samples.
pub fn mean_ci95_of(mean: f64, stddev: f64, n: u64) -> Option<Interval> {
    if n < 2 || !mean.is_finite() || !stddev.is_finite() {
        return None;
    }
    let half = t95((n - 1) as f64)? * stddev / (n as f64).sqrt();
    Some([mean - half, mean + half])
}

/// The mean, the sample standard deviation and n of `samples`.
pub fn summary(samples: &[f64]) -> (f64, f64, u64) {
    let n = samples.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, 0);
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    (mean, var.sqrt(), n as u64)
}

/// The 95% confidence interval (Student's t) of the mean of `samples`.
pub fn mean_ci95(samples: &[f64]) -> Option<Interval> {
    let (mean, sd, n) = summary(samples);
    mean_ci95_of(mean, sd, n)
}

/// One side of a ratio of means: its mean, sample standard deviation and n.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanOf {
    pub mean: f64,
    pub stddev: f64,
    pub n: u64,
}

/// The 95% confidence interval of `a.mean / b.mean` for two independent
/// samples, by Fieller's theorem: the set of ratios R for which
/// `a.mean - R·b.mean` is not significantly different from 0 at 5%.
///
/// Why Fieller and not a bootstrap: a row of the results keeps its summary
/// (mean, stddev, n), not its samples, so a ratio can be bounded from two
/// rows as written, by the report, on any machine, with no random numbers.
/// Fieller is exact for normal means and, unlike the delta method, stays
/// right when the denominator's error is not small against it. The t
/// quantile uses the smaller side's degrees of freedom (conservative).
/// None when the interval is unbounded: the denominator's mean is not
/// significantly above 0 (g >= 1), or either side has < 2 samples.
pub fn ratio_of_means_ci95(a: MeanOf, b: MeanOf) -> Option<Interval> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let t = t95((a.n.min(b.n) - 1) as f64)?;
    let t2 = t * t;
    let va = a.stddev.powi(2) / a.n as f64;
    let vb = b.stddev.powi(2) / b.n as f64;
    // (ma - R mb)^2 = t^2 (va + R^2 vb): a quadratic in R.
    let qa = b.mean * b.mean - t2 * vb;
    if qa <= 0.0 || b.mean <= 0.0 {
        return None;
    }
    let qb = a.mean * b.mean;
    let qc = a.mean * a.mean - t2 * va;
    let disc = qb * qb - qa * qc;
    if disc < 0.0 {
        return None;
    }
    let root = disc.sqrt();
    Some([(qb - root) / qa, (qb + root) / qa])
}

/// The 95% confidence interval of the ratio of two medians `a / b` from each
/// one's own 95% interval (as a row of results keeps them), two independent
/// samples: each median taken as log-normal, its standard error on the log
/// scale `(ln hi - ln lo) / (2 · 1.96)`, the ratio's
/// `exp(ln(a/b) ± 1.96 · √(se_a² + se_b²))`.
///
/// Why this approximation: the samples are not kept in the results, so a
/// bootstrap of the ratio of medians cannot be run from them; the order-
/// statistic intervals are asymmetric, which the log scale respects, and the
/// combined interval is narrower than the naive `[a_lo/b_hi, a_hi/b_lo]`
/// (which covers more than 95%). None when a bound is not positive.
pub fn ratio_of_medians_ci95(a: f64, a_ci: Interval, b: f64, b_ci: Interval) -> Option<Interval> {
    if [a, b, a_ci[0], a_ci[1], b_ci[0], b_ci[1]]
        .iter()
        .any(|x| !(x.is_finite() && *x > 0.0))
    {
        return None;
    }
    let z = 1.959_963_984_540_054;
    let se = |ci: Interval| (ci[1].ln() - ci[0].ln()) / (2.0 * z);
    let half = z * (se(a_ci).powi(2) + se(b_ci).powi(2)).sqrt();
    let r = (a / b).ln();
    Some([(r - half).exp(), (r + half).exp()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// A fixed-seed generator (SplitMix64) for repeatable simulated samples.
    struct Rng(u64);
    impl Rng {
        fn next_f64(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Exponential(1): skewed like latencies.
        fn exp(&mut self) -> f64 {
            -(1.0 - self.next_f64()).ln()
        }
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], [0, 25, 50, 90, 100])
        // = [1.0, 1.75, 2.5, 3.7, 4.0]
        let s = [1.0, 2.0, 3.0, 4.0];
        for (q, want) in [(0.0, 1.0), (0.25, 1.75), (0.5, 2.5), (0.9, 3.7), (1.0, 4.0)] {
            assert!(close(percentile(&s, q).unwrap(), want, 1e-12), "q={q}");
        }
        assert_eq!(median(&sorted(&[5.0, 1.0, 3.0])), Some(3.0));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&s, 1.5), None);
    }

    #[test]
    fn t_quantiles_match_tables() {
        // scipy.stats.t.ppf(0.975, df) up to df 1000; beyond, the
        // Cornish-Fisher series to one term more than t95 sums (statrs
        // itself agrees at 10^4 to 1e-12).
        for (df, want) in [
            (1.0, 12.706_204_736_174_698),
            (4.0, 2.776_445_105_197_799),
            (9.0, 2.262_157_162_798_205),
            (29.0, 2.045_229_642_132_703),
            (1000.0, 1.962_339_080_826_407_8),
            (9_999.0, 1.960_201_263_621_357),
            (1e4, 1.960_201_239_890_625),
            (1e6, 1.959_966_356_814_106),
        ] {
            let t = t95(df).unwrap();
            assert!(close(t, want, 1e-9), "df={df}: {t} vs {want}");
        }
        assert_eq!(t95(0.0), None);
    }

    #[test]
    fn mean_interval_matches_reference() {
        // 1..=10: mean 5.5, sd 3.0276503540974917 (statistics.stdev);
        // half = 2.262157162798205 * sd / sqrt(10) = 2.1658506...
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let [lo, hi] = mean_ci95(&x).unwrap();
        assert!(close(lo, 3.334_149_3, 1e-6), "{lo}");
        assert!(close(hi, 7.665_850_7, 1e-6), "{hi}");
        assert_eq!(mean_ci95(&[1.0]), None);
        // A constant sample: a zero-width interval at the value.
        assert_eq!(mean_ci95(&[2.0; 5]), Some([2.0, 2.0]));
    }

    #[test]
    fn median_interval_uses_the_tabled_order_statistics() {
        // Tables of distribution-free median intervals (e.g. Conover,
        // Practical Nonparametric Statistics): n=6 -> (1,6), n=10 -> (2,9),
        // n=20 -> (6,15), n=100 -> (40,61), 1-based ranks.
        for (n, r_lo, r_hi) in [(6, 1, 6), (10, 2, 9), (20, 6, 15), (100, 40, 61)] {
            let x: Vec<f64> = (1..=n).map(f64::from).collect();
            assert_eq!(median_ci95(&x), Some([r_lo as f64, r_hi as f64]), "n={n}");
        }
        // Below 6 samples no interval covers 95%.
        assert_eq!(median_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]), None);
        assert_eq!(median_ci95(&[]), None);
        // Many samples: it stays narrow around the median and is quick.
        let x: Vec<f64> = (0..200_000).map(f64::from).collect();
        let [lo, hi] = median_ci95(&x).unwrap();
        assert!(
            lo < 100_000.0 && hi > 100_000.0 && hi - lo < 1_000.0,
            "{lo} {hi}"
        );
    }

    #[test]
    fn a_known_delay_lies_in_its_median_interval() {
        // 2 ms of work plus symmetric jitter (the median is the delay) and
        // a few long outliers, as a busy machine gives.
        let delay = 2.0;
        let mut rng = Rng(7);
        let mut x: Vec<f64> = (0..50)
            .map(|_| delay + (rng.next_f64() - 0.5) * 0.2)
            .collect();
        x.extend([40.0, 60.0]);
        let [lo, hi] = median_ci95(&sorted(&x)).unwrap();
        assert!(lo <= delay && delay <= hi, "[{lo}, {hi}] misses {delay}");
        assert!(hi - lo < 0.1, "[{lo}, {hi}] is too wide to say anything");
        // Two outliers make the mean's interval many times wider: why the
        // report leads with the median.
        let [mlo, mhi] = mean_ci95(&x).unwrap();
        assert!(mhi - mlo > 20.0 * (hi - lo), "[{mlo}, {mhi}]");
    }

    #[test]
    fn intervals_cover_about_95_percent() {
        // 2000 simulated samples of 30 from Exponential(1) (median ln 2,
        // mean 1), fixed seed: the median interval covers at least 95%
        // (it is conservative by construction), the t interval of a skewed
        // mean a little under.
        let mut rng = Rng(42);
        let (mut med_hits, mut mean_hits, trials) = (0, 0, 2000);
        for _ in 0..trials {
            let x: Vec<f64> = (0..30).map(|_| rng.exp()).collect();
            let [lo, hi] = median_ci95(&sorted(&x)).unwrap();
            med_hits += usize::from(lo <= std::f64::consts::LN_2 && std::f64::consts::LN_2 <= hi);
            let [lo, hi] = mean_ci95(&x).unwrap();
            mean_hits += usize::from(lo <= 1.0 && 1.0 <= hi);
        }
        let med = med_hits as f64 / trials as f64;
        let mean = mean_hits as f64 / trials as f64;
        assert!((0.94..=0.99).contains(&med), "median coverage {med}");
        assert!((0.88..=0.97).contains(&mean), "mean coverage {mean}");
    }

    #[test]
    fn fieller_interval_of_a_ratio_of_means() {
        // a: mean 10, sd 1, n 10; b: mean 5, sd 0.5, n 10; t = t(9).
        // Solving (10 - 5R)^2 = t^2 (0.1 + 0.025 R^2) by hand:
        let a = MeanOf {
            mean: 10.0,
            stddev: 1.0,
            n: 10,
        };
        let b = MeanOf {
            mean: 5.0,
            stddev: 0.5,
            n: 10,
        };
        let [lo, hi] = ratio_of_means_ci95(a, b).unwrap();
        let t2 = 2.262_157_162_798_205f64.powi(2);
        for r in [lo, hi] {
            let lhs = (10.0 - 5.0 * r).powi(2);
            let rhs = t2 * (0.1 + 0.025 * r * r);
            assert!(close(lhs, rhs, 1e-9), "R={r}: {lhs} vs {rhs}");
        }
        assert!(lo < 2.0 && 2.0 < hi, "[{lo}, {hi}]");
        // A denominator indistinguishable from 0: no bounded interval.
        let b0 = MeanOf {
            mean: 0.1,
            stddev: 1.0,
            n: 10,
        };
        assert_eq!(ratio_of_means_ci95(a, b0), None);
    }

    #[test]
    fn ratio_of_medians_combines_both_intervals() {
        // Equal relative errors on both sides: the ratio's log half-width
        // is √2 times each side's.
        let a_ci = [10.0 / 1.1, 10.0 * 1.1];
        let b_ci = [5.0 / 1.1, 5.0 * 1.1];
        let [lo, hi] = ratio_of_medians_ci95(10.0, a_ci, 5.0, b_ci).unwrap();
        let half = 2f64.sqrt() * 1.1f64.ln();
        assert!(close(lo, 2.0 * (-half).exp(), 1e-12), "{lo}");
        assert!(close(hi, 2.0 * half.exp(), 1e-12), "{hi}");
        // Narrower than the naive bounds, wider than either side alone.
        assert!(lo > a_ci[0] / b_ci[1] && hi < a_ci[1] / b_ci[0]);
        assert!(lo < 2.0 / 1.1 && hi > 2.0 * 1.1);
        assert_eq!(
            ratio_of_medians_ci95(1.0, [0.0, 2.0], 1.0, [0.5, 2.0]),
            None
        );
    }
}
