//! Images written by an attacker (correct digests, hostile content) cannot
//! make the runner touch the host: every path taken from image metadata
//! resolves inside the rootfs or is refused with one line naming the field.

use crate::common::*;
use lumos_runtimes::host::Reply;
use lumos_runtimes::launch::Slot;
use lumos_runtimes::{Job, Runner, Runtime, Sandbox};
use lumos_test_support::hostile::{self, Entry, Image};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Sends one request to `image` in `rt`; the reply body, or the error's text.
fn call(runner: &Runner, image: &str, rt: Runtime, body: &str) -> Result<String, String> {
    let p = runner
        .prepare(&Job::from_opts(&runner.opts, image, rt, b""))
        .map_err(|e| e.to_string())?;
    let l = runner.launcher(&p, rt, &[]).map_err(|e| e.to_string())?;
    let mut slot = Slot::new(l);
    let o = slot.call(body.as_bytes());
    match o.result {
        Ok(Reply::Ok { body, .. }) => Ok(String::from_utf8_lossy(&body).into_owned()),
        Ok(other) => Err(format!("{other:?}")),
        Err(f) => Err(f.to_string()),
    }
}

/// One wasm runtime of each shim (lumos-shim-wasmtime, -wasmi, -wasmedge).
fn wasm_runtimes() -> Vec<Runtime> {
    vec![
        Runtime::WasmtimeJit,
        Runtime::WasmiInterp,
        Runtime::WasmedgeInterp,
    ]
}

fn oci(dir: &Path, name: &str) -> String {
    format!("oci:{}:{name}", dir.display())
}

/// The error is one line and names the field and the value.
fn assert_refused(r: Result<String, String>, field: &str, value: &str) {
    let e = r.expect_err("the hostile image was run");
    assert!(!e.contains('\n'), "not one line: {e}");
    assert!(e.contains(field), "the error does not name {field}: {e}");
    assert!(
        e.contains(&format!("{value:?}")),
        "the error does not name the value {value:?}: {e}"
    );
}

/// Nothing unpacked is left in the cache after a refusal.
fn assert_no_rootfs(cache: &Path) {
    let left: Vec<_> = std::fs::read_dir(cache.join("rootfs"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "partial rootfs left behind: {left:?}");
}

/// A host directory holding one file the image must never reach.
fn host_dir(t: &Path) -> PathBuf {
    let h = t.join("host-dir");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::write(h.join("host-secret"), b"host").unwrap();
    h
}

/// `/a/b/c` as the directory entries that make it inside an image.
fn dirs_of(p: &Path) -> Vec<Entry> {
    let mut out = vec![];
    let mut acc = String::new();
    for c in p.components().skip(1) {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(&c.as_os_str().to_string_lossy());
        out.push(Entry::Dir(acc.clone()));
    }
    out
}

fn rel(p: &Path) -> String {
    p.to_string_lossy().trim_start_matches('/').to_string()
}

/// Item 1: the module of a CNCF wasm artifact is named after the
/// `dev.lumos.function` annotation; `..` or an absolute path there must not
/// write outside the rootfs. Pushed to a real registry, run by the CLI.
#[test]
fn an_artifact_function_name_cannot_write_outside_the_rootfs() {
    let reg = Registry::plain();
    let t = tempfile::tempdir().unwrap();
    let module = wasm_fixture();
    let target = t.path().join("pwned");
    let climb = format!("{}{}", "../".repeat(40), rel(&target));
    let cases = [
        ("climb", climb.clone(), t.path().join("pwned.wasm")),
        (
            "absolute",
            target.display().to_string(),
            t.path().join("pwned.wasm"),
        ),
        ("slash", "a/b".to_string(), t.path().join("never")),
    ];
    for (tag, value, would_be) in cases {
        let dir = hostile::wasm_artifact(
            &t.path().join(format!("layout-{tag}")),
            "t/x:artifact",
            &module,
            &[("dev.lumos.function", value.as_str())],
        );
        let image = reg.push(&dir, "t/x:artifact", "evil/x", tag);
        let cache = t.path().join(format!("cache-{tag}"));
        let out = Command::new(runner_exe())
            .args(["cold", &image, "-r", "wasmtime-jit", "--cache"])
            .arg(&cache)
            // anyhow would add a backtrace under the test harness's settings.
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{tag}: ran: {stderr}");
        assert!(
            !would_be.exists(),
            "{tag}: the image wrote {}",
            would_be.display()
        );
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{tag}: not one line: {stderr}");
        let line = lines[0];
        assert!(
            line.contains("annotation dev.lumos.function") && line.contains(&format!("{value:?}")),
            "{tag}: the first line does not name the field and value: {stderr}"
        );
        assert_no_rootfs(&cache);
    }
    // The same artifact with a plain name runs.
    let dir = hostile::wasm_artifact(
        &t.path().join("layout-good"),
        "t/x:artifact",
        &module,
        &[("dev.lumos.function", "fixture")],
    );
    let image = reg.push(&dir, "t/x:artifact", "evil/x", "good");
    let runner = Runner::new(opts()).unwrap();
    let r = call(&runner, &image, Runtime::WasmtimeJit, r#"{"op":"noop"}"#);
    assert_eq!(r.as_deref(), Ok("{}"));
}

fn wasm_image(layers: Vec<Vec<Entry>>, labels: serde_json::Value) -> Image {
    Image::new(
        json!({ "Entrypoint": ["/fixture.wasm"], "Labels": labels }),
        layers,
    )
}

/// Item 2: `dev.lumos.wasi.dirs` are resolved inside the rootfs: a layer
/// symlink to a host directory, or `..` in the label, never preopens a
/// host directory for the guest (wasmtime and wasmi).
#[test]
fn wasi_dirs_never_open_a_host_directory() {
    let t = tempfile::tempdir().unwrap();
    let host = host_dir(t.path());
    let module = wasm_fixture();
    let file = Entry::File("fixture.wasm".into(), module.clone(), 0o644);
    let runner = Runner::new(opts()).unwrap();
    let climb = format!("/../../../../../..{}", host.display());
    let refused = [
        // A link to the host directory: re-rooted, and the image has no such directory.
        (
            "link",
            vec![
                file.clone(),
                Entry::Symlink("probe-data".into(), host.display().to_string()),
            ],
            "/probe-data".to_string(),
        ),
        ("climb", vec![file.clone()], climb.clone()),
    ];
    for rt in wasm_runtimes() {
        for (what, layer, value) in &refused {
            let dir = wasm_image(
                vec![layer.clone()],
                json!({ "dev.lumos.wasi.dirs": json!([value]).to_string() }),
            )
            .write(&t.path().join(format!("{what}-{rt}")), "t/x:dirs");
            let r = call(
                &runner,
                &oci(&dir, "t/x:dirs"),
                rt,
                &format!(r#"{{"op":"ls","path":"{value}"}}"#),
            );
            assert_refused(r, "config label dev.lumos.wasi.dirs[0]", value);
        }
        // The image has a directory at the host's path: the guest gets the
        // image's, and what it writes stays in the rootfs.
        let mut layer = vec![
            file.clone(),
            Entry::Symlink("probe-data".into(), host.display().to_string()),
        ];
        layer.extend(dirs_of(&host));
        layer.push(Entry::File(
            format!("{}/image-file", rel(&host)),
            b"img".to_vec(),
            0o644,
        ));
        let dir = wasm_image(
            vec![layer],
            json!({ "dev.lumos.wasi.dirs": r#"["/probe-data"]"# }),
        )
        .write(&t.path().join(format!("rerooted-{rt}")), "t/x:dirs");
        let image = oci(&dir, "t/x:dirs");
        let r = call(&runner, &image, rt, r#"{"op":"ls","path":"/probe-data"}"#);
        assert_eq!(
            r.as_deref(),
            Ok(r#"{"entries":["image-file"]}"#),
            "{rt}: the guest saw another directory than the image's"
        );
        let r = call(
            &runner,
            &image,
            rt,
            r#"{"op":"write","path":"/probe-data/from-guest","value":"x"}"#,
        );
        assert!(r.is_ok(), "{rt}: {r:?}");
        assert!(
            !host.join("from-guest").exists(),
            "{rt}: the guest wrote into the host directory"
        );
        assert_eq!(
            std::fs::read_dir(&host).unwrap().count(),
            1,
            "{rt}: the host directory changed"
        );
    }
}

/// Item 3, wasm: an entrypoint that climbs out, or a symlink to a host
/// module, never runs the host's module; an image-internal link (debian's
/// `/bin -> usr/bin`) and `..` clamped at the root still work.
#[test]
fn a_wasm_entrypoint_resolves_inside_the_rootfs() {
    let t = tempfile::tempdir().unwrap();
    let host = host_dir(t.path());
    let module = wasm_fixture();
    std::fs::write(host.join("host.wasm"), &module).unwrap();
    let runner = Runner::new(opts()).unwrap();
    let climb = format!("/../../../../../../..{}/host.wasm", host.display());
    let refused = [
        ("climb", climb.clone(), vec![]),
        (
            "link",
            "/fixture.wasm".to_string(),
            vec![Entry::Symlink(
                "fixture.wasm".into(),
                format!("{}/host.wasm", host.display()),
            )],
        ),
        (
            "relative-link",
            "/fixture.wasm".to_string(),
            vec![Entry::Symlink(
                "fixture.wasm".into(),
                format!("{}{}/host.wasm", "../".repeat(16), rel(&host)),
            )],
        ),
    ];
    for rt in wasm_runtimes() {
        for (what, entry, layer) in &refused {
            let dir = Image::new(json!({ "Entrypoint": [entry] }), vec![layer.clone()])
                .write(&t.path().join(format!("{what}-{rt}")), "t/x:entry");
            let r = call(&runner, &oci(&dir, "t/x:entry"), rt, r#"{"op":"noop"}"#);
            assert_refused(r, "config Entrypoint[0]", entry);
        }
    }
    // A link out, re-rooted onto the image's own file: the image's module
    // runs (the host's is not even a module).
    std::fs::write(host.join("host.wasm"), b"\0asm not a module").unwrap();
    let mut layer = vec![Entry::Symlink(
        "fixture.wasm".into(),
        format!("{}/host.wasm", host.display()),
    )];
    layer.extend(dirs_of(&host));
    layer.push(Entry::File(
        format!("{}/host.wasm", rel(&host)),
        module.clone(),
        0o644,
    ));
    let ok_cases = [
        ("rerooted", "/fixture.wasm".to_string(), layer),
        (
            "debian-bin",
            "/bin/fixture.wasm".to_string(),
            vec![
                Entry::Dir("usr".into()),
                Entry::Dir("usr/bin".into()),
                Entry::Symlink("bin".into(), "usr/bin".into()),
                Entry::File("usr/bin/fixture.wasm".into(), module.clone(), 0o644),
            ],
        ),
        (
            "clamped",
            "/../../../usr/../fixture.wasm".to_string(),
            vec![
                Entry::Dir("usr".into()),
                Entry::File("fixture.wasm".into(), module.clone(), 0o644),
            ],
        ),
    ];
    for rt in wasm_runtimes() {
        for (what, entry, layer) in &ok_cases {
            let dir = Image::new(json!({ "Entrypoint": [entry] }), vec![layer.clone()])
                .write(&t.path().join(format!("ok-{what}-{rt}")), "t/x:entry");
            let r = call(&runner, &oci(&dir, "t/x:entry"), rt, r#"{"op":"noop"}"#);
            assert_eq!(r.as_deref(), Ok("{}"), "{what} in {rt}");
        }
    }
}

/// Item 3, native: under `--sandbox process` (no root of its own) and
/// chroot, the runner executes only the entry resolved inside the rootfs;
/// an entrypoint or WorkingDir leading out to a host binary or directory is
/// refused.
#[test]
fn a_native_entrypoint_resolves_inside_the_rootfs() {
    let t = tempfile::tempdir().unwrap();
    let host = host_dir(t.path());
    let native = native_fixture();
    std::fs::write(host.join("host-fn"), &native).unwrap();
    std::fs::set_permissions(
        host.join("host-fn"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let fixture = Entry::File("fixture".into(), native.clone(), 0o755);
    let climb = format!("/../../../../../../..{}/host-fn", host.display());
    let wd_climb = format!("/../../../../../../..{}", host.display());
    let refused = [
        (
            "climb",
            json!({ "Entrypoint": [climb] }),
            vec![],
            "config Entrypoint[0]",
            climb.clone(),
        ),
        (
            "link",
            json!({ "Entrypoint": ["/fixture"] }),
            vec![Entry::Symlink(
                "fixture".into(),
                format!("{}/host-fn", host.display()),
            )],
            "config Entrypoint[0]",
            "/fixture".to_string(),
        ),
        (
            "cmd",
            json!({ "Cmd": [climb] }),
            vec![],
            "config Cmd[0]",
            climb.clone(),
        ),
        (
            "workdir",
            json!({ "Entrypoint": ["/fixture"], "WorkingDir": wd_climb }),
            vec![fixture.clone()],
            "config WorkingDir",
            wd_climb.clone(),
        ),
    ];
    for sb in [Sandbox::Process, Sandbox::Chroot] {
        let mut o = opts();
        o.sandbox = Some(sb);
        let runner = Runner::new(o).unwrap();
        for (what, config, layer, field, value) in &refused {
            let dir = Image::new(config.clone(), vec![layer.clone()])
                .write(&t.path().join(format!("{what}-{sb:?}")), "t/x:native");
            let r = call(
                &runner,
                &oci(&dir, "t/x:native"),
                Runtime::Native,
                r#"{"op":"noop"}"#,
            );
            assert_refused(r, field, value);
        }
        // debian's /bin -> usr/bin, and `..` clamped at the root.
        let layer = vec![
            Entry::Dir("usr".into()),
            Entry::Dir("usr/bin".into()),
            Entry::Symlink("bin".into(), "usr/bin".into()),
            Entry::File("usr/bin/fixture".into(), native.clone(), 0o755),
        ];
        for entry in ["/bin/fixture", "/../../bin/../bin/fixture"] {
            let dir = Image::new(
                json!({ "Entrypoint": [entry], "WorkingDir": "/bin" }),
                vec![layer.clone()],
            )
            .write(
                &t.path().join(format!("ok-{sb:?}-{}", entry.len())),
                "t/x:native",
            );
            let r = call(
                &runner,
                &oci(&dir, "t/x:native"),
                Runtime::Native,
                r#"{"op":"noop"}"#,
            );
            assert_eq!(r.as_deref(), Ok("{}"), "{entry} in {sb:?}");
        }
    }
}

/// Item 7: an unpack that fails half-way leaves no partial rootfs in a
/// kept `--cache`.
#[test]
fn a_failed_unpack_leaves_no_partial_rootfs() {
    let t = tempfile::tempdir().unwrap();
    let big = vec![7u8; 1 << 20];
    let dir = Image::new(
        json!({ "Entrypoint": ["/a"] }),
        vec![
            vec![Entry::File("a".into(), big.clone(), 0o755)],
            vec![
                Entry::File("b".into(), big, 0o644),
                Entry::File("../escape".into(), b"x".to_vec(), 0o644),
            ],
        ],
    )
    .write(&t.path().join("layout"), "t/x:bad");
    let cache = t.path().join("cache");
    let mut o = opts();
    o.cache_dir = Some(cache.clone());
    let runner = Runner::new(o).unwrap();
    let image = oci(&dir, "t/x:bad");
    let e = runner
        .prepare(&Job::from_opts(&runner.opts, &image, Runtime::Native, b""))
        .err()
        .expect("the unpacker refused `..`");
    assert!(!e.to_string().contains('\n'), "{e}");
    assert!(!t.path().join("escape").exists());
    assert_no_rootfs(&cache);
}
