//! `cargo lumos push --registry HOST[:PORT]/NAMESPACE`: pushes the images of
//! `<target-dir>/lumos/oci/` (blobs first, only the missing ones; child
//! manifests before an index; manifests as their exact bytes) and prints
//! one line per image with its reference and digest.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lumos_oci::reference::{split_registry, validate_tag_prefix};
use lumos_oci::registry::{push_layout, Client, ClientOptions, PushStats};
use lumos_oci::Layout;

use crate::image::layout_dir;

/// Options of `cargo lumos push`.
#[derive(Debug, Clone, clap::Args)]
pub struct PushArgs {
    /// Where to push: `HOST[:PORT]/NAMESPACE`; images become
    /// `NAMESPACE/<function>:<tag-prefix><variant>`.
    #[arg(long, value_name = "HOST[:PORT]/NAMESPACE", value_parser = registry_arg)]
    pub registry: String,
    /// Prefix of every tag: `--tag-prefix v1-` gives `v1-wasm`, `v1-native`, ...
    #[arg(long, value_name = "PREFIX", default_value = "", value_parser = tag_prefix_arg)]
    pub tag_prefix: String,
    /// Overall deadline of each registry operation, seconds: the /v2/ probe,
    /// a manifest, a HEAD, a token (retries included); a blob upload gets
    /// 2 s per MiB of its size more.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// Allow plain HTTP (and unverified TLS) to a non-loopback registry.
    /// Loopback registries may always use plain HTTP.
    #[arg(long)]
    pub insecure: bool,
    /// A CA certificate (PEM) to trust for the registry (else
    /// `/etc/docker/certs.d/<host>/ca.crt` or `~/.docker/certs.d/<host>/ca.crt`).
    #[arg(long, value_name = "PEM", env = "LUMOS_REGISTRY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Only the images of these functions (repeat or comma-separate).
    #[arg(long = "function", value_name = "NAME", value_delimiter = ',')]
    pub functions: Vec<String>,
    /// `human` (default) or `json`: one JSON object per pushed image.
    #[arg(long, value_name = "FMT", default_value = "human", value_parser = ["human", "json"])]
    pub message_format: String,
}

/// lumos-oci's default deadline of one registry operation, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = lumos_oci::registry::client::DEFAULT_TIMEOUT.as_secs();

/// `--registry`, checked at parse time (host, port, namespace).
pub fn registry_arg(s: &str) -> Result<String, lumos_oci::Error> {
    split_registry(s).map(|_| s.to_string())
}

/// `--tag-prefix`, checked at parse time.
pub fn tag_prefix_arg(s: &str) -> Result<String, lumos_oci::Error> {
    validate_tag_prefix(s).map(|()| s.to_string())
}

/// Pushes every image of the layout (or of the selected functions).
pub fn run(args: &PushArgs, target_dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let (host, namespace) =
        split_registry(&args.registry).with_context(|| format!("--registry {}", args.registry))?;
    validate_tag_prefix(&args.tag_prefix).context("--tag-prefix")?;
    let dir = layout_dir(target_dir);
    let layout = Layout::open(&dir).with_context(|| {
        format!(
            "{}: no images yet (run `cargo lumos image` first)",
            dir.display()
        )
    })?;
    let mut only = Vec::new();
    if !args.functions.is_empty() {
        for (name, _) in layout.refs()? {
            let function = name
                .rsplit_once(':')
                .map_or(name.as_str(), |(r, _)| r)
                .rsplit('/')
                .next()
                .unwrap_or("");
            if args.functions.iter().any(|f| f == function) {
                only.push(name);
            }
        }
        if only.is_empty() {
            anyhow::bail!("no images of {:?} in {}", args.functions, dir.display());
        }
    }
    let client = Client::connect(
        &host,
        ClientOptions {
            insecure: args.insecure,
            ca_cert: args.ca_cert.clone(),
            timeout: Duration::from_secs(args.timeout),
            ..Default::default()
        },
    )?;
    let json = args.message_format == "json";
    let pushed = push_layout(&client, &layout, &namespace, &args.tag_prefix, &only, |p| {
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "reason": "pushed",
                    "image": p.local_name,
                    "reference": p.reference,
                    "digest": p.digest,
                    "blobs_uploaded": p.stats.blobs_uploaded,
                    "blobs_mounted": p.stats.blobs_mounted,
                    "blobs_present": p.stats.blobs_present,
                    "bytes_uploaded": p.stats.bytes_uploaded,
                })
            );
        } else {
            println!("{}@{}", p.reference, p.digest);
        }
    })?;
    let mut total = PushStats::default();
    for p in &pushed {
        total.add(&p.stats);
    }
    if !json {
        eprintln!(
            "pushed {} images to {} in {:.2}s: {} blobs uploaded ({} bytes), {} mounted, {} already there",
            pushed.len(),
            client.registry(),
            started.elapsed().as_secs_f64(),
            total.blobs_uploaded,
            total.bytes_uploaded,
            total.blobs_mounted,
            total.blobs_present
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_argument() {
        assert_eq!(
            split_registry("127.0.0.1:5000/lumos").unwrap(),
            ("127.0.0.1:5000".into(), "lumos".into())
        );
        assert_eq!(
            split_registry("ghcr.io/org/team/").unwrap(),
            ("ghcr.io".into(), "org/team".into())
        );
        assert_eq!(
            split_registry("localhost:5000").unwrap(),
            ("localhost:5000".into(), "".into())
        );
        assert!(registry_arg("r.example/Upper").is_err());
        assert!(registry_arg("127.0.0.1:99999/x").is_err());
        assert!(registry_arg("bad host!/ns").is_err());
        assert!(tag_prefix_arg("bad tag!").is_err());
        assert_eq!(tag_prefix_arg("v1-").unwrap(), "v1-");
    }
}
