//! A throwaway registry for a bench run: Debian's `docker-registry` on a free
//! loopback port, storage in a temporary directory, stopped by PID on drop
//! (and killed with us if we die first: PR_SET_PDEATHSIG).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// A running registry.
pub struct LocalRegistry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    _dir: tempfile::TempDir,
}

/// Finds a program on PATH (and the sbin directories).
pub fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

impl LocalRegistry {
    /// Starts `docker-registry serve` on 127.0.0.1:0 and waits for it to say where it listens.
    pub fn start() -> Result<LocalRegistry> {
        let Some(bin) = find_program("docker-registry") else {
            bail!("no registry given and `docker-registry` is not installed (apt-get install docker-registry, or pass --registry HOST[:PORT]/NAMESPACE)");
        };
        let dir = tempfile::Builder::new()
            .prefix("lumos-bench-registry-")
            .tempdir()
            .context("temporary directory for the registry")?;
        let cfg = dir.path().join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: lumos-bench\n",
                dir.path().join("data").display()
            ),
        )?;
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe; the registry dies with us.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let err = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading so the registry never blocks on a full pipe.
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on ") {
                    let a: String = line[i + 13..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    let _ = tx.send(a);
                }
            }
        });
        let mut reg = LocalRegistry {
            child,
            addr: String::new(),
            _dir: dir,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => reg.addr = a.replace("[::]", "127.0.0.1"),
            Err(_) => bail!("{} did not say where it listens within 30 s", bin.display()),
        }
        Ok(reg)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        // Our own child, by PID: SIGTERM, then SIGKILL if it lingers.
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our child.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
