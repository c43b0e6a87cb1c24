//! lumos-runtimes' integration tests, one binary: a module per subject, the
//! helpers in `common` (and lumos-test-support). `wasmedge` needs the
//! `wasmedge` feature (scripts/test's wasmedge pass: `--test it -- wasmedge::`).

mod common;

mod aarch64;
mod cleanup;
mod cold_kinds;
mod confinement;
mod figures;
mod hostile;
mod limits;
mod load;
mod registry;
mod warm;
mod wasi_http;
#[cfg(feature = "wasmedge")]
mod wasmedge;
