//! A Docker token service (the `auth.token` protocol of docker-registry) for
//! tests: it checks Basic credentials and issues RS256 JWTs signed with a
//! test key, whose certificate the real registry trusts through its
//! `rootcertbundle`. The signature is made by the `openssl` command.
//!
//! Runs on a free loopback port in a thread; every request is recorded so a
//! test can check which scopes a client asked for, and as whom.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;

/// The `service` the registry and the tokens name.
pub const SERVICE: &str = "lumos-test-registry";
/// The `iss` of every token.
pub const ISSUER: &str = "lumos-test-token-issuer";

/// One request to the token endpoint.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `scope` parameters, percent-decoded (`repository:ns/name:pull,push`).
    pub scopes: Vec<String>,
    /// The user of the Basic credentials sent, if any.
    pub user: Option<String>,
    /// Whether a token was issued.
    pub granted: bool,
}

/// A running token service, stopped when dropped.
pub struct TokenService {
    /// `http://127.0.0.1:PORT/token`.
    pub realm: String,
    /// PEM certificate of the signing key (the registry's `rootcertbundle`).
    pub cert: PathBuf,
    port: u16,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Signer {
    key: PathBuf,
    x5c: String,
    user: String,
    password: String,
}

impl TokenService {
    /// Starts a service in `dir` that grants tokens to `user`/`password` only.
    pub fn start(dir: &Path, user: &str, password: &str) -> TokenService {
        let (cert, key) =
            lumos_services::tls::self_signed(dir, "token", "/CN=lumos-test-token-issuer")
                .unwrap_or_else(|e| panic!("the token service's certificate: {e}"));
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in", cert.to_str().unwrap()])
            .output()
            .expect("openssl x509");
        assert!(der.status.success());
        let signer = Arc::new(Signer {
            key,
            x5c: base64::engine::general_purpose::STANDARD.encode(der.stdout),
            user: user.into(),
            password: password.into(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(conn) = conn {
                        serve(conn, &signer, &requests);
                    }
                }
            })
        };
        TokenService {
            realm: format!("http://127.0.0.1:{port}/token"),
            cert,
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// The `auth:` section of a docker-registry config trusting this service.
    pub fn registry_config(&self) -> String {
        format!(
            "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            self.realm,
            self.cert.display()
        )
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TokenService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, signer: &Signer, requests: &Mutex<Vec<TokenRequest>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut basic = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                basic = value.trim().strip_prefix("Basic ").and_then(|b| {
                    let raw = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
                    let text = String::from_utf8(raw).ok()?;
                    let (u, p) = text.split_once(':')?;
                    Some((u.to_string(), p.to_string()))
                });
            }
        }
    }
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let scopes: Vec<String> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("scope="))
        .map(percent_decode)
        .collect();
    let granted = basic
        .as_ref()
        .is_some_and(|(u, p)| *u == signer.user && *p == signer.password);
    requests.lock().unwrap().push(TokenRequest {
        scopes: scopes.clone(),
        user: basic.as_ref().map(|(u, _)| u.clone()),
        granted,
    });
    let mut out = conn;
    let reply = if granted {
        let token = signer.token(&scopes);
        let body = serde_json::json!({"token": token, "access_token": token, "expires_in": 300})
            .to_string();
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        let body = r#"{"details":"incorrect username or password"}"#;
        format!(
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let _ = out.write_all(reply.as_bytes());
}

impl Signer {
    /// An RS256 JWT granting every scope asked for.
    fn token(&self, scopes: &[String]) -> String {
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|s| {
                let (kind, rest) = s.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                Some(serde_json::json!({
                    "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()
                }))
            })
            .collect();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": self.user, "aud": SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", scopes.len()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-binary", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("openssl dgst");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(signing_input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl dgst -sign failed");
        format!("{signing_input}.{}", b64(&out.stdout))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
