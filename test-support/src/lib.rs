//! What the integration tests of the workspace share, one idea per module.
//! Real tools only: a test that needs one fails saying how to install it.
//!
//! - [`tools`]: find a program by name, run a command and get its stdout;
//! - [`registry`]: a real `docker-registry` (lumos-services' [`Registry`](lumos_services::Registry))
//!   with what tests ask of it: basic auth, TLS from a test CA, a token service's `auth:` section;
//! - [`faulty`]: loopback servers that misbehave like a stuck registry;
//! - [`redis`]: a real `redis-server` (lumos-services' [`Redis`](lumos_services::Redis));
//! - [`token_service`]: a Docker token service issuing RS256 JWTs;
//! - [`hostile`]: OCI images written by hand with hostile content;
//! - [`images`]: the `hello` programs packed as a function with every variant, and pushed;
//! - [`fixtures`]: programs and fixture crates (the wasi:http component among them) compiled once per run into a target dir
//!   shared by every test binary;
//! - [`frames`]: a frame-protocol client that drives a `lumos` instance over stdio;
//! - [`workspace_bin`]: other packages' executables (lumos-runner, the wasm shims), built.
//!
//! A dev-dependency only: nothing here is part of Lumos itself.

pub mod faulty;
pub mod fixtures;
pub mod frames;
pub mod hostile;
pub mod images;
pub mod redis;
pub mod registry;
pub mod token_service;
pub mod tools;
pub mod workspace_bin;

pub use registry::{Registry, RegistryOptions};
pub use tools::{cargo, require, run, unlinted};
pub use workspace_bin::{node_bins, wasmedge_shim, workspace_bin};
