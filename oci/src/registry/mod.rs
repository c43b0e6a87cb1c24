//! The OCI distribution API: a client, credentials, push and pull.

pub mod auth;
pub mod client;
pub mod pull;
pub mod push;
pub mod tls;

pub use auth::Credentials;
pub use client::{Client, ClientOptions};
pub use pull::{pull, Pulled};
pub use push::{push, push_layout, PushStats, PushedImage};
