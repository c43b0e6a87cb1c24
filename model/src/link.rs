//! The network link between a function and its BaaS (`cargo lumos bench
//! --baas-bandwidth RATE --baas-delay DURATION`): what is asked for
//! ([`BaasLinkSpec`]) and what a run records ([`BaasLink`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The slowest bandwidth a link takes: 8 kbit/s (1 KB/s).
pub const MIN_RATE_BITS: u64 = 8_000;
/// The fastest: 10 gbit/s (above what a veth pair carries here anyway).
pub const MAX_RATE_BITS: u64 = 10_000_000_000;
/// The longest one-way delay: 1 s (a store command's own deadline is 10 s).
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// A bandwidth, in bits per second, written and read in tc's rate syntax:
/// a number and a unit, `bit` (or none), `kbit`, `mbit`, `gbit`, `tbit`
/// (powers of 1000), `kibit`, `mibit`, `gibit`, `tibit` (powers of 1024),
/// or bytes per second: `bps`, `kbps`, `mbps`, `gbps`, `tbps`, `kibps`,
/// `mibps`, `gibps`, `tibps`; case-insensitive, as tc reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate {
    bits_per_sec: u64,
}

/// Why a rate or a delay was refused (the text names what was expected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadLinkValue(String);

impl Rate {
    /// A rate within 8 kbit/s..=10 gbit/s.
    pub fn from_bits_per_sec(bits: u64) -> Result<Rate, BadLinkValue> {
        if !(MIN_RATE_BITS..=MAX_RATE_BITS).contains(&bits) {
            return Err(BadLinkValue(format!(
                "the rate must be from 8kbit to 10gbit, not {bits} bit/s"
            )));
        }
        Ok(Rate { bits_per_sec: bits })
    }

    pub fn bits_per_sec(self) -> u64 {
        self.bits_per_sec
    }

    pub fn bytes_per_sec(self) -> f64 {
        self.bits_per_sec as f64 / 8.0
    }

    /// The time `bytes` take at this rate.
    pub fn time_for(self, bytes: u64) -> Duration {
        Duration::from_secs_f64(bytes as f64 * 8.0 / self.bits_per_sec as f64)
    }
}

impl FromStr for Rate {
    type Err = BadLinkValue;
    fn from_str(s: &str) -> Result<Rate, BadLinkValue> {
        let t = s.trim().to_ascii_lowercase();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let expected = || {
            BadLinkValue(
                "expected a rate as tc writes it: a number and bit, kbit, mbit, gbit (or bps, kbps, mbps for bytes/s), e.g. 10mbit"
                    .into(),
            )
        };
        let n: f64 = num.parse().map_err(|_| expected())?;
        let (scale, bytes) = match unit {
            "" | "bit" => (1.0, false),
            "kbit" => (1e3, false),
            "mbit" => (1e6, false),
            "gbit" => (1e9, false),
            "tbit" => (1e12, false),
            "kibit" => (1024.0, false),
            "mibit" => (1024.0 * 1024.0, false),
            "gibit" => (1024.0 * 1024.0 * 1024.0, false),
            "tibit" => (1024.0f64.powi(4), false),
            "bps" => (1.0, true),
            "kbps" => (1e3, true),
            "mbps" => (1e6, true),
            "gbps" => (1e9, true),
            "tbps" => (1e12, true),
            "kibps" => (1024.0, true),
            "mibps" => (1024.0 * 1024.0, true),
            "gibps" => (1024.0 * 1024.0 * 1024.0, true),
            "tibps" => (1024.0f64.powi(4), true),
            _ => return Err(expected()),
        };
        let bits = n * scale * if bytes { 8.0 } else { 1.0 };
        if !bits.is_finite() || bits > MAX_RATE_BITS as f64 || bits < MIN_RATE_BITS as f64 {
            return Err(BadLinkValue(
                "the rate must be from 8kbit to 10gbit".to_string(),
            ));
        }
        Rate::from_bits_per_sec(bits.round() as u64)
    }
}

impl fmt::Display for Rate {
    /// The shortest exact tc spelling: `10mbit`, `1500kbit`, `12345bit`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bits_per_sec;
        for (unit, scale) in [
            ("gbit", 1_000_000_000),
            ("mbit", 1_000_000),
            ("kbit", 1_000),
        ] {
            if b.is_multiple_of(scale) {
                return write!(f, "{}{unit}", b / scale);
            }
        }
        write!(f, "{b}bit")
    }
}

impl serde::Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A one-way delay as written on a command line: a number and `ms`, `s` or
/// `us` (`0ms`, `5ms`, `20ms`, `0.5ms`), at most 1 s.
pub fn parse_delay(s: &str) -> Result<Duration, BadLinkValue> {
    let t = s.trim().to_ascii_lowercase();
    let expected =
        || BadLinkValue("expected a delay as a number and ms, s or us, e.g. 20ms".into());
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(expected());
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(expected());
    }
    let n: f64 = num.parse().map_err(|_| expected())?;
    let secs = n * scale;
    if !secs.is_finite() || secs > MAX_DELAY.as_secs_f64() {
        return Err(BadLinkValue("the delay must be from 0ms to 1s".into()));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// What a run asks of the link to its storage server: a bandwidth limit
/// (None: the veth's own speed) and a one-way delay per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BaasLinkSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Rate>,
    #[serde(default)]
    pub delay: Duration,
}

/// What a run records of the link to its storage server
/// (`settings.baas_link`, `baas_link` of a runner result).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BaasLink {
    /// The bandwidth limit in each direction (tc tbf); None: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Rate>,
    /// The bandwidth in bits per second (null: unlimited), for readers that
    /// do not parse tc's syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_bits_per_sec: Option<u64>,
    /// The delay added in each direction by the relay, ms (a round trip
    /// gets twice this).
    #[serde(default)]
    pub delay_ms: f64,
    /// The relay's own cost: the median round trip of a small GET through
    /// the link at 0 ms delay and no bandwidth limit, minus the same GET
    /// straight to the storage server, ms.
    #[serde(default)]
    pub relay_overhead_ms: f64,
    /// That GET's median round trip straight to the storage server, ms.
    #[serde(default)]
    pub direct_rtt_ms: f64,
    /// That GET's median round trip through the link and the relay (0 ms, no limit), ms.
    #[serde(default)]
    pub relayed_rtt_ms: f64,
    /// Round trips each median is taken over.
    #[serde(default)]
    pub overhead_samples: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_tc_reads_them() {
        let bits = |s: &str| s.parse::<Rate>().unwrap().bits_per_sec();
        assert_eq!(bits("100mbit"), 100_000_000);
        assert_eq!(bits("10Mbit"), 10_000_000);
        assert_eq!(bits("1mbit"), 1_000_000);
        assert_eq!(bits("1.5mbit"), 1_500_000);
        assert_eq!(bits("125kbps"), 1_000_000);
        assert_eq!(bits("1mibit"), 1_048_576);
        assert_eq!(bits("64000"), 64_000);
        assert_eq!("1mbit".parse::<Rate>().unwrap().to_string(), "1mbit");
        assert_eq!("1.5mbit".parse::<Rate>().unwrap().to_string(), "1500kbit");
        for bad in [
            "", "mbit", "10 mbit", "10mbits", "-1mbit", "1kbit", "20gbit", "1e3mbit",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} passed");
        }
        let j = serde_json::to_string(&"10mbit".parse::<Rate>().unwrap()).unwrap();
        assert_eq!(j, "\"10mbit\"");
        assert_eq!(
            serde_json::from_str::<Rate>(&j).unwrap().bits_per_sec(),
            10_000_000
        );
    }

    #[test]
    fn delays() {
        assert_eq!(parse_delay("20ms").unwrap(), Duration::from_millis(20));
        assert_eq!(parse_delay("0ms").unwrap(), Duration::ZERO);
        assert_eq!(parse_delay("0.5ms").unwrap(), Duration::from_micros(500));
        assert_eq!(parse_delay("1s").unwrap(), Duration::from_secs(1));
        for bad in ["20", "ms", "-5ms", "2s", "5 ms", "5min"] {
            assert!(parse_delay(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn old_settings_read_without_a_link() {
        let l: BaasLink = serde_json::from_str("{}").unwrap();
        assert_eq!(l, BaasLink::default());
    }
}
