//! `cargo lumos deploy`: one Knative Serving Service per function and
//! variant, running the images `cargo lumos push` put in a registry (by
//! digest), written as YAML for `kubectl apply`.
//!
//! - [`request`]: the settings (`DeployRequest`);
//! - [`service`]: the Knative Service, typed;
//! - [`serving`]: which variants Knative can serve, and how;
//! - [`names`], [`quantity`]: Kubernetes names and quantities, checked;
//! - [`image_ref`]: the pushed image of a function's variant, by digest;
//! - [`plan`]: functions and images into Services;
//! - [`pushed`]: the registry asked whether each image is there;
//! - [`cluster`]: the RuntimeClass and Knative flags the Services need;
//! - [`render`]: all of it into YAML documents and files.

pub mod cluster;
pub mod image_ref;
pub mod names;
pub mod plan;
pub mod pushed;
pub mod quantity;
pub mod render;
pub mod request;
pub mod service;
pub mod serving;

pub use image_ref::LocalImages;
pub use names::InvalidName;
pub use plan::{plan, Deployment, Plan};
pub use pushed::check_pushed;
pub use quantity::InvalidQuantity;
pub use render::Output;
pub use request::DeployRequest;
pub use service::Service;
pub use serving::NotServable;
