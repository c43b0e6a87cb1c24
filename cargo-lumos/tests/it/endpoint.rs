//! `cargo lumos bench --endpoint URL` / `--endpoints FILE`: deployed
//! services measured over HTTP. End to end: two HTTP functions run by the
//! containerd sandbox, each in a network namespace of its own, behind a real
//! Envoy that routes by Host header as Knative's Kourier gateway does; then
//! the bad inputs (a refusing and a hanging endpoint, a malformed endpoints
//! file, a URL that is not http).

use crate::common::*;
use lumos_runtimes::{Job, Limits, Protocol, RunOpts, Runner, Runtime, Sandbox};
use sha2::Digest as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The two functions of the bench workspace and their group-1 requests
/// (lengths differ, so do the fixture's answers `{"bytes":LEN}`).
const FUNCTIONS: [(&str, &str); 2] = [
    ("alpha", r#"{"n":1}"#),
    ("beta", r#"{"text":"hello endpoint"}"#),
];

/// A workspace holding the two functions (never built: endpoint mode only
/// reads their metadata and payloads).
fn workspace(dir: &Path) -> PathBuf {
    write(
        &dir.join("Cargo.toml"),
        "[workspace]\nmembers = [\"alpha\", \"beta\"]\nresolver = \"2\"\n",
    );
    for (name, request) in FUNCTIONS {
        let p = dir.join(name);
        write(
            &p.join("Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [package.metadata.lumos]\nprotocol = \"http\"\nruntimes = [\"native\"]\npayloads = \"payloads.toml\"\n"
            ),
        );
        write(&p.join("src/main.rs"), "fn main() {}\n");
        write(
            &p.join("payloads.toml"),
            &format!("[group.1]\nrequest = '{request}'\n"),
        );
    }
    dir.join("Cargo.toml")
}

fn free_port() -> u16 {
    lumos_runtimes::http::free_port().unwrap()
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The runtimes fixture `fixture-http` (serves `POST /` on $PORT, answers
/// `{"bytes":LEN}`), packed as a native image and pushed to `reg`.
fn pushed_http_fixture(reg: &lumos_test_support::Registry, dir: &Path) -> String {
    use lumos_model::Arch;
    use lumos_oci::image::{pack_native, ImageMeta};
    let fixtures = repo_root().join("runtimes/tests/fixtures");
    let target =
        lumos_test_support::fixtures::build_musl_and_wasm(&fixtures, "lumos-runtimes-fixtures");
    let bin = std::fs::read(target.join("x86_64-unknown-linux-musl/release/fixture-http")).unwrap();
    let root = dir.join("oci");
    let layout = lumos_oci::Layout::create(&root).unwrap();
    let meta = ImageMeta {
        namespace: "t".into(),
        function: "fixture-http".into(),
        created: 0,
        source: None,
        revision: None,
        protocol: Some(Protocol::Http),
        port: None,
        args: vec![],
    };
    let p = pack_native(&layout, &meta, &bin, Arch::X86_64, None).unwrap();
    layout
        .set_refs(&[(p.name.clone(), p.descriptor.clone())])
        .unwrap();
    reg.push(&root, &p.name, "lumos/fixture-http", "native-x86_64")
}

/// A process stopped by its PID when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain GET to Envoy's admin port; the body.
fn admin_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Envoy on loopback `listen`, one virtual host per (Host names, upstream):
/// Knative's ingress in miniature. Its access log: start time, Host,
/// upstream, status of every request.
fn envoy(dir: &Path, listen: u16, admin: u16, routes: &[(Vec<String>, SocketAddr)]) -> Killed {
    let bin = lumos_test_support::require("envoy");
    let log = dir.join("access.log");
    let vhosts: Vec<serde_json::Value> = routes
        .iter()
        .enumerate()
        .map(|(i, (domains, _))| {
            serde_json::json!({
                "name": format!("fn{i}"),
                "domains": domains,
                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": format!("fn{i}")}}]
            })
        })
        .collect();
    let clusters: Vec<serde_json::Value> = routes
        .iter()
        .enumerate()
        .map(|(i, (_, addr))| {
            serde_json::json!({
                "name": format!("fn{i}"),
                "type": "STATIC",
                "connect_timeout": "2s",
                "load_assignment": {"cluster_name": format!("fn{i}"), "endpoints": [{"lb_endpoints": [
                    {"endpoint": {"address": {"socket_address": {"address": addr.ip().to_string(), "port_value": addr.port()}}}}
                ]}]}
            })
        })
        .collect();
    let config = serde_json::json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [{
                "name": "ingress",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "ingress",
                        "access_log": [{
                            "name": "envoy.access_loggers.file",
                            "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                                "path": log,
                                "log_format": {"text_format_source": {"inline_string":
                                    "%START_TIME(%s.%6f)% %REQ(:AUTHORITY)% %UPSTREAM_HOST% %RESPONSE_CODE%\n"}}
                            }
                        }],
                        "route_config": {"virtual_hosts": vhosts},
                        "http_filters": [{
                            "name": "envoy.filters.http.router",
                            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
                        }]
                    }
                }]}]
            }],
            "clusters": clusters
        }
    });
    let path = dir.join("envoy.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let child = Command::new(bin)
        .arg("-c")
        .arg(&path)
        .args([
            "--disable-hot-restart",
            "--concurrency",
            "1",
            "-l",
            "error",
            "--file-flush-interval-msec",
            "50",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("envoy.err")).unwrap())
        .spawn()
        .unwrap();
    let envoy = Killed(child);
    let until = Instant::now() + Duration::from_secs(30);
    while admin_get(admin, "/ready").is_none_or(|b| !b.contains("LIVE")) {
        assert!(
            Instant::now() < until,
            "envoy not ready: {}",
            std::fs::read_to_string(dir.join("envoy.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    envoy
}

/// Envoy's count of requests its listener took.
fn envoy_requests(admin: u16) -> u64 {
    admin_get(admin, "/stats?filter=http.ingress.downstream_rq_total")
        .and_then(|b| {
            b.lines()
                .find_map(|l| l.strip_prefix("http.ingress.downstream_rq_total: "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The access log once every request Envoy took is in it.
fn access_log(dir: &Path, admin: u16) -> Vec<(f64, String, String, String)> {
    let total = envoy_requests(admin);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
        let lines: Vec<(f64, String, String, String)> = text
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].parse().unwrap(),
                    f[1].to_string(),
                    f[2].to_string(),
                    f[3].to_string(),
                )
            })
            .collect();
        if lines.len() as u64 >= total || Instant::now() > until {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn row<'a>(json: &'a serde_json::Value, function: &str, mode: &str) -> &'a serde_json::Value {
    rows(json)
        .iter()
        .find(|r| r["function"] == function && r["mode"] == mode)
        .unwrap_or_else(|| panic!("no {function} {mode} row in {json}"))
}

/// Two functions under containerd (own network namespaces) behind Envoy;
/// `bench --endpoints FILE` with a cold command, then `bench --endpoint
/// URL` with Knative's Host names.
#[test]
fn two_functions_under_containerd_behind_envoy() {
    if !is_root() {
        eprintln!("SKIPPED: the containerd sandbox needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let reg = lumos_test_support::Registry::plain();
    let image = pushed_http_fixture(&reg, tmp.path());
    let opts = RunOpts {
        runner_exe: Some(lumos_test_support::workspace_bin("lumos-runner")),
        sandbox: Some(Sandbox::Containerd),
        limits: Limits {
            memory_bytes: Some(256 << 20),
            cpus: None,
            request_timeout: Duration::from_secs(10),
            start_timeout: Duration::from_secs(20),
        },
        ..Default::default()
    };
    let runner = Runner::new(opts).unwrap();
    let job = Job {
        image: &image,
        runtime: Runtime::Native,
        payload: b"{}",
        args: &[],
        protocol: Some(Protocol::Http),
        cache: None,
        group: None,
        node: None,
    };
    let prepared = runner.prepare(&job).unwrap();
    let start = || {
        runner
            .start(&prepared, &job)
            .unwrap_or_else(|e| panic!("{}", lumos_model::error_chain(&e)))
    };
    let (a, b) = (start(), start());
    let addrs = [a.http_addr().unwrap(), b.http_addr().unwrap()];
    assert_eq!(a.sandbox, Some(Sandbox::ContainerdRunc));
    // Each in a network namespace of its own: not on the host's loopback.
    assert!(addrs.iter().all(|s| !s.ip().is_loopback()), "{addrs:?}");
    assert_ne!(addrs[0].ip(), addrs[1].ip());

    // Knative's Host for `cargo lumos deploy`'s Service names, and a short one
    // for the endpoints file.
    let knative = |f: &str| format!("{f}-native-x86-64.default.example.com");
    let routes: Vec<(Vec<String>, SocketAddr)> = FUNCTIONS
        .iter()
        .zip(addrs)
        .map(|((f, _), addr)| (vec![knative(f), format!("{f}.test")], addr))
        .collect();
    let (listen, admin) = (free_port(), free_port());
    let _envoy = envoy(tmp.path(), listen, admin, &routes);
    let url = format!("http://127.0.0.1:{listen}/");

    let manifest = workspace(&tmp.path().join("ws"));
    let file = tmp.path().join("endpoints.toml");
    let mut entries = String::new();
    for (f, _) in FUNCTIONS {
        entries.push_str(&format!(
            "[[endpoint]]\nfunction = \"{f}\"\nruntime = \"native\"\nurl = \"{url}\"\nhost = \"{f}.test\"\n\n"
        ));
    }
    write(&file, &entries);
    let cmd_log = tmp.path().join("cold-commands");
    let cold_command = format!("date +%s.%N >> {}", cmd_log.display());
    let json = tmp.path().join("file.json");
    let out = bench(
        &manifest,
        &tmp.path().join("target"),
        &[
            "--endpoints",
            file.to_str().unwrap(),
            "--runtime",
            "native",
            "--mode",
            "cold,warm",
            "--repeat",
            "2",
            "--quick",
            "--cold-command",
            &cold_command,
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("endpoint: alpha native: {url} (Host alpha.test)")),
        "{}",
        stdout(&out)
    );
    let j = read_json(&json);
    for (f, request) in FUNCTIONS {
        let want = sha256_hex(format!("{{\"bytes\":{}}}", request.len()).as_bytes());
        for mode in ["cold", "warm"] {
            let r = row(&j, f, mode);
            assert_eq!(r["errors"], 0, "{f} {mode}: {r}");
            assert!(r["ok"].as_u64().unwrap() > 0, "{f} {mode}: {r}");
            assert_eq!(r["response_sha256"], want.as_str(), "{f} {mode}");
            assert_eq!(r["endpoint"]["url"], url.as_str());
            assert_eq!(r["endpoint"]["host"], format!("{f}.test"));
            assert!(r.get("sandbox").is_none(), "{r}");
        }
        let cold = row(&j, f, "cold");
        assert_eq!(cold["endpoint"]["cold_command"], cold_command.as_str());
        assert_eq!(cold["endpoint"]["cold_attempts"], serde_json::json!([1, 1]));
        // The fixture reports its phases: the SDK's split, as for HTTP rows.
        assert!(row(&j, f, "warm")["phases_ms"]["compute"].is_number());
    }
    // Envoy routed each Host to its function's namespace, and the command
    // ran before each cold request: each command is followed by a request
    // of the function whose cold row it prepared before the next command.
    let log = access_log(tmp.path(), admin);
    for (_, host, upstream, code) in &log {
        let i = FUNCTIONS
            .iter()
            .position(|(f, _)| host == &format!("{f}.test"))
            .unwrap_or_else(|| panic!("unexpected Host {host}"));
        assert_eq!(upstream, &addrs[i].to_string(), "{host}");
        assert_eq!(code, "200");
    }
    let commands: Vec<f64> = std::fs::read_to_string(&cmd_log)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(commands.len(), 4, "two cold requests per function");
    for (i, c) in commands.iter().enumerate() {
        let next_request = log.iter().find(|l| l.0 >= *c).expect("a request after it");
        let next_command = commands.get(i + 1).copied().unwrap_or(f64::MAX);
        assert!(
            next_request.0 < next_command,
            "command {i}: no request before the next command"
        );
        let f = FUNCTIONS[i / 2].0;
        assert_eq!(next_request.1, format!("{f}.test"), "command {i}");
    }

    // --endpoint URL: the Host is `<service>.<namespace>.<domain>`.
    let json = tmp.path().join("ingress.json");
    let out = bench(
        &manifest,
        &tmp.path().join("target"),
        &[
            "--endpoint",
            &url,
            "--runtime",
            "native",
            "--quick",
            "--concurrency",
            "2",
            "--load-requests",
            "40",
            "--load-function",
            "alpha",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    assert_eq!(rows(&j).len(), 3, "warm, and load once asked for: {j}");
    for (f, _) in FUNCTIONS {
        let r = row(&j, f, "warm");
        assert_eq!(r["errors"], 0, "{r}");
        assert_eq!(r["endpoint"]["host"], knative(f));
    }
    // Load through the ingress: two client threads, one connection each.
    let load = row(&j, "alpha", "load");
    assert_eq!(load["endpoint"]["host"], knative("alpha"));
    let level = &load["load"][0];
    assert_eq!(level["concurrency"], 2, "{load}");
    assert_eq!(
        (level["ok"].as_u64(), level["errors"].as_u64()),
        (Some(40), Some(0)),
        "{load}"
    );
    a.stop(Duration::from_millis(200));
    b.stop(Duration::from_millis(200));
}

/// A refusing and a hanging endpoint: every error counted by kind, each
/// row ends by its deadline, the run says it measured nothing.
#[test]
fn refusing_and_hanging_endpoints_are_counted_and_the_run_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = workspace(&tmp.path().join("ws"));
    let refusing = free_port();
    // Accepts connections (the kernel's backlog) and never answers.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let file = tmp.path().join("endpoints.toml");
    write(
        &file,
        &format!(
            "[[endpoint]]\nfunction = \"alpha\"\nvariant = \"native-x86_64\"\nurl = \"http://127.0.0.1:{refusing}/\"\n\n\
             [[endpoint]]\nfunction = \"beta\"\nruntime = \"native\"\nurl = \"http://{}/\"\n",
            hanging.local_addr().unwrap()
        ),
    );
    let json = tmp.path().join("out.json");
    let out = bench(
        &manifest,
        &tmp.path().join("target"),
        &[
            "--endpoints",
            file.to_str().unwrap(),
            "--runtime",
            "native",
            "--mode",
            "cold,warm",
            "--repeat",
            "1",
            "--quick",
            "--cold-command",
            "true",
            "--timeout-ms",
            "700",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the bench measured nothing"),
        "{}",
        stderr(&out)
    );
    let j = read_json(&json);
    for (f, kind) in [("alpha", "refused"), ("beta", "timeout")] {
        for mode in ["cold", "warm"] {
            let r = row(&j, f, mode);
            assert_eq!(r["ok"], 0, "{f} {mode}: {r}");
            assert!(r["errors"].as_u64().unwrap() >= 1, "{f} {mode}: {r}");
            assert_eq!(r["errors"], r["errors_by_kind"][kind], "{f} {mode}: {r}");
            assert!(r.get("latency_ms").is_none_or(|l| l.is_null()), "{r}");
        }
    }
    // The refused cold request was retried until the deadline.
    let attempts = &row(&j, "alpha", "cold")["endpoint"]["cold_attempts"];
    assert!(attempts[0].as_u64().unwrap() > 1, "{attempts}");
    assert_eq!(
        row(&j, "beta", "cold")["endpoint"]["cold_attempts"],
        serde_json::json!([1])
    );
}

/// A malformed endpoints file and a URL that is not http: one line naming
/// the file and the entry, or the flag and the URL.
#[test]
fn bad_endpoints_are_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = workspace(&tmp.path().join("ws"));
    let target = tmp.path().join("target");
    let file = tmp.path().join("endpoints.toml");
    let cases = [
        (
            "[[endpoint]]\nfunction = \"alpha\"\nruntime = \"native\"\nurl = \"http://127.0.0.1:1/\"\n\n\
             [[endpoint]]\nfunction = \"beta\"\nruntime = \"wasmtime-jit\"\nurl = \"http://127.0.0.1:1/\"\n",
            "[[endpoint]] #2 (function `beta`): runtime wasmtime-jit is not deployable",
        ),
        (
            "[[endpoint]]\nfunction = \"gamma\"\nruntime = \"native\"\nurl = \"http://127.0.0.1:1/\"\n",
            "[[endpoint]] #1 (function `gamma`): not a function of the workspace",
        ),
        (
            "[[endpoint]]\nfunction = \"alpha\"\nruntime = \"native\"\nurl = \"ftp://127.0.0.1/\"\n",
            "[[endpoint]] #1 (function `alpha`): endpoint `ftp://127.0.0.1/`: scheme `ftp` is not http://",
        ),
        (
            "[[endpoint]]\nfunction = \"alpha\"\nruntime = \"native\"\n\n[[endpoint]]\nfunction = \"beta\"\n",
            "missing field `url`",
        ),
    ];
    for (text, want) in cases {
        write(&file, text);
        let out = bench(
            &manifest,
            &target,
            &["--endpoints", file.to_str().unwrap(), "--runtime", "native"],
        );
        let err = stderr(&out);
        assert!(!out.status.success(), "{text}");
        let line = err
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no error line: {err}"));
        assert!(
            line.contains(&format!("--endpoints {}", file.display())) && line.contains(want),
            "want `{want}`: {err}"
        );
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error")).count(),
            1,
            "{err}"
        );
    }
    let out = bench(&manifest, &target, &["--endpoint", "ftp://127.0.0.1/"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "error: --endpoint: endpoint `ftp://127.0.0.1/`: scheme `ftp` is not http:// (or https://)"
        ),
        "{}",
        stderr(&out)
    );
}
