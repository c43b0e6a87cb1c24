//! The figures results are made of, in milliseconds unless named otherwise.

use std::collections::BTreeMap;

use crate::LoadMode;

/// Latency statistics: n, mean, stddev, min, p50, p90, p99, max (ms), and
/// the 95% confidence intervals of the median and of the mean where they
/// were computed (warm rows; see lumos-stats for how).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencyStats {
    pub n: u64,
    pub mean: f64,
    pub stddev: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    /// 95% confidence interval `[lo, hi]` of the median (distribution-free,
    /// order statistics). Absent below 6 samples, where no pair of order
    /// statistics covers 95%, and on rows that do not compute it (cold, load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ci95: Option<[f64; 2]>,
    /// 95% confidence interval `[lo, hi]` of the mean (Student's t). Absent
    /// below 2 samples and on rows that do not compute it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ci95: Option<[f64; 2]>,
}

/// Cold start by phase, taken on one monotonic clock with the phases back
/// to back: `pull` (registry or layout to the cache), `unpack` (to a rootfs),
/// `start` (until the instance process had exec'd), `ready` (until `HELLO` or
/// the open port), `first_response` (the first request's round trip).
/// `cold` from a kept cache that holds the image: `unpack` is 0 and `pull` is
/// only the check of the tag's current digest with the registry (one HEAD; 0
/// for a local layout). `cold-cached`: `pull` and `unpack` are absent (null):
/// the image was pulled before, untimed, and the registry is not asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColdStart {
    /// None: no pull phase (`cold-cached`).
    #[serde(default)]
    pub pull: Option<f64>,
    /// None: no unpack phase (`cold-cached`).
    #[serde(default)]
    pub unpack: Option<f64>,
    pub start: f64,
    pub ready: f64,
    pub first_response: f64,
    /// Measured end to end.
    pub total: f64,
}

/// What a cold start found on the node before its instance started: the
/// evidence that says which kind of cold it was.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColdEvidence {
    /// The instance started for this run (a new id each run).
    pub instance: Option<String>,
    /// The image was not in the local image cache when the timed run began.
    pub image_cache_was_empty: bool,
    /// Bytes pulled (or copied from a local layout) during the timed run;
    /// 0 when the image came from the cache.
    pub pulled_bytes: u64,
    /// The page cache was dropped (`sync`, `echo 3 > /proc/sys/vm/drop_caches`)
    /// before the timed run.
    pub page_cache_dropped: bool,
    /// Pages of the program the instance starts (the wasm shim, or runc/crun/
    /// unshare for native) resident in memory just before it started; None
    /// when the instance is the image's own executable (sandbox `process`).
    pub runtime_binary: Option<Residency>,
    /// Pages of the image's unpacked regular files resident just before the start.
    pub image_files: Residency,
    /// `wasmtime-pooled` only: how long the long-lived host process took to
    /// start (module loaded, pool reserved, socket listening). It is started
    /// once per launcher before the timed run and left out of it, as a
    /// node's runtime daemon is already running when a request arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_host_start_ms: Option<f64>,
}

/// How much of some files is in the page cache (`mincore(2)`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Residency {
    /// The file, when one file is meant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    pub files: u64,
    /// Pages the files span.
    pub pages: u64,
    /// Of which resident in memory.
    pub resident_pages: u64,
}

/// The SDK's split of a request, measured inside the instance (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Phases {
    /// Storage calls through the host.
    pub io: f64,
    pub deserialize: f64,
    pub compute: f64,
    pub serialize: f64,
    /// The function's own time (the SDK's `total_ns`).
    #[serde(default)]
    pub total: f64,
}

impl Phases {
    /// The mean of each phase over `samples` (None when there are none).
    pub fn mean(samples: &[Phases]) -> Option<Phases> {
        if samples.is_empty() {
            return None;
        }
        let n = samples.len() as f64;
        let m = |f: fn(&Phases) -> f64| samples.iter().map(f).sum::<f64>() / n;
        Some(Phases {
            io: m(|p| p.io),
            deserialize: m(|p| p.deserialize),
            compute: m(|p| p.compute),
            serialize: m(|p| p.serialize),
            total: m(|p| p.total),
        })
    }
}

/// Round trip minus the function's own time (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Overhead {
    pub p50: f64,
    pub mean: f64,
}

/// One concurrency level of a load run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadLevel {
    pub concurrency: usize,
    pub mode: LoadMode,
    pub rate_rps: Option<f64>,
    /// Requests scheduled (open loop) or sent (closed loop).
    pub sent: u64,
    pub ok: u64,
    /// Every request that did not answer OK, timeouts included.
    pub errors: u64,
    pub timeouts: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub duration_s: f64,
    /// OK answers per second of the level's wall time.
    pub throughput_rps: f64,
    /// Latency of OK answers (open loop: from the intended start).
    pub latency_ms: LatencyStats,
    /// Latency of every answered request, errors included.
    pub latency_all_ms: LatencyStats,
    pub instances_started: usize,
    pub instances_replaced: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_optional_and_absent_when_not_computed() {
        // JSON written before the intervals existed still reads.
        let old =
            r#"{"n":3,"mean":1.0,"stddev":0.1,"min":0.9,"p50":1.0,"p90":1.1,"p99":1.1,"max":1.1}"#;
        let l: LatencyStats = serde_json::from_str(old).unwrap();
        assert_eq!((l.p50_ci95, l.mean_ci95), (None, None));
        // Absent, not zeros, when there are none.
        let out = serde_json::to_string(&l).unwrap();
        assert!(!out.contains("ci95"), "{out}");
        // Written as [lo, hi].
        let with = LatencyStats {
            p50_ci95: Some([0.9, 1.1]),
            mean_ci95: Some([0.95, 1.05]),
            ..l
        };
        let out = serde_json::to_string(&with).unwrap();
        assert!(out.contains(r#""p50_ci95":[0.9,1.1]"#), "{out}");
        assert!(out.contains(r#""mean_ci95":[0.95,1.05]"#), "{out}");
        assert_eq!(serde_json::from_str::<LatencyStats>(&out).unwrap(), with);
    }

    #[test]
    fn partial_is_a_status_with_figures() {
        let s: crate::Status = serde_json::from_str(r#""partial""#).unwrap();
        assert_eq!(s, crate::Status::Partial);
        assert!(s.has_figures());
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""partial""#);
    }
}
