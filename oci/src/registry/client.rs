//! A blocking client for the OCI distribution API: scheme choice (HTTPS, or
//! plain HTTP for loopback / `--insecure`; loopback asks plain HTTP first),
//! Basic and Bearer auth, retries with exponential backoff, and an overall
//! deadline on every operation.
//!
//! Deadlines: each operation (the `/v2/` probe over every scheme and retry;
//! one request with its retries, its token fetch and the reading of its
//! answer) must end within [`ClientOptions::timeout`], plus one second per
//! [`ClientOptions::min_rate`] bytes for a blob transfer. Retries and backoff
//! never go past it. The deadline is ureq's per-request `timeout`, which bounds
//! connecting, TLS, every read of the headers and body (a server that trickles
//! one header line a second is cut off), and the socket writes of an upload;
//! name resolution, which ureq cannot bound, runs in a helper thread
//! (`BoundedResolver`). What was waited for is named in [`Error::Deadline`].
//!
//! A plain HTTP client rather than `oci-client`: pushing raw manifest bytes,
//! HEAD-before-upload and monolithic uploads are all this needs, and owning
//! the requests keeps digests exact and credentials out of every message.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::auth::{self, Credentials, Found};
use super::tls::{self, LazyTls};
use crate::digest::Digest;
use crate::error::{seconds, Error, Result};
use crate::reference::{is_loopback, validate_host};

/// The default [`ClientOptions::timeout`]: the most one registry operation
/// (the `/v2/` probe, a manifest, a HEAD, a token) may take, retries included.
/// Generous for a registry across the world; a registry that has not answered
/// a small request in a minute is not going to.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The default [`ClientOptions::min_rate`]: 512 KiB/s (about 4 Mbit/s). A blob
/// transfer gets one more second per 512 KiB of its size on top of
/// [`DEFAULT_TIMEOUT`] (a 28 MiB debian-slim layer: 60 + 56 s), so a slow but
/// working link is waited for while a server that stalls or trickles is not.
pub const DEFAULT_MIN_RATE: u64 = 512 << 10;

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
    /// The overall deadline of one operation (see the module docs):
    /// [`DEFAULT_TIMEOUT`] by default.
    pub timeout: Duration,
    /// Bytes per second a blob transfer is allowed on top of `timeout`
    /// ([`DEFAULT_MIN_RATE`]); at least 1.
    pub min_rate: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            ca_cert: None,
            credentials: None,
            retries: 4,
            backoff: Duration::from_millis(200),
            timeout: DEFAULT_TIMEOUT,
            min_rate: DEFAULT_MIN_RATE,
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
    /// For requests with a body: never a pooled connection. ureq gives a
    /// new connection socket timeouts from the deadline but a pooled one
    /// none at all, so an upload a server stops reading would block in a
    /// write forever.
    upload_agent: ureq::Agent,
    found: Found,
    opts: ClientOptions,
    challenge: Mutex<Challenge>,
    tokens: Mutex<HashMap<String, String>>,
    /// Held while a token is fetched, so parallel uploads of one repository
    /// ask the token service once and share the answer.
    token_fetch: Mutex<()>,
    known_blobs: Mutex<HashSet<(String, Digest)>>,
    /// Blobs some worker of this client is uploading or mounting now, with
    /// the condition the others wait on. Two uploads of one blob into one
    /// repository make docker-registry (distribution 2.8) rewrite the
    /// repository's link file while a manifest PUT reads it: the PUT then
    /// fails with DIGEST_INVALID / MANIFEST_BLOB_UNKNOWN (seen in CI).
    in_flight: (Mutex<HashSet<(String, Digest)>>, Condvar),
}

/// This client's one upload of a blob into a repository; dropping it lets
/// the workers waiting for the same blob go on.
pub(crate) struct BlobClaim<'a> {
    client: &'a Client,
    key: (String, Digest),
}

impl Drop for BlobClaim<'_> {
    fn drop(&mut self) {
        let (set, done) = &self.client.in_flight;
        set.lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
        done.notify_all();
    }
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
    /// Where the operation must end (reading the body included).
    deadline: Instant,
    /// The operation's whole allowance, for messages.
    budget: Duration,
    registry: String,
    /// `GET /v2/…` (no query).
    request: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.header(name)
    }

    /// The body. It ends by the operation's deadline: a read past it fails
    /// with [`Error::Deadline`], any other read failure is an
    /// [`Error::Transfer`] naming the registry and the request (both carried
    /// in the `io::Error`, see `digest::unwrap_io`).
    pub fn into_reader(self) -> ReplyReader {
        ReplyReader {
            inner: Box::new(self.response.into_reader()),
            deadline: self.deadline,
            budget: self.budget,
            registry: self.registry,
            request: self.request,
            read: 0,
        }
    }
}

/// The body of a [`Reply`].
pub struct ReplyReader {
    inner: Box<dyn Read + Send + Sync>,
    deadline: Instant,
    budget: Duration,
    registry: String,
    request: String,
    read: u64,
}

impl Read for ReplyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) if is_timeout(&e) || Instant::now() >= self.deadline => {
                Err(io::Error::other(Error::Deadline {
                    service: "registry",
                    host: self.registry.clone(),
                    request: self.request.clone(),
                    after: self.budget,
                    detail: format!("; the answer stopped after {} body bytes", self.read),
                }))
            }
            Err(e) => Err(io::Error::other(Error::Transfer {
                service: "registry",
                host: self.registry.clone(),
                request: self.request.clone(),
                source: io::Error::new(e.kind(), format!("{e} (after {} body bytes)", self.read)),
            })),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Whether a ureq transport error is a timeout (or came at the deadline).
fn timed_out(t: &ureq::Transport, deadline: Instant) -> bool {
    if Instant::now() >= deadline {
        return true;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(t);
    while let Some(s) = source {
        if s.downcast_ref::<io::Error>().is_some_and(is_timeout) {
            return true;
        }
        source = s.source();
    }
    false
}

thread_local! {
    /// The deadline of the request this thread is making, for [`BoundedResolver`].
    static CURRENT_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Makes `deadline` visible to the resolver for the ureq call this thread
/// makes while the guard lives.
struct DeadlineScope(Option<Instant>);

impl DeadlineScope {
    fn enter(deadline: Instant) -> Self {
        DeadlineScope(CURRENT_DEADLINE.with(|c| c.replace(Some(deadline))))
    }
}

impl Drop for DeadlineScope {
    fn drop(&mut self) {
        CURRENT_DEADLINE.with(|c| c.set(self.0));
    }
}

/// Name resolution bounded by the current request's deadline. `getaddrinfo`
/// cannot be interrupted and ureq does not bound it, so it runs in a thread
/// that is abandoned (and ends on its own) when the deadline comes first.
/// IP literals are answered at once.
struct BoundedResolver;

impl ureq::Resolver for BoundedResolver {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        if let Ok(a) = netloc.parse::<SocketAddr>() {
            return Ok(vec![a]);
        }
        let wait = CURRENT_DEADLINE
            .with(Cell::get)
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(DEFAULT_TIMEOUT);
        let (tx, rx) = std::sync::mpsc::channel();
        let name = netloc.to_string();
        std::thread::Builder::new()
            .name("lumos-oci-resolve".into())
            .spawn(move || {
                let _ = tx.send(name.to_socket_addrs().map(|i| i.collect::<Vec<_>>()));
            })?;
        match rx.recv_timeout(wait) {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("resolving {netloc} took too long"),
            )),
        }
    }
}

/// A request body that stops the upload once the deadline has passed (ureq
/// bounds each socket write, this bounds the sum of them).
struct DeadlineBody<R> {
    inner: R,
    deadline: Instant,
}

impl<R: Read> Read for DeadlineBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "deadline passed while uploading",
            ));
        }
        self.inner.read(buf)
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

/// Splits `Bearer realm="…",service="…"` into scheme and parameters: the
/// one parser of `WWW-Authenticate` in Lumos. Hand-written (30 lines, quoted
/// strings and escapes) because a registry sends one challenge and ureq has
/// no parser of its own; a crate would add a dependency for this alone.
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

fn challenge_of(header: Option<&str>) -> Challenge {
    header
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
        .unwrap_or(Challenge::None)
}

/// Sleeps `backoff` and returns true, unless the deadline would pass first
/// (then false at once: no time for another attempt).
fn backoff_within(backoff: Duration, deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    if left <= backoff {
        return false;
    }
    std::thread::sleep(backoff);
    true
}

impl Client {
    /// Connects to `registry` (`host[:port]`, checked first): picks the scheme
    /// by asking `GET /v2/` (HTTPS first; plain HTTP only for loopback or
    /// `insecure`), retrying with backoff while it cannot be reached, all
    /// within [`ClientOptions::timeout`].
    pub fn connect(registry: &str, opts: ClientOptions) -> Result<Self> {
        validate_host(registry)?;
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
        // No per-agent connect or read timeouts: each request carries its
        // operation's deadline, which ureq applies to connecting and to every
        // read and write.
        let builder = || {
            ureq::AgentBuilder::new()
                .tls_connector(connector.clone())
                .resolver(BoundedResolver)
                .user_agent(concat!("lumos-oci/", env!("CARGO_PKG_VERSION")))
                .redirects(5)
        };
        let agent = builder().build();
        let upload_agent = builder().max_idle_connections(0).build();
        let budget = opts.timeout;
        let deadline = Instant::now() + budget;
        let mut attempt = 0;
        let mut backoff = opts.backoff;
        // Why each scheme failed, all of them in the error: on loopback the
        // plain-HTTP answer comes first but the TLS failure is the news.
        let mut failures = Vec::new();
        loop {
            attempt += 1;
            failures.clear();
            for scheme in schemes {
                let url = format!("{scheme}://{registry}/v2/");
                let left = deadline.saturating_duration_since(Instant::now());
                let result = {
                    let _scope = DeadlineScope::enter(deadline);
                    agent.get(&url).timeout(left).call()
                };
                let resp = match result {
                    Ok(r) => r,
                    Err(ureq::Error::Status(_, r)) => r,
                    Err(ureq::Error::Transport(t)) => {
                        if timed_out(&t, deadline) {
                            let detail = if failures.is_empty() {
                                String::new()
                            } else {
                                format!(" (before that: {})", failures.join("; "))
                            };
                            return Err(Error::Deadline {
                                service: "registry",
                                host: registry.to_string(),
                                request: "GET /v2/".into(),
                                after: budget,
                                detail,
                            });
                        }
                        failures.push(format!("{scheme}: {t}"));
                        continue;
                    }
                };
                let status = resp.status();
                if status == 200 || status == 401 {
                    let challenge = challenge_of(resp.header("www-authenticate"));
                    tracing::debug!(registry, scheme, "registry answered /v2/");
                    return Ok(Client {
                        registry: registry.to_string(),
                        base: format!("{scheme}://{registry}"),
                        agent,
                        upload_agent,
                        found,
                        opts,
                        challenge: Mutex::new(challenge),
                        tokens: Mutex::new(HashMap::new()),
                        token_fetch: Mutex::new(()),
                        known_blobs: Mutex::new(HashSet::new()),
                        in_flight: (Mutex::new(HashSet::new()), Condvar::new()),
                    });
                }
                failures.push(format!("{scheme}: GET /v2/ answered HTTP {status}"));
            }
            let mut reason = if failures.is_empty() {
                "no answer".to_string()
            } else {
                failures.join("; ")
            };
            let retry = attempt <= opts.retries && backoff_within(backoff, deadline);
            if !retry {
                if attempt <= opts.retries {
                    reason.push_str(&format!(
                        " (no time left to retry within {})",
                        seconds(budget)
                    ));
                }
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

    /// The allowance of one operation that moves `bytes` of content:
    /// [`ClientOptions::timeout`] plus one second per [`ClientOptions::min_rate`] bytes.
    pub fn budget(&self, bytes: u64) -> Duration {
        let rate = self.opts.min_rate.max(1);
        self.opts.timeout + Duration::from_secs_f64(bytes as f64 / rate as f64)
    }

    /// Refuses, before any credentials are sent, a registry whose `/v2/`
    /// challenge names a plain-HTTP token service off this machine (unless
    /// [`ClientOptions::insecure`]): the rule this client keeps for its own
    /// token requests, for a pull another program makes with the credentials.
    pub fn check_token_service(&self) -> Result<()> {
        let challenge = self
            .challenge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match challenge {
            Challenge::Bearer { realm, .. } => self.refuse_plain_http_realm(&realm),
            _ => Ok(()),
        }
    }

    fn refuse_plain_http_realm(&self, realm: &str) -> Result<()> {
        let (token_host, _) = split_url(realm);
        if realm.starts_with("http://") && !(self.opts.insecure || is_loopback(token_host)) {
            return Err(Error::Credentials(format!(
                "registry {} sends credentials to the plain-HTTP token service {realm}; \
                 refused (use --insecure to allow it)",
                self.registry
            )));
        }
        Ok(())
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

    /// The right to upload `d` into `repo`: `None` when the blob is known
    /// to be there (waiting first while another worker uploads it).
    pub(crate) fn claim_blob(&self, repo: &str, d: &Digest) -> Option<BlobClaim<'_>> {
        let key = (repo.to_string(), d.clone());
        let (set, done) = &self.in_flight;
        let mut busy = set.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.blob_known(repo, d) {
                return None;
            }
            if busy.insert(key.clone()) {
                return Some(BlobClaim { client: self, key });
            }
            busy = done.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
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

    /// The Authorization header for `scope`, fetching a token if needed
    /// (by `deadline`, the deadline of the request it is for).
    fn authorization(
        &self,
        scope: &str,
        refresh: bool,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Option<String>> {
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
                let (token_host, token_path) = split_url(&realm);
                self.refuse_plain_http_realm(&realm)?;
                let waited = || Error::Deadline {
                    service: "token service",
                    host: token_host.to_string(),
                    request: format!("GET {token_path}"),
                    after: budget,
                    detail: format!(" (a token for {})", self.registry),
                };
                let mut url = format!("{realm}?scope={}", percent_encode(scope));
                if let Some(s) = service {
                    url.push_str(&format!("&service={}", percent_encode(&s)));
                }
                let left = deadline.saturating_duration_since(Instant::now());
                let mut req = self.agent.get(&url).timeout(left);
                if let Some(c) = self.credentials() {
                    req = req.set("Authorization", &c.basic_header());
                }
                let result = {
                    let _scope = DeadlineScope::enter(deadline);
                    req.call()
                };
                let resp = match result {
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
                    Err(ureq::Error::Transport(t)) if timed_out(&t, deadline) => {
                        return Err(waited())
                    }
                    Err(ureq::Error::Transport(t)) => {
                        return Err(Error::Unreachable {
                            registry: realm,
                            attempts: 1,
                            reason: t.to_string(),
                        })
                    }
                };
                // A token answer is a few KiB; more is not a token service.
                let mut body = Vec::new();
                resp.into_reader()
                    .take(1 << 20)
                    .read_to_end(&mut body)
                    .map_err(|e| {
                        if is_timeout(&e) || Instant::now() >= deadline {
                            waited()
                        } else {
                            Error::Transfer {
                                service: "token service",
                                host: token_host.to_string(),
                                request: format!("GET {token_path}"),
                                source: e,
                            }
                        }
                    })?;
                let v: Value = serde_json::from_slice(&body)
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
    /// authenticating for `repo` as needed and retrying transient failures,
    /// all within [`Client::budget`] of the body's size.
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
        let bytes = match body {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::File(_, len) => len,
        };
        self.send_within(method, path, repo, push, headers, body, self.budget(bytes))
    }

    /// `GET` of a blob of `size` bytes (the deadline allows for its size).
    pub fn get_blob(&self, path: &str, repo: &str, size: u64) -> Result<Reply> {
        self.send_within(
            "GET",
            path,
            repo,
            false,
            &[],
            Body::Empty,
            self.budget(size),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn send_within(
        &self,
        method: &str,
        path: &str,
        repo: &str,
        push: bool,
        headers: &[(&str, &str)],
        body: Body<'_>,
        budget: Duration,
    ) -> Result<Reply> {
        let deadline = Instant::now() + budget;
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let request = format!("{method} {}", shown_path(&url));
        // Upload URLs may point at another host (a storage redirect).
        let host = split_url(&url).0.to_string();
        let waited = |detail: String| Error::Deadline {
            service: "registry",
            host: host.clone(),
            request: request.clone(),
            after: budget,
            detail,
        };
        let scope = Self::scope(repo, push);
        let mut attempt = 0u32;
        let mut backoff = self.opts.backoff;
        let mut auth_refreshed = false;
        let mut authz = self.authorization(&scope, false, deadline, budget)?;
        let mut last_reason = String::new();
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(waited(last_reason));
            }
            let agent = match body {
                Body::Empty => &self.agent,
                _ => &self.upload_agent,
            };
            let mut req = agent.request(method, &url).timeout(left);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            if let Some(a) = &authz {
                req = req.set("Authorization", a);
            }
            let file = match body {
                Body::File(p, _) => Some(std::fs::File::open(p).map_err(|e| Error::io(p, e))?),
                _ => None,
            };
            let in_scope = DeadlineScope::enter(deadline);
            let result = match (body, file) {
                (Body::Bytes(b), _) => req
                    .set("Content-Length", &b.len().to_string())
                    .send(DeadlineBody { inner: b, deadline }),
                (Body::File(_, len), Some(f)) => {
                    req.set("Content-Length", &len.to_string())
                        .send(DeadlineBody {
                            inner: io::BufReader::with_capacity(1 << 20, f),
                            deadline,
                        })
                }
                _ => req.call(),
            };
            drop(in_scope);
            let (retry_reason, resp) = match result {
                Ok(r) => (None, Some(r)),
                Err(ureq::Error::Status(401, r)) => {
                    if !auth_refreshed {
                        auth_refreshed = true;
                        if let Some(h) = r.header("www-authenticate") {
                            let ch = challenge_of(Some(h));
                            *self.challenge.lock().unwrap_or_else(|p| p.into_inner()) = ch;
                        }
                        let fresh = self.authorization(&scope, true, deadline, budget)?;
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
                Err(ureq::Error::Transport(t)) if timed_out(&t, deadline) => {
                    let detail = if last_reason.is_empty() {
                        String::new()
                    } else {
                        format!(" (attempt {attempt}; before that: {last_reason})")
                    };
                    return Err(waited(detail));
                }
                Err(ureq::Error::Transport(t)) => (Some(t.to_string()), None),
            };
            if let Some(response) = resp {
                return Ok(Reply {
                    status: response.status(),
                    response,
                    deadline,
                    budget,
                    registry: host.clone(),
                    request: request.clone(),
                });
            }
            let reason = retry_reason.unwrap_or_default();
            if attempt > self.opts.retries || !backoff_within(backoff, deadline) {
                let why = if attempt > self.opts.retries {
                    String::new()
                } else {
                    format!(" (no time left to retry within {})", seconds(budget))
                };
                return Err(Error::Unreachable {
                    registry: host.clone(),
                    attempts: attempt,
                    reason: format!("{request}: {reason}{why}"),
                });
            }
            tracing::debug!(registry = %self.registry, attempt, %reason, "retried");
            last_reason = reason;
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

/// `host[:port]` and path (no query) of an absolute URL.
fn split_url(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = strip_query(rest);
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    }
}

/// The path of a request URL as shown in messages (no host, no query).
fn shown_path(url: &str) -> &str {
    split_url(url).1
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
