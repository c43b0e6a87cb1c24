//! Placement on nodes (`cargo lumos bench --node NAME[:RATE] --place
//! FUNCTION=NODE`): each node is a network namespace joined to the runner's
//! by a veth pair, optionally limited to a rate both ways; what a row
//! records about the node that served it ([`NodeRecord`]).

use crate::Rate;

/// The longest node name (it appears in tables and namespace listings).
pub const MAX_NODE_NAME: usize = 32;

/// A node asked for: `NAME` or `NAME:RATE` (RATE in tc's syntax, as
/// `--baas-bandwidth` takes it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeSpec {
    pub name: String,
    /// The bandwidth of the node's link, each way; None: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
}

/// A `--node` value that is not `NAME[:RATE]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeSpecError {
    #[error(
        "node name `{0}`: expected 1 to {MAX_NODE_NAME} letters, digits, `-` or `_` (NAME[:RATE], e.g. edge:10mbit)"
    )]
    BadName(String),
    #[error("node {name}: rate `{rate}`: {source}")]
    BadRate {
        name: String,
        rate: String,
        #[source]
        source: crate::BadLinkValue,
    },
}

/// Whether `name` is a node name: 1 to [`MAX_NODE_NAME`] ASCII letters,
/// digits, `-` or `_`.
pub fn is_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NODE_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl std::str::FromStr for NodeSpec {
    type Err = NodeSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, rate) = match s.split_once(':') {
            Some((n, r)) => (n.trim(), Some(r.trim())),
            None => (s.trim(), None),
        };
        if !is_node_name(name) {
            return Err(NodeSpecError::BadName(name.to_string()));
        }
        let rate = match rate {
            None => None,
            Some(r) => Some(r.parse::<Rate>().map_err(|source| NodeSpecError::BadRate {
                name: name.to_string(),
                rate: r.to_string(),
                source,
            })?),
        };
        Ok(NodeSpec {
            name: name.to_string(),
            rate,
        })
    }
}

impl std::fmt::Display for NodeSpec {
    /// `edge:10mbit`, or `core` (unlimited).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if let Some(r) = self.rate {
            write!(f, ":{r}")?;
        }
        Ok(())
    }
}

/// The node that served a run: its name, the address its functions were
/// reached at (inside its namespace) and its link's rate.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeRecord {
    pub name: String,
    /// The node's address (its veth end inside its namespace), e.g. `10.233.4.2`.
    pub address: String,
    /// The link's bandwidth each way (tc tbf on both veth ends); None: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// `rate` in bits per second, for readers that do not parse tc's syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_bits_per_sec: Option<u64>,
}

impl std::fmt::Display for NodeRecord {
    /// `edge (10mbit)`, or `core` (unlimited).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if let Some(r) = self.rate {
            write!(f, " ({r})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_specs_parse_and_print() {
        let n: NodeSpec = "edge:10mbit".parse().unwrap();
        assert_eq!(n.name, "edge");
        assert_eq!(n.rate.unwrap().bits_per_sec(), 10_000_000);
        assert_eq!(n.to_string(), "edge:10mbit");
        let c: NodeSpec = "core".parse().unwrap();
        assert_eq!(c.rate, None);
        assert_eq!(c.to_string(), "core");
        for bad in ["", ":1mbit", "a b", "x/y"] {
            let e = bad.parse::<NodeSpec>().unwrap_err().to_string();
            assert!(e.contains("node name"), "{bad}: {e}");
        }
        let e = "edge:fast".parse::<NodeSpec>().unwrap_err().to_string();
        assert!(
            e.starts_with("node edge: rate `fast`: expected a rate"),
            "{e}"
        );
    }

    #[test]
    fn old_rows_without_a_node_read_and_new_ones_omit_it() {
        let r: crate::RunRow = serde_json::from_value(serde_json::json!({
            "function": "f", "runtime": "native", "group": 1, "mode": "warm",
            "status": "ok", "image": {"reference": "r", "digest": null, "compressed_bytes": 0, "unpacked_bytes": 0},
            "cold_start_ms": null, "latency_ms": null, "phases_ms": null,
            "cpu_ms": null, "peak_rss_bytes": null, "repeats": 1, "requests": 1,
            "errors": 0, "errors_by_kind": {}, "error_samples": [], "warnings": [],
            "payload_bytes": 0, "store": "memory"
        }))
        .unwrap();
        assert_eq!(r.node, None);
        let j = serde_json::to_value(&r).unwrap();
        assert!(j.get("node").is_none(), "{j}");
    }
}
