//! The end-to-end tests of `cargo lumos`, one binary: a module per subject,
//! the helpers in `common` (and lumos-test-support).

mod common;

mod baas_link;
mod bad_input;
mod bench;
mod builtin_functions;
mod components;
mod deploy;
mod deploy_registry;
mod endpoint;
mod install;
mod knative;
mod neighbour;
mod nodes;
mod other_workspace;
mod push_credentials;
mod registry_input;
mod styles;
mod wasmedge;
mod workflows;
