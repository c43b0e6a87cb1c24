//! Which image a Service runs: the one `cargo lumos push` put in the
//! registry, named by the digest the local image layout records (push sends
//! each manifest as its exact bytes, so the registry's digest is the
//! layout's).

use std::path::{Path, PathBuf};

use lumos_model::Variant;
use lumos_oci::registry::push::target_of;
use lumos_oci::{Digest, Layout};

use crate::error::{Context as _, Result};

/// The images of one layout, by function and tag.
#[derive(Debug)]
pub struct LocalImages {
    dir: PathBuf,
    /// (layout name `<ns>/<function>:<tag>`, manifest digest).
    refs: Vec<(String, Digest)>,
}

impl LocalImages {
    /// Reads the image layout at `dir` (`<target-dir>/lumos/oci`).
    pub fn open(dir: &Path) -> Result<LocalImages> {
        let layout = Layout::open(dir).with_context(|| {
            format!(
                "{}: no images yet (run `cargo lumos image` and `cargo lumos push` first)",
                dir.display()
            )
        })?;
        let refs = layout
            .refs()
            .with_context(|| format!("{}: reading index.json", dir.display()))?
            .into_iter()
            .map(|(name, d)| (name, d.digest))
            .collect();
        Ok(LocalImages {
            dir: dir.to_path_buf(),
            refs,
        })
    }

    /// Where the layout is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The layout name and digest of `function`'s image of `variant`.
    pub fn find(&self, function: &str, variant: Variant) -> Option<(&str, &Digest)> {
        let tag = variant.image_tag();
        self.refs
            .iter()
            .find(|(name, _)| split_name(name) == Some((function, tag.as_str())))
            .map(|(n, d)| (n.as_str(), d))
    }

    /// Every variant of `function` the layout holds, in the model's order.
    pub fn variants(&self, function: &str) -> Vec<Variant> {
        Variant::all()
            .into_iter()
            .filter(|&v| self.find(function, v).is_some())
            .collect()
    }
}

/// `(function, tag)` of a layout name `<ns>/<function>:<tag>`.
fn split_name(name: &str) -> Option<(&str, &str)> {
    let (repo, tag) = name.rsplit_once(':')?;
    Some((repo.rsplit('/').next().unwrap_or(repo), tag))
}

/// The reference a node pulls: `host[:port]/<namespace>/<function>@<digest>`
/// (where `cargo lumos push --registry host[:port]/<namespace>` put it),
/// with the repository (`<namespace>/<function>`) it is in.
pub fn pushed_reference(
    host: &str,
    namespace: &str,
    layout_name: &str,
    digest: &Digest,
) -> Result<(String, String)> {
    let (repo, _tag) = target_of(layout_name, namespace, "")?;
    let reference = format!("{host}/{repo}@{digest}");
    Ok((repo, reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_split() {
        assert_eq!(
            split_name("lumos/fibonacci:aot-wasmedge-aarch64"),
            Some(("fibonacci", "aot-wasmedge-aarch64"))
        );
        assert_eq!(split_name("fibonacci"), None);
    }
}
