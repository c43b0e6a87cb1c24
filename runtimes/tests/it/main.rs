//! lumos-runtimes' integration tests, one binary: a module per subject, the
//! helpers in `common` (and lumos-test-support).

mod common;

mod aarch64;
mod baas_link;
mod cleanup;
mod cold_kinds;
mod confinement;
mod containerd;
mod cpus;
mod figures;
mod hostile;
mod limits;
mod load;
mod nodes;
mod pooled;
mod registry;
mod shims;
mod warm;
mod wasi_http;
mod wasmedge;
