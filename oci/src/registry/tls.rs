//! TLS for registry connections, built on first use.
//!
//! Building a `native_tls::TlsConnector` loads the system's CA bundle, which
//! takes tens of milliseconds; a plain-HTTP loopback registry never needs it,
//! and it dominated the cold start of an image pulled from one. The CA files
//! are still read and parsed up front, so a bad `--ca-cert` fails at once.
//!
//! Without the `tls` feature the connector refuses every TLS connection with
//! one line saying so (plain-HTTP registries still work).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A `ureq` TLS connector that builds its `native_tls` connector the first
/// time a TLS connection is made.
#[cfg(feature = "tls")]
pub struct LazyTls {
    roots: Vec<native_tls::Certificate>,
    accept_invalid: bool,
    built: std::sync::OnceLock<std::result::Result<native_tls::TlsConnector, String>>,
}

#[cfg(feature = "tls")]
impl LazyTls {
    /// Trusts the system roots plus `ca_files` (PEM); `accept_invalid` skips
    /// certificate checks (`--insecure`).
    pub fn new(ca_files: &[PathBuf], accept_invalid: bool) -> Result<LazyTls> {
        let roots = ca_files
            .iter()
            .map(|ca| {
                let pem = std::fs::read(ca).map_err(|e| Error::io(ca, e))?;
                native_tls::Certificate::from_pem(&pem)
                    .map_err(|e| Error::Tls(format!("{}: {e}", ca.display())))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LazyTls {
            roots,
            accept_invalid,
            built: std::sync::OnceLock::new(),
        })
    }

    /// Whether extra roots were configured for this registry.
    pub fn has_custom_roots(&self) -> bool {
        !self.roots.is_empty()
    }

    fn connector(&self) -> std::result::Result<&native_tls::TlsConnector, String> {
        self.built
            .get_or_init(|| {
                let mut b = native_tls::TlsConnector::builder();
                for cert in &self.roots {
                    b.add_root_certificate(cert.clone());
                }
                b.danger_accept_invalid_certs(self.accept_invalid);
                b.build().map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[cfg(feature = "tls")]
impl ureq::TlsConnector for LazyTls {
    fn connect(
        &self,
        dns_name: &str,
        io: Box<dyn ureq::ReadWrite>,
    ) -> std::result::Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        let connector = self.connector().map_err(|e| {
            ureq::Error::from(std::io::Error::other(format!("TLS setup failed: {e}")))
        })?;
        ureq::TlsConnector::connect(connector, dns_name, io)
    }
}

/// A build without TLS: every TLS connection is refused, saying why.
#[cfg(not(feature = "tls"))]
pub struct LazyTls {
    custom_roots: bool,
}

#[cfg(not(feature = "tls"))]
impl LazyTls {
    /// Checks the CA files can be read (a bad `--ca-cert` still fails at once).
    pub fn new(ca_files: &[PathBuf], _accept_invalid: bool) -> Result<LazyTls> {
        for ca in ca_files {
            std::fs::read(ca).map_err(|e| Error::io(ca, e))?;
        }
        Ok(LazyTls {
            custom_roots: !ca_files.is_empty(),
        })
    }

    /// Whether extra roots were configured for this registry.
    pub fn has_custom_roots(&self) -> bool {
        self.custom_roots
    }
}

#[cfg(not(feature = "tls"))]
impl ureq::TlsConnector for LazyTls {
    fn connect(
        &self,
        dns_name: &str,
        _io: Box<dyn ureq::ReadWrite>,
    ) -> std::result::Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        Err(ureq::Error::from(std::io::Error::other(format!(
            "{dns_name}: this build has no TLS (lumos-oci feature `tls`); use a plain-HTTP registry"
        ))))
    }
}

/// The CA files for `registry`: `explicit` (from `--ca-cert` or the config)
/// or else docker's `certs.d/<registry>/ca.crt` under /etc/docker and ~/.docker.
pub fn ca_files(registry: &str, explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(ca) = explicit {
        return vec![ca.to_path_buf()];
    }
    let mut cas = vec![PathBuf::from("/etc/docker/certs.d")
        .join(registry)
        .join("ca.crt")];
    if let Some(h) = std::env::var_os("HOME") {
        cas.push(
            PathBuf::from(h)
                .join(".docker/certs.d")
                .join(registry)
                .join("ca.crt"),
        );
    }
    cas.retain(|p| p.is_file());
    cas
}
