//! `<target-dir>/lumos/build.json` on disk: read by `image`, `push` and
//! `bench`, written atomically after every build. The schema is lumos-model's
//! [`BuildManifest`].

use std::path::Path;

pub use lumos_model::{BuildArtifact, BuildManifest, FunctionArtifacts};

use crate::error::{Context, Result};

/// Reads the manifest of `target_dir`; a clear error when it is missing or unreadable.
pub fn read(target_dir: &Path) -> Result<BuildManifest> {
    let path = BuildManifest::path_in(target_dir);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: run `cargo lumos build` first", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a valid build manifest", path.display()))
}

/// Writes the manifest of `target_dir` atomically.
pub fn write(target_dir: &Path, manifest: &BuildManifest) -> Result<()> {
    let path = BuildManifest::path_in(target_dir);
    let text = serde_json::to_vec_pretty(manifest)?;
    lumos_oci::write_atomic(&path, &text)?;
    Ok(())
}
