//! Modes of measurement.

use crate::names::named_enum;

/// What a result row measures. The three cold kinds differ by what the node
/// already holds when a brand-new instance starts (README "Cold starts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Mode {
    /// A new instance (new process or container, new sandbox) of an image
    /// already pulled and unpacked in the local cache: no pull, no unpack,
    /// no registry contact. Knative scaling from zero on a node that holds
    /// the image (`imagePullPolicy: IfNotPresent`): the paper's setting.
    ColdCached,
    /// A new instance from an empty image cache: pull, unpack, start, ready,
    /// first response (a first deployment on a node without the image).
    #[default]
    Cold,
    /// As [`Mode::Cold`], after `sync` and dropping the page cache
    /// (`/proc/sys/vm/drop_caches`): a node idle long enough that the
    /// runtime's and engine's files left memory. Root only.
    ColdNode,
    /// Requests to a ready instance, after discarded warm-up requests.
    Warm,
    /// Throughput and latency at concurrency levels.
    Load,
    /// A chain of functions, each step's response the next step's request
    /// (`--chain`, `--workflow`): the row's latency is the makespan; how the
    /// steps' instances started (cold-cached, cold or warm) is in its
    /// `workflow` record.
    Workflow,
}

named_enum!(Mode, "mode", {
    ColdCached => "cold-cached",
    Cold => "cold",
    ColdNode => "cold-node",
    Warm => "warm",
    Load => "load",
    Workflow => "workflow",
});

impl Mode {
    /// The cold kinds, in the order they run.
    pub const COLD: &'static [Mode] = &[Mode::ColdCached, Mode::Cold, Mode::ColdNode];

    /// Whether this is one of the cold kinds (a new instance, timed from
    /// before its image is looked up to its first response).
    pub fn is_cold(self) -> bool {
        Mode::COLD.contains(&self)
    }

    /// Whether the timed run starts with an empty image cache (a pull).
    pub fn pulls(self) -> bool {
        matches!(self, Mode::Cold | Mode::ColdNode)
    }

    /// What the kind means, in a few words (tables, the report).
    pub fn describe(self) -> &'static str {
        match self {
            Mode::ColdCached => "new instance, image already in the node's cache (no pull)",
            Mode::Cold => "new instance, empty image cache: pull + unpack",
            Mode::ColdNode => "as cold, after dropping the page cache",
            Mode::Warm => "requests to a ready instance",
            Mode::Load => "throughput and latency under concurrency",
            Mode::Workflow => "a chain of functions, end to end (makespan)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_kinds_have_names_and_old_json_still_reads() {
        for (name, m) in [
            ("cold-cached", Mode::ColdCached),
            ("cold", Mode::Cold),
            ("cold-node", Mode::ColdNode),
        ] {
            assert_eq!(name.parse::<Mode>().unwrap(), m);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{name}\""));
            assert!(m.is_cold());
        }
        // What files written before the cold kinds hold.
        let old: Vec<Mode> = serde_json::from_str(r#"["cold","warm","load"]"#).unwrap();
        assert_eq!(old, [Mode::Cold, Mode::Warm, Mode::Load]);
        assert!(!Mode::Warm.is_cold() && !Mode::Load.is_cold());
        assert!(Mode::Cold.pulls() && Mode::ColdNode.pulls() && !Mode::ColdCached.pulls());
        let e = "cold-warm".parse::<Mode>().unwrap_err().to_string();
        assert!(
            e.contains("cold-cached, cold, cold-node, warm, load, workflow"),
            "{e}"
        );
    }
}
