//! A certificate authority and a server certificate for 127.0.0.1, made with
//! `openssl`, for services that must speak TLS on loopback (rustls refuses a
//! self-signed CA used as the server certificate, so there are two).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Files of a CA and a leaf certificate for 127.0.0.1.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate (PEM) clients must trust.
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    /// The server's certificate and key (PEM).
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(args: &mut Command) -> crate::Result<()> {
    let out = args
        .output()
        .map_err(|e| crate::Error::io("run", "openssl", e))?;
    if !out.status.success() {
        return Err(crate::Error::Command {
            command: format!("{args:?}"),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// A self-signed certificate `dir/<name>.pem` with key `dir/<name>.key`.
pub fn self_signed(dir: &Path, name: &str, subject: &str) -> crate::Result<(PathBuf, PathBuf)> {
    let bin = crate::require_program("openssl")?;
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    openssl(
        Command::new(bin)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", subject])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    )?;
    Ok((cert, key))
}

/// A CA and a leaf certificate for `IP:127.0.0.1` signed by it, in `dir`.
pub fn ca_and_leaf(dir: &Path) -> crate::Result<TlsFiles> {
    let bin = crate::require_program("openssl")?;
    let (ca, ca_key) = self_signed(dir, "ca", "/CN=lumos test CA")?;
    let p = |n: &str| dir.join(n);
    std::fs::write(
        p("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
    )
    .map_err(|e| crate::Error::io("write", p("leaf.ext"), e))?;
    openssl(
        Command::new(&bin)
            .args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .arg("-keyout")
            .arg(p("leaf.key"))
            .arg("-out")
            .arg(p("leaf.csr")),
    )?;
    openssl(
        Command::new(&bin)
            .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(p("leaf.csr"))
            .arg("-CA")
            .arg(&ca)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-extfile")
            .arg(p("leaf.ext"))
            .arg("-out")
            .arg(p("leaf.pem")),
    )?;
    Ok(TlsFiles {
        ca,
        ca_key,
        cert: p("leaf.pem"),
        key: p("leaf.key"),
    })
}
