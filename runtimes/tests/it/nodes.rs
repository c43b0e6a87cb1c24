//! Placement on nodes (`RunOpts::nodes`, `Job::node`): each node a network
//! namespace with a veth pair to the runner's; an instance placed there runs
//! inside it whatever the sandbox, and the runner reaches an `http` function
//! at the node's address (which only answers from inside the namespace: the
//! root namespace has nothing listening there), so a reply proves where it ran.

use crate::common::*;
use lumos_runtimes::{Job, Protocol, RunOpts, Runner, Runtime, Sandbox};
use std::process::Command;

fn namespace_exists(ns: &str) -> bool {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(ns))
}

fn node_runner(sandbox: Option<Sandbox>) -> Runner {
    if let Some(why) = lumos_runtimes::netns::refusal("--node") {
        panic!("{why}");
    }
    let o = RunOpts {
        nodes: vec!["edge:100mbit".parse().unwrap()],
        sandbox,
        protocol: Some(Protocol::Http),
        ..opts()
    };
    Runner::new(o).unwrap_or_else(|e| panic!("{}", lumos_model::error_chain(&e)))
}

#[test]
fn an_http_function_placed_on_a_node_answers_at_its_address_in_every_sandbox() {
    let probe = lumos_runtimes::container::probe();
    let image = file_ref(&fixtures().native_http);
    for sb in [
        Sandbox::Runc,
        Sandbox::Crun,
        Sandbox::Chroot,
        Sandbox::Process,
    ] {
        if let Err(why) = probe.check(sb) {
            eprintln!("{sb}: not usable here ({why}); skipped");
            continue;
        }
        let runner = node_runner(Some(sb));
        let ns = runner.node_namespace("edge").unwrap().to_string();
        assert!(namespace_exists(&ns));
        let job = Job {
            node: Some("edge"),
            ..Job::from_opts(&runner.opts, &image, Runtime::Native, br#"{"a":1}"#)
        };
        let r = runner
            .cold(&job)
            .unwrap_or_else(|e| panic!("{sb}: {}", lumos_model::error_chain(&e)));
        assert_eq!(r.errors, 0, "{sb}: {:?}", r.error_samples);
        assert_eq!(r.sandbox, Some(sb));
        let node = r.node.expect("the row names its node");
        assert_eq!(node.name, "edge");
        assert_eq!(node.rate.map(|r| r.to_string()).as_deref(), Some("100mbit"));
        assert!(node.address.starts_with("10.233."), "{node:?}");
        // The same job off the node runs in the runner's network, unrecorded.
        let off = runner
            .cold(&Job { node: None, ..job })
            .unwrap_or_else(|e| panic!("{sb}: {}", lumos_model::error_chain(&e)));
        assert_eq!(off.errors, 0, "{sb}: {:?}", off.error_samples);
        assert!(off.node.is_none());
        drop(runner);
        assert!(!namespace_exists(&ns), "{sb}: {ns} outlived its runner");
    }
}

/// A wasi:http component on a node: the shim serves it on the node's
/// namespace's addresses (not only its loopback).
#[test]
fn a_wasi_http_component_placed_on_a_node_answers() {
    let wasm = lumos_test_support::fixtures::wasi_http_hello();
    let runner = node_runner(None);
    let image = file_ref(&wasm);
    let job = Job {
        node: Some("edge"),
        protocol: None,
        ..Job::from_opts(&runner.opts, &image, Runtime::WasmtimeJit, b"ping")
    };
    let r = runner
        .warm(&job)
        .unwrap_or_else(|e| panic!("{}", lumos_model::error_chain(&e)))
        .result;
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert_eq!(r.protocol, Protocol::WasiHttp);
    assert_eq!(r.node.unwrap().name, "edge");
}

#[test]
fn a_job_on_an_unknown_node_is_refused_naming_the_nodes() {
    let runner = node_runner(None);
    let image = file_ref(&fixtures().native_http);
    let job = Job {
        node: Some("core"),
        ..Job::from_opts(&runner.opts, &image, Runtime::Native, b"{}")
    };
    let e = lumos_model::error_chain(&runner.cold(&job).unwrap_err());
    assert!(
        e.contains("node core: not one of this run's nodes (edge)"),
        "{e}"
    );
}

#[test]
fn duplicate_node_names_are_refused() {
    let o = RunOpts {
        nodes: vec!["a".parse().unwrap(), "a:1mbit".parse().unwrap()],
        ..opts()
    };
    let e = Runner::new(o).err().expect("refused").to_string();
    assert!(e.contains("node a is given twice"), "{e}");
}
