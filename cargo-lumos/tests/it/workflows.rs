//! `cargo lumos bench --chain` and `--workflow`: encrypt-message then
//! decrypt-message, each step's response the next step's request, on
//! native and wasmtime-aot, cold and warm, inline and through the store;
//! the chain's final answer is checked against the original message. Then
//! the refusals: unknown names and steps, a chain of one, bad placements.

use sha2::Digest as _;

use crate::common::*;

/// The message encrypt-message's group 1 seals, and its sha256.
fn original_message() -> (usize, String) {
    let p = lumos_payloads::payload("encrypt-message", 1).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&p.objects[0].bytes).unwrap();
    let message = doc["message"].as_str().unwrap();
    (message.len(), hex::encode(sha2::Sha256::digest(message)))
}

fn ms(v: &serde_json::Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// Checks one workflow row: status, counts, the final answer, the makespan
/// against its steps; returns the steps' runtimes.
fn check_row(r: &serde_json::Value, n: u64, chain_data: &str) -> Vec<String> {
    let what = format!(
        "{} {} {}",
        r["function"], r["runtime"], r["workflow"]["start"]
    );
    assert_eq!(r["mode"], "workflow", "{what}: {r}");
    assert_eq!(r["status"], "ok", "{what}: {r}");
    assert_eq!(
        (&r["errors"], &r["ok"]),
        (&0.into(), &n.into()),
        "{what}: {r}"
    );
    let w = &r["workflow"];
    assert_eq!(w["chain_data"], chain_data, "{what}");
    // The chain's final answer is decrypt-message's summary of the message
    // encrypt-message sealed: the original message, byte for byte.
    let (bytes, sha) = original_message();
    let last = w["final_response"].as_str().expect("final_response");
    let answer: serde_json::Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{what}: final response {last:?}: {e}"));
    assert_eq!(answer["sha256"], sha, "{what}: {answer}");
    assert_eq!(answer["message_bytes"], bytes, "{what}: {answer}");
    assert_eq!(
        w["final_response_sha256"],
        hex::encode(sha2::Sha256::digest(last.as_bytes())),
        "{what}"
    );
    // Per step: latency, and the hand-over into every step after the first.
    let steps = w["steps"].as_array().expect("steps");
    let functions: Vec<&str> = steps
        .iter()
        .map(|s| s["function"].as_str().unwrap())
        .collect();
    assert_eq!(functions, ["encrypt-message", "decrypt-message"], "{what}");
    let mut sum = 0.0;
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["latency_ms"]["n"], n, "{what} step {i}: {s}");
        let mean = ms(&s["latency_ms"]["mean"], "step latency");
        assert!(mean > 0.0, "{what} step {i}: {s}");
        sum += mean;
        if i == 0 {
            assert!(s["handover_ms"].is_null(), "{what}: {s}");
        } else {
            assert_eq!(s["handover_ms"]["n"], n, "{what} step {i}: {s}");
            let h = ms(&s["handover_ms"]["mean"], "hand-over");
            assert!(h >= 0.0, "{what}: {s}");
            sum += h;
        }
    }
    // The makespan holds every step and hand-over of its chain.
    let makespan = &r["latency_ms"];
    assert_eq!(makespan["n"], n, "{what}");
    let mean = ms(&makespan["mean"], "makespan");
    assert!(
        mean >= sum * (1.0 - 1e-9),
        "{what}: makespan mean {mean} ms < steps and hand-overs {sum} ms"
    );
    assert!(ms(&makespan["p50"], "p50") > 0.0);
    steps
        .iter()
        .map(|s| s["runtime"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn encrypt_then_decrypt_returns_the_message_cold_and_warm_inline_and_through_storage() {
    require("docker-registry");
    let _turn = SHARED_TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = tempfile::tempdir().unwrap();

    // --chain, inline, every step on each runtime in turn.
    let json = out_dir.path().join("chain.json");
    let html = out_dir.path().join("chain.html");
    let out = bench_builtins(&[
        "--chain",
        "encrypt-message,decrypt-message",
        "--runtime",
        "native,wasmtime-aot",
        "--group",
        "1",
        "--mode",
        "cold-cached,warm",
        "--repeat",
        "2",
        "--warmup",
        "1",
        "--requests",
        "3",
        "--json",
        json.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(
        runs.len(),
        4,
        "2 runtimes x 2 starts, workflow rows only: {runs:#?}"
    );
    for r in runs {
        assert_eq!(r["function"], "encrypt-message>decrypt-message");
        let start = r["workflow"]["start"].as_str().unwrap();
        let n = if start == "warm" { 2 * 3 } else { 2 };
        let rts = check_row(r, n, "inline");
        assert_eq!(rts, [r["runtime"].as_str().unwrap(); 2], "{r}");
        assert!(r["workflow"]["name"].is_null());
    }
    for (rt, start) in [
        ("native", "cold-cached"),
        ("native", "warm"),
        ("wasmtime-aot", "cold-cached"),
        ("wasmtime-aot", "warm"),
    ] {
        assert!(
            runs.iter()
                .any(|r| r["runtime"] == rt && r["workflow"]["start"] == start),
            "no {rt} {start} row"
        );
    }
    let table = stdout(&out);
    assert!(
        table.contains("makespan p50")
            && table.contains("encrypt-message@native > decrypt-message@native"),
        "{table}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>Workflows</h2>"), "no workflow section");

    // --workflow (the workspace's seal-and-open), through the store, each
    // step pinned to its own runtime, cold (each step pulls its image).
    let json = out_dir.path().join("workflow.json");
    let out = bench_builtins(&[
        "--workflow",
        "seal-and-open",
        "--chain-data",
        "storage",
        "--placement",
        "encrypt-message=native,decrypt-message=wasmtime-aot",
        "--group",
        "1",
        "--mode",
        "cold,warm",
        "--repeat",
        "2",
        "--warmup",
        "0",
        "--requests",
        "2",
        "--no-build",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j = read_json(&json);
    let runs = rows(&j);
    assert_eq!(
        runs.len(),
        2,
        "a chain placed whole runs once per start: {runs:#?}"
    );
    for r in runs {
        assert_eq!(r["function"], "seal-and-open");
        assert_eq!(r["workflow"]["name"], "seal-and-open");
        let n = if r["workflow"]["start"] == "warm" {
            2 * 2
        } else {
            2
        };
        let rts = check_row(r, n, "storage");
        assert_eq!(rts, ["native", "wasmtime-aot"], "{r}");
    }
}

/// `cargo lumos bench` of the repository's workspace with `args`; the
/// failure's stderr.
fn refused(args: &[&str]) -> String {
    let target = tempfile::tempdir().unwrap();
    let out = bench(&repo_root().join("Cargo.toml"), target.path(), args);
    let err = stderr(&out);
    assert!(!out.status.success(), "{args:?} succeeded:\n{err}");
    // Nothing was built for it.
    assert!(!target.path().join("lumos").exists(), "{args:?}");
    err
}

#[test]
fn unknown_workflows_steps_and_chains_of_one_are_one_line_errors() {
    let chain = ["--chain", "encrypt-message,decrypt-message"];
    for (args, says) in [
        (
            vec!["--chain", "encrypt-message"],
            "--chain: a chain needs at least two steps, got 1",
        ),
        (
            vec!["--chain", "encrypt-message,nope"],
            "--chain: `nope` is not a function of the workspace",
        ),
        (
            vec!["--workflow", "nope"],
            "--workflow `nope`: no [workspace.metadata.lumos.workflows.nope]",
        ),
        (
            [&chain[..], &["--placement", "fibonacci=native"][..]].concat(),
            "--placement: `fibonacci` is not a step of the chain",
        ),
        (
            [&chain[..], &["--placement", "encrypt-message=jvm"][..]].concat(),
            "--placement",
        ),
        (
            [&chain[..], &["--mode", "load"][..]].concat(),
            "--mode load: a workflow's steps start cold-cached, cold or warm",
        ),
        (
            vec!["--placement", "encrypt-message=native"],
            "--placement: only with --chain A,B or --workflow NAME",
        ),
        (
            vec!["--chain", "a,b", "--workflow", "seal-and-open"],
            "--workflow",
        ),
    ] {
        let err = refused(&args);
        assert!(err.contains(says), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one error line:\n{err}");
    }
}

#[test]
fn a_bad_workflow_in_cargo_toml_names_its_key() {
    for (workflows, says) in [
        (
            "[workspace.metadata.lumos.workflows.one]\nsteps = [\"solo\"]\n",
            "[workspace.metadata.lumos] `workflows.one`.steps: a workflow chains at least two steps, got 1",
        ),
        (
            "[workspace.metadata.lumos.workflows.two]\nsteps = [\"solo\", \"nope\"]\n",
            "[workspace.metadata.lumos.workflows.two] steps: `nope` is not a function of the workspace (functions: solo)",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            &root.join("Cargo.toml"),
            &format!("[workspace]\nresolver = \"2\"\nmembers = [\"solo\"]\n\n{workflows}"),
        );
        write(
            &root.join("solo/Cargo.toml"),
            "[package]\nname = \"solo\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
             [package.metadata.lumos]\nprotocol = \"stdio\"\n",
        );
        write(&root.join("solo/src/main.rs"), "fn main() {}\n");
        let target = tempfile::tempdir().unwrap();
        let out = bench(
            &root.join("Cargo.toml"),
            target.path(),
            &["--chain", "solo,solo"],
        );
        let err = stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(
            err.contains(&root.join("Cargo.toml").display().to_string()),
            "{err}"
        );
    }
}
