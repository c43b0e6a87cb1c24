//! lumos-oci's integration tests, one binary: a module per subject, the
//! helpers in `support` (and lumos-test-support).

mod support;

mod base;
mod components;
mod credentials;
mod deadlines;
mod hostile_layouts;
mod images;
mod registry;
mod token_auth;
mod unpack;
