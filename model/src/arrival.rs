//! Arrival processes of load runs.

use crate::names::named_enum;
use crate::UnknownName;

/// How load requests arrive (`--load` / `--arrival`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Arrival {
    /// Each client sends its next request when the previous one is answered.
    Closed,
    /// Open loop, evenly spaced.
    Constant,
    /// Open loop, exponential gaps.
    Poisson,
    /// Open loop: `burst` requests at once, bursts spaced so the mean rate holds.
    Bursty { burst: u32 },
}

impl Arrival {
    /// The load mode a level under this arrival process reports.
    pub fn mode(&self) -> LoadMode {
        match self {
            Arrival::Closed => LoadMode::Closed,
            Arrival::Constant => LoadMode::OpenConstant,
            Arrival::Poisson => LoadMode::OpenPoisson,
            Arrival::Bursty { .. } => LoadMode::OpenBursty,
        }
    }
}

impl std::str::FromStr for Arrival {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "closed" => Ok(Arrival::Closed),
            "constant" => Ok(Arrival::Constant),
            "poisson" => Ok(Arrival::Poisson),
            "bursty" => Ok(Arrival::Bursty { burst: 10 }),
            _ => match s.strip_prefix("bursty:").and_then(|n| n.parse().ok()) {
                Some(b) if b > 0 => Ok(Arrival::Bursty { burst: b }),
                _ => Err(UnknownName::new(
                    "arrival",
                    s,
                    &[
                        "closed",
                        "constant",
                        "poisson",
                        "bursty",
                        "bursty:N (N >= 1)",
                    ],
                )),
            },
        }
    }
}

/// The mode of one load level, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LoadMode {
    #[default]
    Closed,
    OpenConstant,
    OpenPoisson,
    OpenBursty,
}

named_enum!(LoadMode, "load mode", {
    Closed => "closed",
    OpenConstant => "open-constant",
    OpenPoisson => "open-poisson",
    OpenBursty => "open-bursty",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            "bursty:4".parse::<Arrival>().unwrap(),
            Arrival::Bursty { burst: 4 }
        );
        assert!("bursty:0".parse::<Arrival>().is_err());
        assert_eq!(Arrival::Poisson.mode().as_str(), "open-poisson");
    }
}
