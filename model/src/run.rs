//! What `lumos-runner` reports for one cold, warm or load run of one image
//! in one runtime (its JSON output; the library returns the same).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::{
    ColdEvidence, ColdStart, LatencyStats, Limits, LoadLevel, Machine, Mode, Overhead, Phases,
    Protocol, Runtime, Sandbox, Versions,
};

/// The image as pulled, for the record.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageInfo {
    pub reference: String,
    /// Manifest digest (None for a bare file).
    pub digest: Option<String>,
    #[serde(default)]
    pub config_digest: Option<String>,
    #[serde(default)]
    pub layer_digests: Vec<String>,
    /// Sum of the config and layer blobs as transferred (gzip).
    pub compressed_bytes: u64,
    /// Sum of the regular files in the unpacked rootfs.
    pub unpacked_bytes: u64,
}

/// The request body, for the record.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PayloadInfo {
    pub bytes: u64,
    pub sha256: String,
}

/// Where the image came from on this machine.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CacheInfo {
    pub dir: Option<PathBuf>,
    /// The image was not in the cache before this run.
    pub was_empty: bool,
}

/// The result of probing the native sandboxes, recorded per run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    /// The first that works, in the order runc, crun, chroot, process.
    pub chosen: Sandbox,
    pub runc: Result<String, String>,
    pub crun: Result<String, String>,
    pub chroot: Result<String, String>,
    /// crun needs a private mount namespace without the cgroup2 `unified`
    /// mount on hybrid hosts (FACTS.md).
    pub crun_unmount_unified: bool,
}

impl Probe {
    /// Whether sandbox `s` works here; if not, why.
    pub fn check(&self, s: Sandbox) -> Result<(), String> {
        let r = match s {
            Sandbox::Runc => &self.runc,
            Sandbox::Crun => &self.crun,
            Sandbox::Chroot => &self.chroot,
            Sandbox::Process => return Ok(()),
            // Checked when the private containerd starts (its programs, crun's WasmEdge).
            Sandbox::Containerd | Sandbox::ContainerdRunc | Sandbox::ContainerdCrunWasmedge => {
                return Ok(())
            }
        };
        r.as_ref().map(|_| ()).map_err(Clone::clone)
    }
}

/// One run of one image in one runtime.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunResult {
    #[serde(default = "crate::bench::schema_version")]
    pub schema_version: u32,
    pub function: String,
    pub runtime: Runtime,
    /// The sandbox used: native runs under Lumos's runner, and every run
    /// under containerd (`containerd-runc`, `containerd-crun-wasmedge`, the
    /// wasm runtime then saying how WasmEdge ran the module); None for wasm
    /// run by Lumos's own shims.
    pub sandbox: Option<Sandbox>,
    pub group: Option<String>,
    pub mode: Mode,
    pub protocol: Protocol,
    pub image: ImageInfo,
    pub cold_start_ms: Option<ColdStart>,
    /// Cold kinds: what the node held before the instance started.
    #[serde(default)]
    pub cold_evidence: Option<ColdEvidence>,
    /// Host round trip per request.
    pub latency_ms: Option<LatencyStats>,
    /// The SDK's own split of a request (means).
    pub phases_ms: Option<Phases>,
    /// Round trip minus the function's own time.
    pub overhead_ms: Option<Overhead>,
    /// CPU time of the instance process(es).
    pub cpu_ms: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub requests: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// First error messages seen (at most 5).
    pub error_samples: Vec<String>,
    pub warnings: Vec<String>,
    pub load: Option<Vec<LoadLevel>>,
    /// Every instance started for this result.
    pub instances: Vec<String>,
    pub instances_replaced: u32,
    pub cache: CacheInfo,
    pub payload: PayloadInfo,
    /// sha256 of the first OK response body.
    pub response_sha256: Option<String>,
    pub store: String,
    /// The link to the storage server (`--baas-bandwidth`, `--baas-delay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baas_link: Option<crate::BaasLink>,
    /// The node the instances ran on (`--node`, placement); None: the
    /// runner's own network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<crate::NodeRecord>,
    pub limits: Option<Limits>,
    pub machine: Machine,
    pub versions: Versions,
    pub sandbox_probe: Option<Probe>,
}
