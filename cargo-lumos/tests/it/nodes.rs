//! `cargo lumos bench --node NAME[:RATE] --place FUNCTION=NODE`: each node a
//! real network namespace with a veth pair (tc tbf at RATE both ways), the
//! function's instances run inside it and its HTTP requests cross the
//! node's link; every row names its node.

use std::process::Command;

use crate::common::*;
use crate::styles::STYLES_TARGET;
use lumos_test_support::fixtures::{styles_target, styles_workspace};

/// Our namespaces of kind `node` that `ip netns` lists now.
fn node_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("lumos-node-"))
        .map(str::to_string)
        .collect()
}

/// `http-fixed-port` (a hyper server on its fixed port 3030) benched on two
/// nodes, `fast` (no limit) and `slow` (1mbit each way), with a 32 KB
/// request: both nodes serve the same fixed port at once (a namespace
/// each), every row names its node, and the slow node's rows are slower.
#[test]
fn a_function_runs_on_each_node_and_the_limited_node_is_slower() {
    require("docker-registry");
    if let Some(why) = lumos_runtimes::netns::refusal("--node") {
        panic!("{why}");
    }
    let _turn = STYLES_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let before = node_namespaces();
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("b.json");
    let out = bench(
        &styles_workspace().join("Cargo.toml"),
        &styles_target(),
        &[
            "--locked",
            "-p",
            "http-fixed-port",
            "--runtime",
            "native",
            "--group",
            "3",
            "--mode",
            "cold,warm",
            "--repeat",
            "1",
            "--warmup",
            "1",
            "--requests",
            "3",
            "--min-requests",
            "3",
            "--min-time",
            "0.001",
            "--node",
            "fast",
            "--node",
            "slow:1mbit",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(runs.len(), 4, "cold and warm on each node: {runs:#?}");
    let nodes = j["settings"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    let by = |mode: &str, node: &str| {
        runs.iter()
            .find(|r| r["mode"] == mode && r["node"]["name"] == node)
            .unwrap_or_else(|| panic!("no {mode} row on {node}: {runs:#?}"))
    };
    for r in runs {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        let addr = r["node"]["address"].as_str().unwrap();
        assert!(addr.starts_with("10.233."), "{r}");
    }
    assert_eq!(by("warm", "slow")["node"]["rate"], "1mbit");
    assert_eq!(by("warm", "slow")["node"]["rate_bits_per_sec"], 1_000_000);
    assert!(by("warm", "fast")["node"].get("rate").is_none());
    assert_ne!(
        by("warm", "fast")["node"]["address"],
        by("warm", "slow")["node"]["address"]
    );
    // 32 KB at 1mbit is about a quarter of a second; unlimited, far less.
    let p50 = |r: &serde_json::Value| r["latency_ms"]["p50"].as_f64().unwrap();
    let (fast, slow) = (p50(by("warm", "fast")), p50(by("warm", "slow")));
    assert!(slow > fast, "warm p50: slow {slow} ms, fast {fast} ms");
    let first = |r: &serde_json::Value| r["cold_start_ms"]["first_response"].as_f64().unwrap();
    let (fast, slow) = (first(by("cold", "fast")), first(by("cold", "slow")));
    assert!(
        slow > fast,
        "cold first response: slow {slow} ms, fast {fast} ms"
    );
    // The table has a node column.
    let table = stdout(&out);
    assert!(table.lines().any(|l| l.contains("slow (1mbit)")), "{table}");
    // The namespaces went with the run.
    let left: Vec<String> = node_namespaces()
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `--place FUNCTION=NODE` runs the function on that node only.
#[test]
fn place_pins_a_function_to_its_node() {
    require("docker-registry");
    if let Some(why) = lumos_runtimes::netns::refusal("--node") {
        panic!("{why}");
    }
    let _turn = STYLES_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("b.json");
    let out = bench(
        &styles_workspace().join("Cargo.toml"),
        &styles_target(),
        &[
            "--locked",
            "-p",
            "http-fixed-port",
            "--runtime",
            "native",
            "--group",
            "1",
            "--mode",
            "warm",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--requests",
            "2",
            "--min-requests",
            "2",
            "--min-time",
            "0.001",
            "--node",
            "a",
            "--node",
            "b:100mbit",
            "--place",
            "http-fixed-port=b",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["node"]["name"], "b", "{}", runs[0]);
    assert_eq!(runs[0]["status"], "ok", "{}", runs[0]);
}

/// Bad `--node`/`--place` input: one error line naming the flag and value,
/// before anything is built.
#[test]
fn bad_nodes_and_placements_are_one_line_errors_before_anything_is_built() {
    let manifest = styles_workspace().join("Cargo.toml");
    for (args, want) in [
        (vec!["--node", "edge:fast"], "node edge: rate `fast`"),
        (vec!["--node", "edge:10mbits"], "rate `10mbits`"),
        (vec!["--node", "a/b"], "node name `a/b`"),
        (
            vec!["--node", "edge", "--node", "edge:1mbit"],
            "node `edge` is given twice",
        ),
        (
            vec!["--node", "edge", "--place", "http-fixed-port=core"],
            "--place http-fixed-port=core: unknown node `core`",
        ),
        (
            vec!["--place", "http-fixed-port=core"],
            "no nodes to place on",
        ),
        (vec!["--place", "http-fixed-port"], "expected FUNCTION=NODE"),
        (
            vec![
                "-p",
                "http-fixed-port",
                "--node",
                "edge",
                "--place",
                "nope=edge",
            ],
            "--place nope=edge: `nope` is not one of the functions benched",
        ),
    ] {
        let target = tempfile::tempdir().unwrap();
        let out = bench(&manifest, target.path(), &args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        // clap's own errors add a usage line after the error.
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one error line:\n{err}");
        assert!(lines[0].contains(want), "{args:?}: {err}");
        assert!(
            !target.path().join("lumos").exists(),
            "{args:?} started building"
        );
    }
}

/// Not root: `--node` is refused in one line, as `--baas-bandwidth` is
/// (run as `nobody` with setpriv).
#[test]
fn nodes_need_root_and_say_so() {
    let setpriv = require("setpriv");
    let none = tempfile::tempdir().unwrap();
    let manifest = none.path().join("no-such/Cargo.toml");
    let cmd = cargo_lumos();
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let envs: Vec<_> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
        .collect();
    let mut c = Command::new(setpriv);
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(program)
        .args(args)
        .args(["bench", "--manifest-path"])
        .arg(&manifest)
        .args(["--node", "edge:10mbit"])
        .current_dir(none.path());
    for (k, v) in envs {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("--node") && lines[0].contains("need root"),
        "{err}"
    );
}
