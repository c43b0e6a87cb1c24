//! Instances, measurement and load generation for lumos-runner.
//!
//! A bench orchestrator calls [`run::Runner`] ([`Runner::start`] for an
//! instance whose replies it uses itself; or the free functions
//! [`run_cold`], [`run_warm`], [`run_load`]): each takes an image reference
//! (`HOST[:PORT]/REPO:TAG`, `oci:DIR[:NAME]`, `file:PATH`), a [`Runtime`], a
//! request payload and [`RunOpts`], and returns a serde-serialisable
//! [`RunResult`].
//!
//! Pieces, one idea per file:
//! - [`frame`]: the frame codec (docs/frame-protocol.md), with deadlines.
//! - [`host`]: the host side of one request (storage calls from a [`store::Store`]),
//!   and the `stdio` protocol; [`http`]: the `http` protocol.
//! - [`instance`]: an instance process (pipes, process group, /proc and wait4 usage).
//! - [`guard`]: a process that cleans up if the runner dies.
//! - no engine: each wasm runtime runs in its engine family's shim executable
//!   (lumos-shim-wasmtime, lumos-shim-wasmi, lumos-shim-wasmedge; their
//!   contract is lumos-shim's), found by [`runtime`].
//! - [`container`]: runc, crun, unshare+chroot, plain process for native.
//! - [`fetch`]: pull and unpack into the cache (lumos-oci); [`artifact`]: what to run.
//! - [`confine`]: the rule for paths from image metadata (resolved inside the rootfs).
//! - [`launch`]: starting instances, a slot that replaces failed ones.
//! - [`pool`]: `wasmtime-pooled`, instances as stores in one host process.
//! - [`measure`]: latency statistics and load generation; [`machine`]: the record.
//! - [`node`]: root, the page cache and page residency (`mincore`) around a cold start.
//! - [`netns`]: a network namespace with a veth pair to the root namespace
//!   (a /30 of 10.233.0.0/16, optional tc tbf), removed on drop and by the guard.
//! - [`link`]: the storage server behind a network link (a [`netns`]
//!   namespace, a delaying relay).
//! - [`bounds`]: the range of every number a user gives the runner or bench.

pub mod artifact;
pub mod bounds;
pub mod cgroup;
pub use lumos_shim::confine;
pub mod container;
pub mod endpoint;
pub mod error;
pub mod fetch;
pub mod frame;
pub mod guard;
pub mod host;
pub mod http;
pub mod instance;
pub mod launch;
pub mod link;
pub mod machine;
pub mod measure;
pub mod netns;
pub mod node;
pub mod pool;
pub mod run;
pub mod runtime;
pub mod store;

pub use container::Sandbox;
pub use error::{Error, ImageError, Result};
pub use launch::Limits;
pub use measure::load::{Arrival, LoadLevel, LoadSpec};
pub use run::{run_cold, run_load, run_warm, Job, Ready, RunOpts, RunResult, Runner, WarmRun};
pub use runtime::{NotAvailable, Protocol, Runtime};
pub use store::StoreError;
