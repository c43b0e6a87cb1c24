//! What `cargo lumos` does to a workspace before anything runs:
//!
//! - [`workspace`]: the workspace as `cargo metadata` sees it, read once, and
//!   its functions ([`config`]: `[package.metadata.lumos]`);
//! - [`selection`]: which variants the command line asks for;
//! - [`compile`]: every selected function into every selected variant (cargo,
//!   wasm-opt, AoT), content-addressed, described in `build.json` ([`manifest`]);
//! - [`images`]: the built artifacts packed into an OCI image layout;
//! - [`push`]: the layout's images pushed to a registry;
//! - [`deploy`]: Knative Services for the pushed images.
//!
//! Each step returns a report (values, never printed); the `cargo-lumos`
//! binary and the bench engine decide what to show.

pub mod cargo_args;
pub mod compile;
pub mod config;
pub mod deploy;
mod error;
pub mod images;
pub mod manifest;
pub mod push;
pub mod selection;
pub mod workspace;

pub use cargo_args::CargoArgs;
pub use error::{Context, Error, Result};
pub use selection::Selection;
pub use workspace::{Function, Workspace};
