//! Limits applied to every instance.

use std::time::Duration;

/// Limits applied to every instance of a run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Linear memory (wasm) or cgroup memory / RLIMIT_AS (native), bytes.
    pub memory_bytes: Option<u64>,
    /// CPUs per instance, fractional (`--cpus`): a CFS quota per 100 ms
    /// period (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`). None: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Per request; past it the instance is killed and the request is an error.
    #[serde(rename = "request_timeout_ms", with = "duration_ms")]
    pub request_timeout: Duration,
    /// From spawn to ready.
    #[serde(rename = "start_timeout_ms", with = "duration_ms")]
    pub start_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: Some(512 << 20),
            cpus: None,
            request_timeout: Duration::from_secs(30),
            start_timeout: Duration::from_secs(30),
        }
    }
}

/// A duration as a number of milliseconds.
mod duration_ms {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1e3)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms: f64 = serde::Deserialize::deserialize(d)?;
        if !ms.is_finite() || ms < 0.0 {
            return Err(serde::de::Error::custom(format!(
                "{ms} ms is not a duration"
            )));
        }
        Ok(Duration::from_secs_f64(ms / 1e3))
    }
}
