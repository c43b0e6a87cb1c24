//! OCI images: reproducible layers, image layout, registry push/pull, safe unpack.
//!
//! - [`atomic`]: atomic, durable file writes (every file Lumos writes).
//! - [`layer`]: reproducible tar+gzip layers.
//! - [`image`]: configs, manifests and indexes of Lumos images (native, wasm, AoT).
//! - [`component`]: images of wasi:http components (CNCF artifact with the
//!   `component` field, and the compat form).
//! - [`layout`]: the OCI image layout on disk.
//! - [`registry`]: the distribution API (push, pull, auth).
//! - [`unpack`]: a layer stack into a root filesystem, safely.

pub mod atomic;
pub mod component;
pub mod digest;
pub mod error;
pub mod image;
pub mod layer;
pub mod layout;
pub mod pack;
pub mod reference;
pub mod registry;
pub mod spec;
pub mod timestamp;
pub mod unpack;

pub use atomic::write_atomic;
pub use digest::Digest;
pub use error::{Error, Result};
pub use layout::Layout;
pub use spec::{Descriptor, Index, Manifest, Platform};
