//! A real registry for tests: lumos-services' [`lumos_services::Registry`]
//! (Debian's `docker-registry` on a free loopback port, stopped by PID),
//! started or the test fails with the reason on one line.

use std::path::{Path, PathBuf};

pub use lumos_services::RegistryOptions;

/// A running registry; derefs to [`lumos_services::Registry`] (`addr`,
/// `port`, `log()`, `storage()`, `stored_blobs()`).
pub struct Registry {
    inner: lumos_services::Registry,
    /// The CA clients must trust, when started with TLS.
    pub ca: Option<PathBuf>,
}

impl Registry {
    /// Starts a registry configured by `opts` (plain, basic auth, TLS, or an
    /// `auth:` section such as a [`TokenService`](crate::token_service::TokenService)'s).
    pub fn start(opts: RegistryOptions) -> Registry {
        let inner = lumos_services::Registry::start(&opts).unwrap_or_else(|e| {
            panic!("starting docker-registry: {}", lumos_model::error_chain(&e))
        });
        let ca = inner.tls.as_ref().map(|t| t.ca.clone());
        Registry { inner, ca }
    }

    /// A plain HTTP registry without auth.
    pub fn plain() -> Registry {
        Registry::start(RegistryOptions::default())
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.inner.addr.clone()
    }

    /// Pushes `name` (e.g. `t/fixture:wasm`) of the OCI layout at `layout_dir`
    /// as `REPO:TAG`; returns the reference `HOST/REPO:TAG`.
    pub fn push(&self, layout_dir: &Path, name: &str, repo: &str, tag: &str) -> String {
        use lumos_oci::registry::{push, Client, ClientOptions, PushStats};
        let layout = lumos_oci::Layout::open(layout_dir).unwrap();
        let desc = layout.resolve(name).unwrap();
        let client = Client::connect(&self.inner.addr, ClientOptions::default()).unwrap();
        let mut stats = PushStats::default();
        push(&client, &layout, &desc, repo, Some(tag), &mut stats).unwrap();
        format!("{}/{repo}:{tag}", self.inner.addr)
    }
}

impl std::ops::Deref for Registry {
    type Target = lumos_services::Registry;
    fn deref(&self) -> &lumos_services::Registry {
        &self.inner
    }
}
