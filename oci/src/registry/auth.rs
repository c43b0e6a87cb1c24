//! Registry credentials: `LUMOS_REGISTRY_USER`/`LUMOS_REGISTRY_PASSWORD`, then
//! the Docker config (`credHelpers`, `auths`, `credsStore`, with the
//! `docker-credential-*` helper protocol).
//!
//! Secrets stay in [`Credentials`], whose `Debug` prints no secret, and are
//! never put into an error or a log line; where they came from is.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::error::{Error, Result};

/// A user name and password (or token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The value of a `Basic` Authorization header.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// Credentials found for a registry, and a description of where from
/// (safe to print: it names the source, never the secret).
#[derive(Debug, Clone)]
pub struct Found {
    pub credentials: Option<Credentials>,
    pub source: String,
}

impl Found {
    pub fn none(source: impl Into<String>) -> Self {
        Found {
            credentials: None,
            source: source.into(),
        }
    }
}

/// The Docker config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// Looks up credentials for `registry` (`host[:port]`) from the environment
/// and the Docker config.
pub fn lookup(registry: &str) -> Result<Found> {
    lookup_with(registry, docker_config_path().as_deref(), |k| {
        std::env::var(k).ok()
    })
}

/// [`lookup`] with an explicit config path and environment, for tests
/// (`PATH` from `env`, when it gives one, is where credential helpers are
/// looked for).
pub fn lookup_with(
    registry: &str,
    config_path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Found> {
    match (env("LUMOS_REGISTRY_USER"), env("LUMOS_REGISTRY_PASSWORD")) {
        (Some(username), Some(password)) => {
            return Ok(Found {
                credentials: Some(Credentials { username, password }),
                source: "LUMOS_REGISTRY_USER/LUMOS_REGISTRY_PASSWORD".into(),
            })
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::Credentials(
                "set both LUMOS_REGISTRY_USER and LUMOS_REGISTRY_PASSWORD, or neither".into(),
            ))
        }
        (None, None) => {}
    }
    let Some(path) = config_path else {
        return Ok(Found::none(
            "none (no HOME or DOCKER_CONFIG, no LUMOS_REGISTRY_USER)",
        ));
    };
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Found::none(format!(
                "none (no LUMOS_REGISTRY_USER, no {})",
                path.display()
            )))
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let config: Value =
        serde_json::from_slice(&text).map_err(|e| Error::json(path.display().to_string(), e))?;
    let keys = candidate_keys(registry);

    if let Some(helpers) = config.get("credHelpers").and_then(Value::as_object) {
        for (k, helper) in helpers {
            if keys.iter().any(|c| normalise_key(k) == *c) {
                if let Some(helper) = helper.as_str() {
                    return from_helper(helper, registry, "credHelpers", path, env("PATH"));
                }
            }
        }
    }
    if let Some(auths) = config.get("auths").and_then(Value::as_object) {
        for (k, entry) in auths {
            if !keys.iter().any(|c| normalise_key(k) == *c) {
                continue;
            }
            if let Some(creds) = auth_entry(entry, path)? {
                return Ok(Found {
                    credentials: Some(creds),
                    source: format!("auths entry `{k}` in {}", path.display()),
                });
            }
        }
    }
    if let Some(store) = config.get("credsStore").and_then(Value::as_str) {
        return from_helper(store, registry, "credsStore", path, env("PATH"));
    }
    Ok(Found::none(format!(
        "none (no LUMOS_REGISTRY_USER, nothing for {registry} in {})",
        path.display()
    )))
}

/// What `docker-credential-<helper>` gives for `registry`, the helper being
/// named by `key` (`credHelpers`, `credsStore`) of the Docker config `path`
/// and looked for on `search_path` (else on our `PATH`).
fn from_helper(
    helper: &str,
    registry: &str,
    key: &str,
    path: &Path,
    search_path: Option<String>,
) -> Result<Found> {
    let credentials = run_helper(helper, &server_url(registry), search_path.as_deref())?;
    Ok(Found {
        source: format!(
            "{} from {key} in {} (docker-credential-{helper})",
            if credentials.is_some() {
                "found"
            } else {
                "nothing"
            },
            path.display()
        ),
        credentials,
    })
}

fn auth_entry(entry: &Value, path: &Path) -> Result<Option<Credentials>> {
    if let Some(auth) = entry
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| {
                Error::Credentials(format!(
                    "an `auth` value in {} is not base64",
                    path.display()
                ))
            })?;
        let decoded = String::from_utf8(decoded).map_err(|_| {
            Error::Credentials(format!(
                "an `auth` value in {} is not UTF-8",
                path.display()
            ))
        })?;
        let (u, p) = decoded.split_once(':').ok_or_else(|| {
            Error::Credentials(format!(
                "an `auth` value in {} is not `user:password`",
                path.display()
            ))
        })?;
        return Ok(Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    match (
        entry.get("username").and_then(Value::as_str),
        entry.get("password").and_then(Value::as_str),
    ) {
        (Some(u), Some(p)) => Ok(Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        })),
        _ => Ok(None),
    }
}

/// The server URL Docker uses for a registry when asking a helper.
fn server_url(registry: &str) -> String {
    if is_docker_hub(registry) {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    }
}

fn is_docker_hub(registry: &str) -> bool {
    matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com"
    )
}

/// `https://host:port/v1/` -> `host:port`.
fn normalise_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k).to_string()
}

fn candidate_keys(registry: &str) -> Vec<String> {
    if is_docker_hub(registry) {
        vec![
            "index.docker.io".into(),
            "docker.io".into(),
            "registry-1.docker.io".into(),
            "registry.hub.docker.com".into(),
        ]
    } else {
        vec![registry.to_string()]
    }
}

/// How long a credential helper may take: helpers ask a keyring, a cloud
/// API (ecr-login) or a person for a passphrase, so this is generous; one
/// that hangs is stopped rather than waited on forever.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `docker-credential-<helper> get` with the server URL on stdin.
fn run_helper(
    helper: &str,
    server: &str,
    search_path: Option<&str>,
) -> Result<Option<Credentials>> {
    run_program(
        &format!("docker-credential-{helper}"),
        server,
        HELPER_TIMEOUT,
        search_path,
    )
}

fn run_program(
    program: &str,
    server: &str,
    timeout: Duration,
    search_path: Option<&str>,
) -> Result<Option<Credentials>> {
    let mut cmd = Command::new(program);
    // A PATH given to the child is also where std looks the program up.
    if let Some(p) = search_path {
        cmd.env("PATH", p);
    }
    let mut child = cmd
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Credentials(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    // Output is read in threads (a full pipe must not stall the helper)
    // while this one waits for the exit, up to the deadline.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = pipe {
                let _ = p.take(1 << 20).read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Credentials(format!(
                    "{program} get: no answer within {} s (stopped)",
                    timeout.as_secs()
                )));
            }
            Err(e) => return Err(Error::Credentials(format!("{program}: {e}"))),
        }
    };
    let out = std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if said.to_lowercase().contains("not found") {
            return Ok(None);
        }
        return Err(Error::Credentials(format!(
            "{program} get failed ({}); its output is not shown as it may hold secrets",
            out.status
        )));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        Error::Credentials(format!("{program} get did not print the expected JSON"))
    })?;
    match (
        v.get("Username").and_then(Value::as_str),
        v.get("Secret").and_then(Value::as_str),
    ) {
        (Some(u), Some(s)) => Ok(Some(Credentials {
            username: u.to_string(),
            password: s.to_string(),
        })),
        _ => Err(Error::Credentials(format!(
            "{program} get printed no Username and Secret"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn env_wins_and_debug_hides_the_secret() {
        let found = lookup_with("r:1", None, |k| match k {
            "LUMOS_REGISTRY_USER" => Some("u".into()),
            "LUMOS_REGISTRY_PASSWORD" => Some("hunter2".into()),
            _ => None,
        })
        .unwrap();
        let c = found.credentials.unwrap();
        assert_eq!(c.username, "u");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn auths_entry_is_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            &p,
            format!(r#"{{"auths":{{"https://127.0.0.1:5000/v1/":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let found = lookup_with("127.0.0.1:5000", Some(&p), no_env).unwrap();
        assert_eq!(found.credentials.unwrap().password, "s3cret");
        assert!(!found.source.contains("s3cret"));
        let other = lookup_with("127.0.0.1:5001", Some(&p), no_env).unwrap();
        assert!(other.credentials.is_none());
    }

    #[test]
    fn a_helper_that_never_answers_is_stopped_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-lumos-hangs");
        std::fs::write(&helper, "#!/bin/sh\nexec sleep 1000\n").unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let program = helper.display().to_string();
        let t = Instant::now();
        let err = run_program(&program, "r:1", Duration::from_secs(1), None).unwrap_err();
        // Before: waited as long as the helper did. 60 s is not a speed target.
        assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
        assert_eq!(
            err.to_string(),
            format!("credentials: {program} get: no answer within 1 s (stopped)")
        );
    }

    #[test]
    fn missing_helper_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"credsStore":"lumos-does-not-exist"}"#).unwrap();
        let err = lookup_with("r:1", Some(&p), no_env).unwrap_err();
        assert!(
            err.to_string()
                .contains("docker-credential-lumos-does-not-exist"),
            "{err}"
        );
    }
}
