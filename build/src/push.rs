//! Pushing (`cargo lumos push --registry HOST[:PORT]/NAMESPACE`): the images
//! of `<target-dir>/lumos/oci/` (blobs first, only the missing ones; child
//! manifests before an index; manifests as their exact bytes).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lumos_oci::reference::{split_registry, validate_tag_prefix};
use lumos_oci::registry::{push_layout, Client, ClientOptions};
pub use lumos_oci::registry::{PushStats, PushedImage};
use lumos_oci::Layout;

use crate::error::{bail, Context as _, Result};
use crate::images::layout_dir;

/// What to push where.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// `HOST[:PORT]/NAMESPACE`: images become `NAMESPACE/<function>:<tag-prefix><variant>`.
    pub registry: String,
    /// Prefix of every tag: `v1-` gives `v1-wasm`, `v1-native`, …
    pub tag_prefix: String,
    /// Plain HTTP (and unverified TLS) to a non-loopback registry.
    pub insecure: bool,
    /// A CA certificate (PEM) to trust for the registry.
    pub ca_cert: Option<PathBuf>,
    /// Only the images of these functions; all when empty.
    pub functions: Vec<String>,
    /// Overall deadline of each registry operation (a blob upload gets more
    /// in proportion to its size; see lumos-oci's client).
    pub timeout: Duration,
}

impl PushRequest {
    /// A request for every image to `registry`, with the default deadline.
    pub fn new(registry: impl Into<String>) -> PushRequest {
        PushRequest {
            registry: registry.into(),
            tag_prefix: String::new(),
            insecure: false,
            ca_cert: None,
            functions: vec![],
            timeout: lumos_oci::registry::client::DEFAULT_TIMEOUT,
        }
    }
}

/// What [`push`] did.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The registry as reached (`host[:port]`).
    pub registry: String,
    pub images: Vec<PushedImage>,
    pub total: PushStats,
    pub elapsed: Duration,
}

/// Pushes every image of the layout (or of the selected functions); calls
/// `on_image` as each image lands.
pub fn push(
    target_dir: &Path,
    req: &PushRequest,
    mut on_image: impl FnMut(&PushedImage) + Send,
) -> Result<PushReport> {
    let started = Instant::now();
    let (host, namespace) =
        split_registry(&req.registry).with_context(|| format!("--registry {}", req.registry))?;
    validate_tag_prefix(&req.tag_prefix).context("--tag-prefix")?;
    let dir = layout_dir(target_dir);
    let layout = Layout::open(&dir).with_context(|| {
        format!(
            "{}: no images yet (run `cargo lumos image` first)",
            dir.display()
        )
    })?;
    let mut only = Vec::new();
    if !req.functions.is_empty() {
        for (name, _) in layout.refs()? {
            let function = name
                .rsplit_once(':')
                .map_or(name.as_str(), |(r, _)| r)
                .rsplit('/')
                .next()
                .unwrap_or("");
            if req.functions.iter().any(|f| f == function) {
                only.push(name);
            }
        }
        if only.is_empty() {
            bail!("no images of {:?} in {}", req.functions, dir.display());
        }
    }
    let client = Client::connect(
        &host,
        ClientOptions {
            insecure: req.insecure,
            ca_cert: req.ca_cert.clone(),
            timeout: req.timeout,
            ..Default::default()
        },
    )?;
    let images = push_layout(&client, &layout, &namespace, &req.tag_prefix, &only, |p| {
        on_image(p)
    })?;
    let mut total = PushStats::default();
    for p in &images {
        total.add(&p.stats);
    }
    Ok(PushReport {
        registry: client.registry().to_string(),
        images,
        total,
        elapsed: started.elapsed(),
    })
}
