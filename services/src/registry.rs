//! Debian's `docker-registry` (distribution 2.8) on a free loopback port,
//! storage in a temporary directory.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::service::Service;
use crate::tls::{self, TlsFiles};

/// How to configure the registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Basic auth: one (user, password) in a bcrypt htpasswd file.
    pub htpasswd: Option<(String, String)>,
    /// TLS with a certificate for 127.0.0.1 from a CA made for it.
    pub tls: bool,
    /// An `auth:` section of its own (e.g. a token service's), verbatim YAML.
    pub auth_section: Option<String>,
    /// Log every request (off by default: the log is only read for readiness).
    pub access_log: bool,
}

impl RegistryOptions {
    /// Basic auth with one user.
    pub fn basic_auth(user: &str, password: &str) -> RegistryOptions {
        RegistryOptions {
            htpasswd: Some((user.into(), password.into())),
            ..Default::default()
        }
    }

    /// TLS with a certificate for 127.0.0.1 from a CA made for it.
    pub fn tls() -> RegistryOptions {
        RegistryOptions {
            tls: true,
            ..Default::default()
        }
    }

    /// An `auth:` section of its own (e.g. a token service's), verbatim YAML.
    pub fn auth_section(section: impl Into<String>) -> RegistryOptions {
        RegistryOptions {
            auth_section: Some(section.into()),
            ..Default::default()
        }
    }
}

/// A running registry, stopped by PID when dropped.
pub struct Registry {
    service: Service,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub port: u16,
    /// The CA clients must trust, when started with TLS.
    pub tls: Option<TlsFiles>,
    dir: tempfile::TempDir,
}

const READY: &str = "listening on ";

impl Registry {
    /// Starts `docker-registry serve` on 127.0.0.1:0 and waits (at most 30 s)
    /// until it says where it listens.
    pub fn start(opts: &RegistryOptions) -> crate::Result<Registry> {
        let bin = crate::require_program("docker-registry")?;
        let dir = tempfile::Builder::new()
            .prefix("lumos-registry-")
            .tempdir()
            .map_err(|e| crate::Error::io("create", std::env::temp_dir(), e))?;
        let storage = dir.path().join("storage");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: {}\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: lumos-registry\n",
            !opts.access_log,
            storage.display()
        );
        let mut tls_files = None;
        if opts.tls {
            let t = tls::ca_and_leaf(dir.path())?;
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                t.cert.display(),
                t.key.display()
            ));
            tls_files = Some(t);
        }
        if let Some((user, password)) = &opts.htpasswd {
            let file = dir.path().join("htpasswd");
            let line = htpasswd(user, password)?;
            std::fs::write(&file, line).map_err(|e| crate::Error::io("write", &file, e))?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: lumos\n    path: {}\n",
                file.display()
            ));
        } else if let Some(section) = &opts.auth_section {
            config.push_str(section);
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).map_err(|e| crate::Error::io("write", &cfg, e))?;
        let mut cmd = Command::new(bin);
        cmd.arg("serve").arg(&cfg);
        let mut service = Service::spawn(cmd, &dir.path().join("registry.log"))?;
        let rest = service.wait_for_log(READY, Duration::from_secs(30))?;
        // `listening on 127.0.0.1:PORT` (`, tls` follows with TLS on).
        let addr: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
            .collect::<String>()
            .replace("[::]", "127.0.0.1");
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        Ok(Registry {
            service,
            addr,
            port,
            tls: tls_files,
            dir,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.service.pid()
    }

    /// Everything the registry logged so far.
    pub fn log(&self) -> String {
        self.service.log()
    }

    /// The registry's storage directory.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// How many blobs the registry holds.
    pub fn stored_blobs(&self) -> usize {
        let root = self.storage().join("docker/registry/v2/blobs/sha256");
        std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|p| std::fs::read_dir(p.path()).into_iter().flatten().flatten())
            .filter(|b| b.path().join("data").is_file())
            .count()
    }
}

/// One bcrypt htpasswd line (`htpasswd -Bbn`).
fn htpasswd(user: &str, password: &str) -> crate::Result<String> {
    let bin = crate::require_program("htpasswd")?;
    let out = Command::new(bin)
        .args(["-Bbn", user, password])
        .output()
        .map_err(|e| crate::Error::io("run", "htpasswd", e))?;
    if !out.status.success() {
        return Err(crate::Error::Command {
            command: "htpasswd -Bbn".into(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
