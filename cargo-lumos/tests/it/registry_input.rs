//! `cargo lumos push` and `image` against bad names and faulty registries:
//! names are refused at parse time (clap's exit status 2, before anything
//! is read or sent), and a registry that never answers, or trickles, ends
//! by `--timeout` with one line naming the host and what was waited for.

use lumos_test_support::faulty;

use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn bad_registry_namespace_and_tag_prefix_are_refused_at_parse_time() {
    let target = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["push", "--registry", "127.0.0.1:99999/x"],
            "from 1 to 65535",
        ),
        (
            &["push", "--registry", "bad host!/ns"],
            "registry host `bad host!`",
        ),
        (
            &["push", "--registry", "127.0.0.1:5000/UPPER"],
            "namespace `UPPER`",
        ),
        (
            &[
                "push",
                "--registry",
                "127.0.0.1:5000/x",
                "--tag-prefix",
                "bad tag!",
            ],
            "tag prefix `bad tag!`",
        ),
        (
            &["push", "--registry", "127.0.0.1:5000/x", "--timeout", "0"],
            "--timeout",
        ),
        (&["image", "--namespace", "UPPER"], "namespace `UPPER`"),
        (
            &["image", "--namespace", "../../../x"],
            "namespace `../../../x`",
        ),
    ];
    for (args, want) in cases {
        let out = run(cargo_lumos()
            .args(args)
            .arg("--target-dir")
            .arg(target.path()));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.lines().next().unwrap_or("").contains(want),
            "{args:?}: {err}"
        );
    }
    assert!(
        std::fs::read_dir(target.path()).unwrap().next().is_none(),
        "something was written"
    );
}

#[test]
fn push_to_a_registry_that_never_answers_ends_at_the_timeout() {
    let target = tempfile::tempdir().unwrap();
    // An (empty) image layout: push opens it, then asks the registry.
    lumos_oci::Layout::create(target.path().join("lumos/oci")).unwrap();
    for fault in [faulty::Fault::Silent, faulty::Fault::TrickleHeaders] {
        let server = faulty::Faulty::start(fault);
        let t = Instant::now();
        let out = run(cargo_lumos()
            .args(["push", "--timeout", "2", "--registry"])
            .arg(format!("{}/lumos", server.addr))
            .arg("--target-dir")
            .arg(target.path())
            .env("HOME", target.path()));
        // Before: 300 s per read x 2 schemes x 5 attempts. Not a speed target.
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{fault:?}: {:?}",
            t.elapsed()
        );
        let err = stderr(&out);
        assert!(!out.status.success(), "{fault:?}: {err}");
        let last = err.lines().last().unwrap_or("");
        assert!(
            last.contains(&format!(
                "registry {}: no answer to GET /v2/ within 2 s",
                server.addr
            )),
            "{fault:?}: {err}"
        );
        assert!(server.accepted() >= 1);
    }
}
