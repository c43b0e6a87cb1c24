//! `cargo lumos push --registry HOST[:PORT]/NAMESPACE`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lumos_build::push::{PushRequest, PushedImage};
use lumos_oci::reference::{split_registry, validate_tag_prefix};

use crate::cli::{FunctionArgs, MessageFormat, TargetArgs};

/// lumos-oci's default deadline of one registry operation, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = lumos_oci::registry::client::DEFAULT_TIMEOUT.as_secs();

/// `cargo lumos push`.
#[derive(Debug, clap::Args)]
pub struct PushCmd {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub select: FunctionArgs,
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
    /// `human` (default) or `json`: one JSON object per pushed image.
    #[arg(long, value_name = "FMT", value_enum, default_value_t)]
    pub message_format: MessageFormat,
}

/// `--registry`, checked at parse time (host, port, namespace).
pub fn registry_arg(s: &str) -> Result<String, lumos_oci::Error> {
    split_registry(s).map(|_| s.to_string())
}

/// `--tag-prefix`, checked at parse time.
pub fn tag_prefix_arg(s: &str) -> Result<String, lumos_oci::Error> {
    validate_tag_prefix(s).map(|()| s.to_string())
}

fn show(p: &PushedImage, format: MessageFormat) {
    match format {
        MessageFormat::Json => println!(
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
        ),
        MessageFormat::Human => println!("{}@{}", p.reference, p.digest),
    }
}

/// Runs `cargo lumos push`.
pub fn run(cmd: PushCmd) -> anyhow::Result<ExitCode> {
    let target_dir = cmd.target.resolve()?;
    let format = cmd.message_format;
    let req = PushRequest {
        tag_prefix: cmd.tag_prefix,
        insecure: cmd.insecure,
        ca_cert: cmd.ca_cert,
        functions: cmd.select.functions,
        timeout: Duration::from_secs(cmd.timeout),
        ..PushRequest::new(cmd.registry)
    };
    let r = lumos_build::push::push(&target_dir, &req, |p| show(p, format))?;
    if format == MessageFormat::Human {
        eprintln!(
            "pushed {} images to {} in {:.2}s: {} blobs uploaded ({} bytes), {} mounted, {} already there",
            r.images.len(),
            r.registry,
            r.elapsed.as_secs_f64(),
            r.total.blobs_uploaded,
            r.total.bytes_uploaded,
            r.total.blobs_mounted,
            r.total.blobs_present
        );
    }
    Ok(ExitCode::SUCCESS)
}
