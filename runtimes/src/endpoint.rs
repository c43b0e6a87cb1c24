//! Deployed services measured over HTTP (`cargo lumos bench --endpoint`):
//! nothing is pulled or started here; requests go to a URL (an ingress such
//! as Knative's Kourier/Envoy gateway, with a `Host` header naming the
//! service, or the service itself) through the same keep-alive client the
//! runner uses for its own HTTP instances ([`crate::http::Client`]: one
//! segment per request, TCP_NODELAY, prompt ACKs).
//!
//! - [`warm`]: one kept-alive connection, warm-up requests, then the measured
//!   ones. A request the transport fails (refused, reset, no answer within
//!   the timeout) is counted and ends the run: a refusing or hanging
//!   endpoint costs one timeout, not one per request.
//! - [`load`]: the runner's load levels, one kept-alive connection per
//!   client thread.
//! - [`cold`]: the service is first brought to zero ([`ColdPrep`]: a user
//!   command, or a wait for the platform's scale-to-zero), then one request
//!   on a new connection, retried while the connection is refused or the
//!   ingress answers 502, 503 or 504 (no instance yet), until the timeout;
//!   the first other answer ends it. The attempts are recorded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lumos_model::{ColdStart, Mode, Overhead, Protocol, RunResult};

use crate::host::{Failure, Reply};
use crate::http::Client;
use crate::measure::latency::Recorder;
use crate::run::WarmRun;

/// What is wrong with an endpoint, or with preparing a cold request.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("endpoint `{url}`: {reason}")]
    Url { url: String, reason: String },
    #[error("endpoint `{url}`: cannot resolve its host: {source}")]
    Resolve {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--cold-command `{command}`: {reason}")]
    ColdCommand { command: String, reason: String },
}

/// A deployed service: where requests go and the `Host` header they carry.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL as given.
    pub url: String,
    /// The `Host` header (the URL's host and port unless given).
    pub host: String,
    addr: SocketAddr,
    /// Path and query requests are posted to.
    path: String,
}

impl Endpoint {
    /// Checks `url` (`http://HOST[:PORT][/PATH]`) and resolves its host.
    /// `https` is refused: the client is plain HTTP/1.1 so that no TLS is in
    /// what it measures; give the ingress's plain-HTTP port.
    pub fn new(url: &str, host: Option<&str>) -> Result<Endpoint, EndpointError> {
        let bad = |reason: String| EndpointError::Url {
            url: url.to_string(),
            reason,
        };
        let u = url::Url::parse(url).map_err(|e| bad(format!("not a URL ({e})")))?;
        match u.scheme() {
            "http" => {}
            "https" => {
                return Err(bad(
                    "https is not supported: the client speaks plain HTTP/1.1 (no TLS in what it measures); \
                     give the ingress's http:// address"
                        .into(),
                ))
            }
            s => return Err(bad(format!("scheme `{s}` is not http:// (or https://)"))),
        }
        if u.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host".into()));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(bad("user information in the URL is not supported".into()));
        }
        let addr = u
            .socket_addrs(|| Some(80))
            .map_err(|source| EndpointError::Resolve {
                url: url.to_string(),
                source,
            })?
            .into_iter()
            .next()
            .ok_or_else(|| bad("its host resolves to no address".into()))?;
        let authority = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
            None => u.host_str().unwrap_or_default().to_string(),
        };
        let host = match host {
            Some(h) if h.trim().is_empty() || h.contains(['\r', '\n', ' ']) => {
                return Err(bad(format!("host `{h}` is not a Host header value")))
            }
            Some(h) => h.to_string(),
            None => authority,
        };
        let mut path = u.path().to_string();
        if let Some(q) = u.query() {
            path = format!("{path}?{q}");
        }
        Ok(Endpoint {
            url: url.to_string(),
            host,
            addr,
            path,
        })
    }

    /// The address requests are sent to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn client(&self) -> Client {
        Client::new(self.addr, &self.host, &self.path)
    }
}

/// How a service is brought to zero before each cold request.
#[derive(Debug, Clone)]
pub enum ColdPrep {
    /// `sh -c COMMAND`, which must exit 0 within `timeout`.
    Command { command: String, timeout: Duration },
    /// Wait this long with no request (the platform's scale-to-zero time).
    Wait(Duration),
}

impl ColdPrep {
    /// Runs the command, or waits.
    pub fn run(&self) -> Result<(), EndpointError> {
        match self {
            ColdPrep::Wait(d) => {
                std::thread::sleep(*d);
                Ok(())
            }
            ColdPrep::Command { command, timeout } => run_command(command, *timeout),
        }
    }
}

/// `sh -c command`, killed (with its process group) after `timeout`.
fn run_command(command: &str, timeout: Duration) -> Result<(), EndpointError> {
    use std::os::unix::process::CommandExt as _;
    let fail = |reason: String| EndpointError::ColdCommand {
        command: command.to_string(),
        reason,
    };
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("cannot start sh: {e}")))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(s)) if s.success() => return Ok(()),
            Ok(Some(s)) => return Err(fail(format!("exited with {s}"))),
            Ok(None) if Instant::now() >= deadline => {
                // SAFETY: kill(2) on the process group this function made
                // (the child is its leader and has not been reaped).
                unsafe {
                    libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
                }
                let _ = child.wait();
                return Err(fail(format!(
                    "still running after {:.1} s (--cold-command-timeout); killed",
                    timeout.as_secs_f64()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(fail(format!("waiting for it: {e}"))),
        }
    }
}

/// The counted kind of a failed request: `refused`, `timeout`, `io`,
/// `protocol`, or the HTTP status (`http-503`).
fn kind(result: &Result<Reply, Failure>) -> Option<String> {
    match result {
        Ok(Reply::Ok { .. }) => None,
        Ok(Reply::FunctionError { kind, .. }) => Some(kind.clone()),
        Err(Failure::Io(m)) if m.to_ascii_lowercase().contains("refused") => Some("refused".into()),
        Err(f) => Some(f.class().to_string()),
    }
}

/// What a failed request said, for `error_samples`.
fn message(ep: &Endpoint, result: &Result<Reply, Failure>) -> String {
    let what = match result {
        Ok(Reply::FunctionError { kind, message, .. }) => format!("{kind}: {message}"),
        Err(Failure::Timeout(d)) => format!("timeout: no answer within {:.1} s", d.as_secs_f64()),
        Err(Failure::Io(m)) => format!("i/o: {m}"),
        Err(f) => f.to_string(),
        Ok(Reply::Ok { .. }) => String::new(),
    };
    format!("{} (Host {}): {what}", ep.url, ep.host)
}

fn base(mode: Mode) -> RunResult {
    RunResult {
        mode,
        protocol: Protocol::Http,
        ..Default::default()
    }
}

fn count(r: &mut RunResult, ep: &Endpoint, result: &Result<Reply, Failure>) {
    if let Some(k) = kind(result) {
        r.errors += 1;
        *r.errors_by_kind.entry(k).or_default() += 1;
        if r.error_samples.len() < 5 {
            r.error_samples.push(message(ep, result));
        }
    } else if r.response_sha256.is_none() {
        if let Ok(Reply::Ok { body, .. }) = result {
            r.response_sha256 = Some(crate::run::sha256_hex(body));
        }
    }
}

/// Warm: one connection kept alive, `warmup` requests discarded, then
/// `requests` measured (see the module's notes for failures).
pub fn warm(
    ep: &Endpoint,
    payload: &[u8],
    warmup: usize,
    requests: usize,
    timeout: Duration,
) -> WarmRun {
    let mut r = base(Mode::Warm);
    let mut client = ep.client();
    for _ in 0..warmup {
        let result = client.call(payload, timeout);
        if result.is_err() {
            // The transport failed: counted, and the run ends.
            r.requests += 1;
            count(&mut r, ep, &result);
            return WarmRun {
                result: r,
                latencies: vec![],
                phases: vec![],
            };
        }
    }
    let mut rec = Recorder::new(true);
    let mut fun = Recorder::new(true);
    let mut latencies = Vec::with_capacity(requests);
    let mut metas = vec![];
    for _ in 0..requests {
        let t0 = Instant::now();
        let result = client.call(payload, timeout);
        let latency = t0.elapsed();
        r.requests += 1;
        count(&mut r, ep, &result);
        if result.is_err() {
            break;
        }
        rec.record(latency);
        latencies.push(latency);
        if let Ok(Reply::Ok { meta: Some(m), .. }) = &result {
            fun.record(Duration::from_nanos(m.total_ns));
            metas.push(m.clone());
        }
    }
    if !rec.is_empty() {
        let stats = rec.stats();
        r.latency_ms = Some(stats);
        r.warnings = rec.warnings();
        if !metas.is_empty() {
            let f = fun.stats();
            r.overhead_ms = Some(Overhead {
                p50: stats.p50 - f.p50,
                mean: stats.mean - f.mean,
            });
            r.phases_ms = Some(crate::run::phases_mean(&metas));
        }
    }
    WarmRun {
        result: r,
        latencies,
        phases: metas.iter().map(crate::run::phases_of).collect(),
    }
}

/// A deployed service as a load level's target: each client thread keeps
/// one connection of its own.
struct LoadTarget<'a> {
    ep: &'a Endpoint,
    timeout: Duration,
}

impl crate::measure::load::Target for LoadTarget<'_> {
    type Conn = Client;
    fn open(&self) -> Client {
        self.ep.client()
    }
    fn call(&self, client: &mut Client, body: &[u8]) -> (Duration, Option<String>) {
        let t0 = Instant::now();
        let result = client.call(body, self.timeout);
        (t0.elapsed(), kind(&result))
    }
    fn close(&self, _client: Client) -> (usize, u32) {
        // No instance is started here.
        (0, 0)
    }
    fn request_timeout(&self) -> Duration {
        self.timeout
    }
}

/// Load: throughput and latency at each concurrency level of `spec`, the
/// runner's load machinery with one kept-alive connection per client
/// thread instead of one instance (the service scales as it is deployed to).
pub fn load(
    ep: &Endpoint,
    payload: &[u8],
    spec: &crate::LoadSpec,
    timeout: Duration,
) -> crate::Result<RunResult> {
    spec.check()?;
    let target = LoadTarget { ep, timeout };
    let body = std::sync::Arc::new(payload.to_vec());
    let mut r = base(Mode::Load);
    let mut levels = vec![];
    for &c in &spec.concurrency {
        let lvl = crate::measure::load::run_level_with(&target, &body, spec, c)?;
        r.requests += lvl.sent;
        r.errors += lvl.errors;
        for (k, v) in &lvl.errors_by_kind {
            *r.errors_by_kind.entry(k.clone()).or_default() += v;
        }
        levels.push(lvl);
    }
    r.load = Some(levels);
    Ok(r)
}

/// A cold request's result and how many attempts it took.
#[derive(Debug, Clone)]
pub struct ColdRun {
    pub result: RunResult,
    /// Requests sent until one was answered other than by a refusal or a
    /// 502/503/504 (or the timeout ended it).
    pub attempts: u32,
}

/// Whether a cold attempt's outcome means "no instance yet": try again.
fn not_yet(result: &Result<Reply, Failure>) -> bool {
    match result {
        Err(Failure::Io(_)) => true,
        Ok(Reply::FunctionError { kind, .. }) => {
            matches!(kind.as_str(), "http-502" | "http-503" | "http-504")
        }
        _ => false,
    }
}

/// Cold: `prep` (a command, or a wait), then one request retried as the
/// module says until `timeout`. `ready` is the time until the attempt that
/// ended it began, `first_response` that attempt's round trip (its new
/// connection included), `total` both; `start` is 0 (no instance is started
/// here) and no pull or unpack is known.
pub fn cold(
    ep: &Endpoint,
    payload: &[u8],
    prep: &ColdPrep,
    timeout: Duration,
) -> Result<ColdRun, EndpointError> {
    prep.run()?;
    let mut r = base(Mode::Cold);
    let t0 = Instant::now();
    let deadline = t0 + timeout;
    let mut attempts = 0;
    let (result, began, done) = loop {
        attempts += 1;
        let mut client = ep.client();
        let began = Instant::now();
        let left = deadline.saturating_duration_since(began);
        let result = client.call(payload, left.max(Duration::from_millis(1)));
        let done = Instant::now();
        if not_yet(&result) && done < deadline {
            // A short pause: the ingress or the service is coming up.
            std::thread::sleep(Duration::from_millis(20).min(deadline - done));
            if Instant::now() < deadline {
                continue;
            }
        }
        break (result, began, done);
    };
    r.requests = 1;
    count(&mut r, ep, &result);
    if let Ok(Reply::Ok { meta, .. }) = &result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        r.cold_start_ms = Some(ColdStart {
            pull: None,
            unpack: None,
            start: 0.0,
            ready: ms(began - t0),
            first_response: ms(done - began),
            total: ms(done - t0),
        });
        if let Some(m) = meta {
            r.phases_ms = Some(crate::run::phases_mean(std::slice::from_ref(m)));
        }
    }
    Ok(ColdRun {
        result: r,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let e = |u: &str| Endpoint::new(u, None).unwrap_err().to_string();
        assert!(e("ftp://127.0.0.1/").contains("scheme `ftp` is not http://"));
        assert!(e("https://127.0.0.1/").contains("https is not supported"));
        assert!(e("127.0.0.1:8080").contains("endpoint `127.0.0.1:8080`"));
        let ep = Endpoint::new("http://127.0.0.1:8080/fn?x=1", None).unwrap();
        assert_eq!(
            (ep.host.as_str(), ep.path.as_str(), ep.addr.port()),
            ("127.0.0.1:8080", "/fn?x=1", 8080)
        );
        let ep = Endpoint::new("http://127.0.0.1", Some("f.default.example.com")).unwrap();
        assert_eq!(
            (ep.host.as_str(), ep.addr.port()),
            ("f.default.example.com", 80)
        );
    }

    #[test]
    fn a_cold_command_must_succeed_in_time() {
        let c = |cmd: &str, ms| ColdPrep::Command {
            command: cmd.into(),
            timeout: Duration::from_millis(ms),
        };
        c("true", 5000).run().unwrap();
        let e = c("exit 3", 5000).run().unwrap_err().to_string();
        assert!(e.contains("--cold-command `exit 3`: exited with"), "{e}");
        let e = c("sleep 30", 200).run().unwrap_err().to_string();
        assert!(e.contains("still running after 0.2 s"), "{e}");
    }
}
