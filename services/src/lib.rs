//! Outside programs Lumos starts and stops by PID, and where to find them.
//! One of each, shared by the bench engine (its throwaway registry), the
//! tests and the benchmarks:
//!
//! - [`program`]: finding a program on PATH (and the sbin directories), with
//!   the one command that installs it when it is missing;
//! - [`service`]: a child process that logs to a file, is ready when its log
//!   says so (within a deadline), dies with us (`PR_SET_PDEATHSIG`) and is
//!   stopped by PID (SIGTERM, then SIGKILL);
//! - [`registry`]: Debian's `docker-registry` on a free loopback port
//!   (plain, htpasswd, TLS from a CA made here, or any `auth:` section);
//! - [`redis`]: `redis-server` on a free loopback port;
//! - [`containerd`]: a private containerd (own root, state and socket), as
//!   the `containerd` sandbox of lumos-runtimes runs images.

pub mod containerd;
mod error;
pub mod program;
pub mod redis;
pub mod registry;
pub mod service;
pub mod tls;

pub use containerd::Containerd;
pub use error::Error;
pub use program::{find_program, on_path, on_path_in, require_program};
pub use redis::Redis;
pub use registry::{Registry, RegistryOptions};
pub use service::Service;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
