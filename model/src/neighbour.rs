//! Co-located load (`cargo lumos bench --neighbour FUNCTION[@RUNTIME][:RPS]`):
//! another function kept busy on the same machine while each cell is
//! measured, and what it managed to do meanwhile.

use crate::Runtime;

/// The largest open-loop rate a neighbour is asked for, requests per second.
pub const MAX_NEIGHBOUR_RATE: f64 = 1_000_000.0;

/// What runs beside every measured cell: one instance of `function` in
/// `runtime`, sent requests at `rate` per second (open loop), or one after
/// the other as fast as it answers (closed loop at concurrency 1) when
/// `rate` is None.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Neighbour {
    pub function: String,
    /// Default: native.
    #[serde(default)]
    pub runtime: Runtime,
    /// Requested open-loop rate, requests per second; None: closed loop at
    /// concurrency 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// A `--neighbour` value that is not `FUNCTION[@RUNTIME][:RPS]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NeighbourSpecError {
    #[error("no function name in `{0}` (expected FUNCTION[@RUNTIME][:RPS])")]
    NoFunction(String),
    #[error(transparent)]
    Runtime(#[from] crate::UnknownName),
    #[error("rate `{0}`: not a number of requests per second")]
    RateNotANumber(String),
    #[error("rate {0}: must be above 0 and at most {MAX_NEIGHBOUR_RATE} requests per second")]
    RateOutOfRange(String),
}

impl std::str::FromStr for Neighbour {
    type Err = NeighbourSpecError;

    /// `FUNCTION`, `FUNCTION@RUNTIME`, `FUNCTION:RPS` or
    /// `FUNCTION@RUNTIME:RPS` (function names hold neither `@` nor `:`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (head, rate) = match s.rsplit_once(':') {
            Some((h, r)) => (h, Some(r.trim())),
            None => (s, None),
        };
        let (function, runtime) = match head.split_once('@') {
            Some((f, r)) => (f.trim(), r.trim().parse::<Runtime>()?),
            None => (head.trim(), Runtime::Native),
        };
        if function.is_empty() {
            return Err(NeighbourSpecError::NoFunction(s.to_string()));
        }
        let rate = match rate {
            None => None,
            Some(r) => {
                let v: f64 = r
                    .parse()
                    .map_err(|_| NeighbourSpecError::RateNotANumber(r.to_string()))?;
                if !(v.is_finite() && v > 0.0 && v <= MAX_NEIGHBOUR_RATE) {
                    return Err(NeighbourSpecError::RateOutOfRange(r.to_string()));
                }
                Some(v)
            }
        };
        Ok(Neighbour {
            function: function.to_string(),
            runtime,
            rate,
        })
    }
}

impl std::fmt::Display for Neighbour {
    /// `fibonacci@native:50`, or `fibonacci@native` (closed loop).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.function, self.runtime)?;
        if let Some(r) = self.rate {
            write!(f, ":{r}")?;
        }
        Ok(())
    }
}

impl Neighbour {
    /// How it is driven, in words: `open loop at 50 req/s` or `closed loop
    /// (concurrency 1)`.
    pub fn arrival(&self) -> String {
        match self.rate {
            Some(r) => format!("open loop at {r} req/s"),
            None => "closed loop (concurrency 1)".to_string(),
        }
    }
}

/// What a row's neighbour did while the row's cell was measured: the
/// requests that completed inside the cell's measured window (from its
/// first run starting to its last ending), and their rate.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NeighbourRecord {
    #[serde(default)]
    pub function: String,
    #[serde(default)]
    pub runtime: Runtime,
    /// Requested open-loop rate; None: closed loop at concurrency 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// The cell's measured window, ms.
    #[serde(default)]
    pub window_ms: f64,
    /// Requests that completed within the window.
    #[serde(default)]
    pub requests: u64,
    /// Of them, answered OK.
    #[serde(default)]
    pub ok: u64,
    /// Of them, failed (an error answer, a timeout, an instance that died).
    #[serde(default)]
    pub failed: u64,
    /// OK answers per second over the window.
    #[serde(default)]
    pub achieved_rps: f64,
    /// Requests it served before the window opened (its warm-up, at least one).
    #[serde(default)]
    pub before_window: u64,
    /// Why it did not run or stopped early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl NeighbourRecord {
    /// `fibonacci@native` with its rate when open loop.
    pub fn label(&self) -> String {
        Neighbour {
            function: self.function.clone(),
            runtime: self.runtime,
            rate: self.rate,
        }
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print() {
        let n: Neighbour = "fibonacci".parse().unwrap();
        assert_eq!(
            (n.function.as_str(), n.runtime, n.rate),
            ("fibonacci", Runtime::Native, None)
        );
        let n: Neighbour = "prime-numbers@wasmtime-aot:25.5".parse().unwrap();
        assert_eq!(
            (n.function.as_str(), n.runtime, n.rate),
            ("prime-numbers", Runtime::WasmtimeAot, Some(25.5))
        );
        assert_eq!(n.to_string(), "prime-numbers@wasmtime-aot:25.5");
        let n: Neighbour = "fibonacci:10".parse().unwrap();
        assert_eq!((n.runtime, n.rate), (Runtime::Native, Some(10.0)));
        for (bad, says) in [
            ("fibonacci@jvm", "unknown runtime `jvm`"),
            ("fibonacci:0", "rate 0: must be above 0"),
            ("fibonacci:-3", "rate -3: must be above 0"),
            ("fibonacci:inf", "rate inf"),
            ("fibonacci:fast", "rate `fast`: not a number"),
            ("@native", "no function name"),
            (":5", "no function name"),
        ] {
            let e = bad.parse::<Neighbour>().unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
