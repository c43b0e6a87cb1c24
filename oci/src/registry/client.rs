//! A blocking client for the OCI distribution API: scheme choice (HTTPS, or
//! plain HTTP for loopback / `--insecure`; loopback asks plain HTTP first),
//! Basic and Bearer auth, retries with exponential backoff.
//!
//! A plain HTTP client rather than `oci-client`: pushing raw manifest bytes,
//! HEAD-before-upload and monolithic uploads are all this needs, and owning
//! the requests keeps digests exact and credentials out of every message.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::auth::{self, Credentials, Found};
use super::tls::{self, LazyTls};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::reference::is_loopback;

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Allow plain HTTP (and unverified TLS) to a non-loopback registry.
    pub insecure: bool,
    /// An extra CA certificate (PEM) to trust. When unset,
    /// `/etc/docker/certs.d/<host:port>/ca.crt` and
    /// `~/.docker/certs.d/<host:port>/ca.crt` are used if present.
    pub ca_cert: Option<PathBuf>,
    /// Credentials to use; `None` looks them up ([`auth::lookup`]).
    pub credentials: Option<Found>,
    /// Retries after a failed attempt (connection error, 429, 5xx).
    pub retries: u32,
    /// First backoff; doubled after each retry.
    pub backoff: Duration,
    /// Connect timeout of each attempt.
    pub connect_timeout: Duration,
    /// Read/write timeout of each attempt.
    pub io_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            ca_cert: None,
            credentials: None,
            retries: 4,
            backoff: Duration::from_millis(200),
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(300),
        }
    }
}

/// A request body that can be sent again on a retry.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a Path, u64),
}

#[derive(Debug, Clone)]
enum Challenge {
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// A connection to one registry.
pub struct Client {
    registry: String,
    base: String,
    agent: ureq::Agent,
    found: Found,
    opts: ClientOptions,
    challenge: Mutex<Challenge>,
    tokens: Mutex<HashMap<String, String>>,
    /// Held while a token is fetched, so parallel uploads of one repository
    /// ask the token service once and share the answer.
    token_fetch: Mutex<()>,
    known_blobs: Mutex<HashSet<(String, Digest)>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

/// A registry's answer (any status but 401 and the retried ones).
pub struct Reply {
    pub status: u16,
    pub response: ureq::Response,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.header(name)
    }
}

fn message_of(resp: ureq::Response) -> String {
    let mut text = String::new();
    let _ = resp.into_reader().take(4096).read_to_string(&mut text);
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        if let Some(errors) = v.get("errors").and_then(Value::as_array) {
            let parts: Vec<String> = errors
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.get("code").and_then(Value::as_str).unwrap_or(""),
                        e.get("message").and_then(Value::as_str).unwrap_or("")
                    )
                    .trim()
                    .to_string()
                })
                .collect();
            return parts.join("; ");
        }
    }
    text.trim().chars().take(300).collect()
}

/// Splits `Bearer realm="…",service="…"` into scheme and parameters.
fn parse_challenge(header: &str) -> (String, HashMap<String, String>) {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        params.insert(key.trim().to_lowercase(), value);
    }
    (scheme.to_lowercase(), params)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// Connects to `registry` (`host[:port]`): picks the scheme by asking
    /// `GET /v2/` (HTTPS first; plain HTTP only for loopback or `insecure`),
    /// retrying with backoff while it cannot be reached.
    pub fn connect(registry: &str, opts: ClientOptions) -> Result<Self> {
        let found = match &opts.credentials {
            Some(f) => f.clone(),
            None => auth::lookup(registry)?,
        };
        let plain_ok = opts.insecure || is_loopback(registry);
        let tls = LazyTls::new(
            &tls::ca_files(registry, opts.ca_cert.as_deref()),
            opts.insecure,
        )?;
        // A loopback registry without its own CA is almost always plain HTTP:
        // asking that first spares the TLS setup (tens of milliseconds). A TLS
        // server answers a plain request with 400, and HTTPS is tried next.
        let schemes: &[&str] = match (plain_ok, is_loopback(registry) && !tls.has_custom_roots()) {
            (false, _) => &["https"],
            (true, true) => &["http", "https"],
            (true, false) => &["https", "http"],
        };
        let connector = Arc::new(tls);
        let agent = ureq::AgentBuilder::new()
            .tls_connector(connector)
            .timeout_connect(opts.connect_timeout)
            .timeout_read(opts.io_timeout)
            .timeout_write(opts.io_timeout)
            .user_agent(concat!("lumos-oci/", env!("CARGO_PKG_VERSION")))
            .redirects(5)
            .build();
        let mut attempt = 0;
        let mut backoff = opts.backoff;
        loop {
            attempt += 1;
            // Why each scheme failed, all of them in the error: on loopback the
            // plain-HTTP answer comes first but the TLS failure is the news.
            let mut failures = Vec::new();
            for scheme in schemes {
                let url = format!("{scheme}://{registry}/v2/");
                let result = agent.get(&url).call();
                let resp = match result {
                    Ok(r) => Some(r),
                    Err(ureq::Error::Status(_, r)) => Some(r),
                    Err(ureq::Error::Transport(t)) => {
                        failures.push(format!("{scheme}: {t}"));
                        None
                    }
                };
                let Some(resp) = resp else { continue };
                let status = resp.status();
                if status == 200 || status == 401 {
                    let challenge = resp
                        .header("www-authenticate")
                        .map(|h| {
                            let (scheme, params) = parse_challenge(h);
                            match scheme.as_str() {
                                "bearer" => Challenge::Bearer {
                                    realm: params.get("realm").cloned().unwrap_or_default(),
                                    service: params.get("service").cloned(),
                                },
                                "basic" => Challenge::Basic,
                                _ => Challenge::None,
                            }
                        })
                        .unwrap_or(Challenge::None);
                    tracing::debug!(registry, scheme, "registry answered /v2/");
                    return Ok(Client {
                        registry: registry.to_string(),
                        base: format!("{scheme}://{registry}"),
                        agent,
                        found,
                        opts,
                        challenge: Mutex::new(challenge),
                        tokens: Mutex::new(HashMap::new()),
                        token_fetch: Mutex::new(()),
                        known_blobs: Mutex::new(HashSet::new()),
                    });
                }
                failures.push(format!("{scheme}: GET /v2/ answered HTTP {status}"));
            }
            let mut reason = if failures.is_empty() {
                "no answer".to_string()
            } else {
                failures.join("; ")
            };
            if attempt > opts.retries {
                if !plain_ok {
                    reason.push_str(
                        " (plain HTTP is only tried for loopback registries or with --insecure)",
                    );
                }
                return Err(Error::Unreachable {
                    registry: registry.to_string(),
                    attempts: attempt,
                    reason,
                });
            }
            tracing::debug!(registry, attempt, %reason, "registry not reachable, retrying");
            std::thread::sleep(backoff);
            backoff *= 2;
        }
    }

    /// `host[:port]`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `https://host[:port]` or `http://…`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Where the credentials came from (never the credentials).
    pub fn credentials_source(&self) -> &str {
        &self.found.source
    }

    fn credentials(&self) -> Option<&Credentials> {
        self.found.credentials.as_ref()
    }

    pub(crate) fn blob_known(&self, repo: &str, d: &Digest) -> bool {
        self.known_blobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(repo.to_string(), d.clone()))
    }

    /// Another repository of this registry known to hold `d` (to mount from).
    pub(crate) fn repo_holding(&self, d: &Digest) -> Option<String> {
        self.known_blobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(_, k)| k == d)
            .map(|(r, _)| r.clone())
    }

    pub(crate) fn remember_blob(&self, repo: &str, d: &Digest) {
        self.known_blobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((repo.to_string(), d.clone()));
    }

    fn scope(repo: &str, push: bool) -> String {
        format!(
            "repository:{repo}:{}",
            if push { "pull,push" } else { "pull" }
        )
    }

    /// The Authorization header for `scope`, fetching a token if needed.
    fn authorization(&self, scope: &str, refresh: bool) -> Result<Option<String>> {
        let challenge = self
            .challenge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match challenge {
            Challenge::None => Ok(None),
            Challenge::Basic => Ok(self.credentials().map(Credentials::basic_header)),
            Challenge::Bearer { realm, service } => {
                let cached = || {
                    self.tokens
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get(scope)
                        .map(|t| format!("Bearer {t}"))
                };
                if !refresh {
                    if let Some(t) = cached() {
                        return Ok(Some(t));
                    }
                }
                let known = cached();
                let _fetching = self.token_fetch.lock().unwrap_or_else(|p| p.into_inner());
                // Another thread may have fetched it (or refreshed it) meanwhile.
                if let Some(t) = cached().filter(|t| Some(t) != known.as_ref() || !refresh) {
                    return Ok(Some(t));
                }
                if let Some(rest) = realm.strip_prefix("http://") {
                    let host = rest.split(['/', '?']).next().unwrap_or(rest);
                    if !(self.opts.insecure || is_loopback(host)) {
                        return Err(Error::Credentials(format!(
                            "registry {} sends credentials to the plain-HTTP token service {realm}; \
                             refused (use --insecure to allow it)",
                            self.registry
                        )));
                    }
                }
                let mut url = format!("{realm}?scope={}", percent_encode(scope));
                if let Some(s) = service {
                    url.push_str(&format!("&service={}", percent_encode(&s)));
                }
                let mut req = self.agent.get(&url);
                if let Some(c) = self.credentials() {
                    req = req.set("Authorization", &c.basic_header());
                }
                let resp = match req.call() {
                    Ok(r) => r,
                    Err(ureq::Error::Status(401 | 403, _)) => return Ok(None),
                    Err(ureq::Error::Status(code, _)) => {
                        return Err(Error::Registry {
                            registry: self.registry.clone(),
                            method: "GET".into(),
                            path: "token endpoint".into(),
                            status: code,
                            message: "the token service refused".into(),
                        })
                    }
                    Err(ureq::Error::Transport(t)) => {
                        return Err(Error::Unreachable {
                            registry: realm,
                            attempts: 1,
                            reason: t.to_string(),
                        })
                    }
                };
                let v: Value = serde_json::from_reader(resp.into_reader())
                    .map_err(|e| Error::json("registry token response", e))?;
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Error::Registry {
                        registry: self.registry.clone(),
                        method: "GET".into(),
                        path: "token endpoint".into(),
                        status: 200,
                        message: "the answer has no `token` or `access_token`".into(),
                    })?
                    .to_string();
                self.tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(scope.to_string(), token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Sends one request to `path` (relative to the base URL, or absolute),
    /// authenticating for `repo` as needed and retrying transient failures.
    /// Every status except 401 (an [`Error::Unauthorized`]) comes back as a [`Reply`].
    pub fn send(
        &self,
        method: &str,
        path: &str,
        repo: &str,
        push: bool,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Reply> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let scope = Self::scope(repo, push);
        let mut attempt = 0u32;
        let mut backoff = self.opts.backoff;
        let mut auth_refreshed = false;
        let mut authz = self.authorization(&scope, false)?;
        loop {
            attempt += 1;
            let mut req = self.agent.request(method, &url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            if let Some(a) = &authz {
                req = req.set("Authorization", a);
            }
            let result = match body {
                Body::Empty => req.call(),
                Body::Bytes(b) => req
                    .set("Content-Length", &b.len().to_string())
                    .send_bytes(b),
                Body::File(p, len) => {
                    let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
                    req.set("Content-Length", &len.to_string())
                        .send(std::io::BufReader::with_capacity(1 << 20, f))
                }
            };
            let (retry_reason, resp) = match result {
                Ok(r) => (None, Some(r)),
                Err(ureq::Error::Status(401, r)) => {
                    if !auth_refreshed {
                        auth_refreshed = true;
                        if let Some(h) = r.header("www-authenticate") {
                            let (scheme, params) = parse_challenge(h);
                            let ch = match scheme.as_str() {
                                "bearer" => Challenge::Bearer {
                                    realm: params.get("realm").cloned().unwrap_or_default(),
                                    service: params.get("service").cloned(),
                                },
                                "basic" => Challenge::Basic,
                                _ => Challenge::None,
                            };
                            *self.challenge.lock().unwrap_or_else(|p| p.into_inner()) = ch;
                        }
                        let fresh = self.authorization(&scope, true)?;
                        if fresh.is_some() && fresh != authz {
                            authz = fresh;
                            attempt -= 1;
                            continue;
                        }
                    }
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        repository: repo.to_string(),
                        source_description: self.found.source.clone(),
                    });
                }
                Err(ureq::Error::Status(code @ (429 | 500 | 502 | 503 | 504), r)) => {
                    (Some(format!("HTTP {code}: {}", message_of(r))), None)
                }
                Err(ureq::Error::Status(_, r)) => (None, Some(r)),
                Err(ureq::Error::Transport(t)) => (Some(t.to_string()), None),
            };
            if let Some(response) = resp {
                return Ok(Reply {
                    status: response.status(),
                    response,
                });
            }
            let reason = retry_reason.unwrap_or_default();
            if attempt > self.opts.retries {
                return Err(Error::Unreachable {
                    registry: self.registry.clone(),
                    attempts: attempt,
                    reason: format!("{method} {}: {reason}", strip_query(&url)),
                });
            }
            tracing::debug!(registry = %self.registry, attempt, %reason, "retrying");
            std::thread::sleep(backoff);
            backoff *= 2;
        }
    }

    /// An [`Error::Registry`] for an unexpected reply.
    pub fn unexpected(&self, method: &str, path: &str, reply: Reply) -> Error {
        Error::Registry {
            registry: self.registry.clone(),
            method: method.to_string(),
            path: strip_query(path).to_string(),
            status: reply.status,
            message: message_of(reply.response),
        }
    }
}

/// A URL without its query (upload URLs carry state tokens).
fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(s, "basic");
        assert_eq!(p["realm"], "Registry Realm");
    }
}
