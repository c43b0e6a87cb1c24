//! `redis-server` on a free loopback port, no persistence.

use std::process::Command;
use std::time::Duration;

use crate::service::Service;

/// A running Redis, stopped by PID when dropped.
pub struct Redis {
    service: Service,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts `redis-server` on 127.0.0.1 and a free port; waits until it accepts connections.
    pub fn start() -> crate::Result<Redis> {
        let bin = crate::require_program("redis-server")?;
        let dir = tempfile::Builder::new()
            .prefix("lumos-redis-")
            .tempdir()
            .map_err(|e| crate::Error::io("create", std::env::temp_dir(), e))?;
        let port = free_port().map_err(|e| crate::Error::io("bind", "127.0.0.1:0", e))?;
        let mut cmd = Command::new(bin);
        cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(dir.path());
        let mut service = Service::spawn(cmd, &dir.path().join("redis.log"))?;
        service.wait_for_log("Ready to accept connections", Duration::from_secs(30))?;
        Ok(Redis {
            service,
            port,
            _dir: dir,
        })
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.service.pid()
    }
}

/// A port that was free a moment ago (the kernel's choice for port 0).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
