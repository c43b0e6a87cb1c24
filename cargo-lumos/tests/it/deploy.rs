//! `cargo lumos deploy`: Knative Services for the pushed images.
//!
//! No Kubernetes server is reachable on this machine (no apiserver, kubelet,
//! kind or envtest can be installed here; see FACTS "Node stack"), so every
//! manifest written is validated against the real schema an apiserver uses:
//! Knative Serving's Service CRD (tests/fixtures/knative), read strictly, and
//! its pod template with `kubernetes-validate --strict` (PyPI) as an outside
//! judge. The images are an OCI layout written here: deploy reads only their
//! names and digests.

use std::path::Path;
use std::process::Output;

use crate::common::*;
use crate::knative;
use lumos_oci::spec::media;
use lumos_oci::{Descriptor, Layout};
use serde_json::{json, Value};

const LONG: &str = "a_function_whose_name_is_far_too_long_for_any_kubernetes_service_name";

/// A workspace with an `http`, a `lumos`, a `stdio` and a long-named
/// function, and an image layout in its target dir holding `images`
/// (function, tag); returns the digest of each image.
fn workspace(dir: &Path, images: &[(&str, &str)]) -> Vec<(String, String, String)> {
    let functions = [
        ("echo_http", "http"),
        ("fib", "lumos"),
        ("cat_stdio", "stdio"),
        (LONG, "http"),
    ];
    let members: Vec<String> = functions.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    );
    for (name, protocol) in functions {
        write(
            &dir.join(name).join("Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package.metadata.lumos]\nprotocol = \"{protocol}\"\n"
            ),
        );
        write(&dir.join(name).join("src/main.rs"), "fn main() {}\n");
    }
    image_layout(dir, images)
}

/// An image layout in `dir`'s target dir holding `images` (function, tag);
/// returns the digest of each image.
fn image_layout(dir: &Path, images: &[(&str, &str)]) -> Vec<(String, String, String)> {
    let layout = Layout::create(dir.join("target/lumos/oci")).unwrap();
    let mut refs = Vec::new();
    let mut out = Vec::new();
    for (function, tag) in images {
        let bytes = format!("{{\"schemaVersion\":2,\"x\":\"{function}:{tag}\"}}");
        let d = layout.write_blob(bytes.as_bytes()).unwrap();
        out.push((function.to_string(), tag.to_string(), d.to_string()));
        refs.push((
            format!("lumos/{function}:{tag}"),
            Descriptor::new(media::MANIFEST, d, bytes.len() as u64),
        ));
    }
    layout.set_refs(&refs).unwrap();
    out
}

/// A workspace whose one function `twin` is two packages (metadata
/// `name`): `twin-native` (`runtimes = ["native"]`) and `twin-wasm`
/// (`["wasm", "aot"]`), both `http`; and an image layout holding `images`.
fn twin_workspace(dir: &Path, images: &[(&str, &str)]) -> Vec<(String, String, String)> {
    write(
        &dir.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"twin-native\", \"twin-wasm\"]\n",
    );
    for (package, runtimes) in [
        ("twin-native", "[\"native\"]"),
        ("twin-wasm", "[\"wasm\", \"aot\"]"),
    ] {
        write(
            &dir.join(package).join("Cargo.toml"),
            &format!(
                "[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package.metadata.lumos]\nname = \"twin\"\nprotocol = \"http\"\nruntimes = {runtimes}\n"
            ),
        );
        write(&dir.join(package).join("src/main.rs"), "fn main() {}\n");
    }
    image_layout(dir, images)
}

fn deploy(ws: &Path, args: &[&str]) -> Output {
    run(cargo_lumos()
        .arg("deploy")
        .arg("--manifest-path")
        .arg(ws.join("Cargo.toml"))
        .args(args))
}

/// Every YAML document of a stream, as JSON values.
fn documents(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

/// Fails unless `out` is a failure with exactly one line on stderr holding every needle.
fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "succeeded: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
    assert!(stdout(out).is_empty(), "{}", stdout(out));
}

/// The pod a Service's template makes, as a Kubernetes Pod (Knative's own
/// fields of the revision spec left out).
fn pod_of(service: &Value) -> Value {
    let t = &service["spec"]["template"];
    let mut spec = t["spec"].clone();
    let spec_map = spec.as_object_mut().unwrap();
    for knative_only in [
        "containerConcurrency",
        "timeoutSeconds",
        "responseStartTimeoutSeconds",
        "idleTimeoutSeconds",
    ] {
        spec_map.remove(knative_only);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": service["metadata"]["name"],
            "labels": t["metadata"]["labels"],
            "annotations": t["metadata"]["annotations"],
        },
        "spec": spec,
    })
}

/// `kubernetes-validate --strict` (Kubernetes 1.32's schemas) on `doc`.
fn kubernetes_validate(doc: &Value, dir: &Path, name: &str) -> Output {
    let tool = require("kubernetes-validate");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, serde_norway::to_string(doc).unwrap()).unwrap();
    run(std::process::Command::new(tool)
        .args(["--strict", "-k", "1.32.0", "--quiet"])
        .arg(&path))
}

#[test]
fn every_service_written_is_a_valid_knative_service() {
    let ws = tempfile::tempdir().unwrap();
    let digests = workspace(
        ws.path(),
        &[
            ("echo_http", "native-x86_64"),
            ("echo_http", "native-aarch64"),
            ("echo_http", "native"),
            ("echo_http", "wasm"),
            ("echo_http", "aot-wasmedge-aarch64"),
            ("echo_http", "aot-wasmtime-x86_64"),
            ("fib", "native-x86_64"),
            ("fib", "wasm"),
        ],
    );
    let digest = |f: &str, t: &str| {
        digests
            .iter()
            .find(|(df, dt, _)| df == f && dt == t)
            .map(|(_, _, d)| d.clone())
            .unwrap()
    };
    let dir = ws.path().join("manifests/");
    let out = deploy(
        ws.path(),
        &[
            "-p",
            "echo_http",
            "-p",
            "fib",
            "--registry",
            "registry.example:5000/team",
            "--memory",
            "128Mi",
            "--cpus",
            "500m",
            "--concurrency",
            "4",
            "--min-scale",
            "1",
            "--max-scale",
            "3",
            "--target",
            "2",
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // What was left out, and what the cluster needs, is said.
    for said in [
        "not deployed: echo_http aot-wasmtime-x86_64",
        "fib wasm: the SDK's HTTP mode in wasm (WasmEdge sockets) has no storage",
        "function `echo_http` is named `echo-http`",
        "RuntimeClass `wasmedge`",
        "kubernetes.podspec-runtimeclassname: enabled",
        "kubernetes.podspec-nodeselector: enabled",
        "wrote 6 Knative Service(s)",
    ] {
        assert!(err.contains(said), "{said:?} not in {err}");
    }

    let validator = knative::service_validator();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let docs = documents(&std::fs::read_to_string(&path).unwrap());
        assert_eq!(docs.len(), 1, "{}", path.display());
        let s = &docs[0];
        let errors = knative::errors(&validator, s);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        let name = s["metadata"]["name"].as_str().unwrap().to_string();
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("{name}.yaml")
        );

        assert_eq!(s["apiVersion"], "serving.knative.dev/v1");
        assert_eq!(s["kind"], "Service");
        let function = s["metadata"]["labels"]["lumos.dev/function"]
            .as_str()
            .unwrap();
        let variant = s["metadata"]["labels"]["lumos.dev/variant"]
            .as_str()
            .unwrap();
        let t = &s["spec"]["template"];
        assert_eq!(t["metadata"]["labels"]["lumos.dev/variant"], variant);
        let annotations = &t["metadata"]["annotations"];
        assert_eq!(annotations["autoscaling.knative.dev/min-scale"], "1");
        assert_eq!(annotations["autoscaling.knative.dev/max-scale"], "3");
        assert_eq!(annotations["autoscaling.knative.dev/target"], "2");
        let spec = &t["spec"];
        assert_eq!(spec["containerConcurrency"], 4);
        let c = &spec["containers"][0];
        assert_eq!(spec["containers"].as_array().unwrap().len(), 1);
        assert_eq!(
            c["image"],
            format!(
                "registry.example:5000/team/{function}@{}",
                digest(function, variant)
            )
        );
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(
            c["ports"],
            json!([{"name": "http1", "containerPort": 8080}])
        );
        assert_eq!(
            c["resources"],
            json!({"limits": {"memory": "128Mi", "cpu": "500m"}})
        );
        let wasm = variant == "wasm" || variant.starts_with("aot-");
        if wasm {
            assert_eq!(spec["runtimeClassName"], "wasmedge", "{name}");
            assert_eq!(annotations["module.wasm.image/variant"], "compat-smart");
        } else {
            assert!(spec.get("runtimeClassName").is_none(), "{name}");
            assert!(annotations.get("module.wasm.image/variant").is_none());
        }
        let arch = match variant {
            v if v.ends_with("x86_64") => Some("amd64"),
            v if v.ends_with("aarch64") => Some("arm64"),
            _ => None,
        };
        assert_eq!(
            spec.get("nodeSelector"),
            arch.map(|a| json!({"kubernetes.io/arch": a})).as_ref(),
            "{name}"
        );
        let pod = kubernetes_validate(&pod_of(s), ws.path(), &name);
        assert!(
            pod.status.success(),
            "kubernetes-validate {name}: {}{}",
            stdout(&pod),
            stderr(&pod)
        );
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "echo-http-aot-wasmedge-aarch64",
            "echo-http-native-aarch64",
            "echo-http-native-x86-64",
            "echo-http-wasm",
            "fib-native-x86-64",
            "fib-wasm",
        ]
    );

    // The same Services on stdout (no --out) and in one file, with settings
    // left at their defaults: scale to zero, no limits.
    let out = deploy(
        ws.path(),
        &[
            "-p",
            "echo_http",
            "--registry",
            "r.example/ns",
            "--variant",
            "wasm,native-x86_64",
            "--runtime-class",
            "crun-wasm",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let docs = documents(&stdout(&out));
    assert_eq!(docs.len(), 2);
    for s in &docs {
        assert!(knative::errors(&validator, s).is_empty(), "{s}");
        let t = &s["spec"]["template"];
        assert_eq!(
            t["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"],
            "0"
        );
        assert!(t["spec"]["containers"][0].get("resources").is_none());
        assert_eq!(t["spec"]["containerConcurrency"], 0);
    }
    assert_eq!(
        docs[1]["spec"]["template"]["spec"]["runtimeClassName"],
        "crun-wasm"
    );
    let file = ws.path().join("all.yaml");
    let out = deploy(
        ws.path(),
        &[
            "-p",
            "echo_http",
            "--registry",
            "r.example/ns",
            "--variant",
            "wasm,native-x86_64",
            "--runtime-class",
            "crun-wasm",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(documents(&std::fs::read_to_string(&file).unwrap()), docs);
}

/// The judges are strict: a misspelled field or a wrong type is an error
/// (an apiserver without strict validation would drop or coerce it).
#[test]
fn the_schema_and_kubernetes_validate_reject_a_misspelled_field() {
    let ws = tempfile::tempdir().unwrap();
    workspace(ws.path(), &[("echo_http", "wasm")]);
    let out = deploy(
        ws.path(),
        &[
            "--workspace",
            "--exclude",
            "fib",
            "--exclude",
            "cat_stdio",
            "--exclude",
            LONG,
            "--registry",
            "r.example/ns",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let good = documents(&stdout(&out)).remove(0);
    let validator = knative::service_validator();
    assert!(knative::errors(&validator, &good).is_empty());

    let mut typo = good.clone();
    let spec = typo["spec"]["template"]["spec"].as_object_mut().unwrap();
    let class = spec.remove("runtimeClassName").unwrap();
    spec.insert("runtimeClasName".into(), class);
    let errors = knative::errors(&validator, &typo);
    assert!(
        errors.iter().any(|e| e.contains("runtimeClasName")),
        "{errors:?}"
    );
    let judged = kubernetes_validate(&pod_of(&typo), ws.path(), "typo");
    assert!(
        !judged.status.success(),
        "kubernetes-validate accepted runtimeClasName"
    );

    let mut wrong_type = good.clone();
    wrong_type["spec"]["template"]["spec"]["containerConcurrency"] = json!("four");
    assert!(!knative::errors(&validator, &wrong_type).is_empty());
    let mut bad_quantity = good;
    bad_quantity["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"memory": "12 MB"}});
    assert!(!knative::errors(&validator, &bad_quantity).is_empty());
}

#[test]
fn bad_input_is_one_line_and_a_failure() {
    let ws = tempfile::tempdir().unwrap();
    workspace(
        ws.path(),
        &[
            ("echo_http", "wasm"),
            ("fib", "native-x86_64"),
            ("fib", "wasm"),
            ("cat_stdio", "native-x86_64"),
            (LONG, "wasm"),
        ],
    );
    let reg = ["--registry", "r.example/ns"];
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = reg.to_vec();
        args.extend_from_slice(extra);
        deploy(ws.path(), &args)
    };
    // An unknown variant: refused at parse time, naming the value.
    let out = with(&["--variant", "wasm32"]);
    assert_one_line_error(&out, &["--variant", "wasm32", "aot-wasmedge-aarch64"]);
    assert_eq!(out.status.code(), Some(2));
    // A wasmtime `.cwasm`: no RuntimeClass loads it.
    assert_one_line_error(
        &with(&["-p", "fib", "--variant", "aot-wasmtime-x86_64"]),
        &["fib aot-wasmtime-x86_64", ".cwasm", "aot-wasmedge"],
    );
    // A stdio function has no variant Knative can serve.
    assert_one_line_error(
        &with(&["-p", "cat_stdio"]),
        &["cat_stdio native-x86_64", "protocol `stdio`", "adapter"],
    );
    // A name that is no Kubernetes name.
    assert_one_line_error(
        &with(&["-p", LONG]),
        &[LONG, "not a valid Kubernetes name", "63"],
    );
    assert_one_line_error(
        &with(&["-p", "echo_http", "--namespace", "Team_A"]),
        &["--namespace", "Team_A", "not a valid Kubernetes name"],
    );
    // A variant that was never packed (so never pushed).
    assert_one_line_error(
        &with(&["-p", "fib", "--variant", "native-aarch64"]),
        &["fib native-aarch64", "no image", "cargo lumos push"],
    );
    // Settings.
    assert_one_line_error(
        &with(&["-p", "echo_http", "--memory", "12MB"]),
        &["--memory", "12MB", "quantity"],
    );
    assert_one_line_error(
        &with(&["-p", "echo_http", "--port", "8012"]),
        &["--port 8012", "queue-proxy"],
    );
    assert_one_line_error(
        &with(&["-p", "echo_http", "--min-scale", "4", "--max-scale", "2"]),
        &["--min-scale 4", "--max-scale 2"],
    );
    assert_one_line_error(
        &deploy(ws.path(), &["--registry", "bad host/ns"]),
        &["--registry", "bad host"],
    );
    // No images at all.
    std::fs::remove_dir_all(ws.path().join("target/lumos/oci")).unwrap();
    assert_one_line_error(
        &with(&["-p", "echo_http"]),
        &["no images yet", "cargo lumos image"],
    );
}

/// `--cluster-setup`: the RuntimeClass and the `config-features` keys the
/// Services rely on, first, each a valid Kubernetes object.
#[test]
fn cluster_setup_is_written_first_and_is_valid() {
    let ws = tempfile::tempdir().unwrap();
    workspace(
        ws.path(),
        &[("echo_http", "wasm"), ("echo_http", "native-x86_64")],
    );
    let args = [
        "-p",
        "echo_http",
        "--registry",
        "r.example/ns",
        "--cluster-setup",
        "--runtime-class",
        "crun-wasmedge",
    ];
    let out = deploy(ws.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let docs = documents(&stdout(&out));
    assert_eq!(docs.len(), 4, "{docs:#?}");
    assert_eq!(
        docs[0],
        json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
               "metadata": {"name": "crun-wasmedge"}, "handler": "crun-wasmedge"})
    );
    assert_eq!(
        docs[1],
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "config-features", "namespace": "knative-serving"},
               "data": {"kubernetes.podspec-runtimeclassname": "enabled",
                        "kubernetes.podspec-nodeselector": "enabled"}})
    );
    for (i, doc) in docs[..2].iter().enumerate() {
        let judged = kubernetes_validate(doc, ws.path(), &format!("setup-{i}"));
        assert!(
            judged.status.success(),
            "{}{}",
            stdout(&judged),
            stderr(&judged)
        );
    }
    let validator = knative::service_validator();
    for s in &docs[2..] {
        assert_eq!(s["kind"], "Service");
        assert!(knative::errors(&validator, s).is_empty(), "{s}");
    }

    // In a directory, the setup files sort first.
    let dir = ws.path().join("out/");
    let mut with_dir = args.to_vec();
    with_dir.extend(["--out", dir.to_str().unwrap()]);
    let out = deploy(ws.path(), &with_dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "00-config-features.yaml",
            "00-runtimeclass-crun-wasmedge.yaml",
            "echo-http-native-x86-64.yaml",
            "echo-http-wasm.yaml"
        ]
    );

    // Native only: no RuntimeClass, only the nodeSelector flag.
    let out = deploy(
        ws.path(),
        &[
            "-p",
            "echo_http",
            "--registry",
            "r.example/ns",
            "--cluster-setup",
            "--variant",
            "native-x86_64",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let docs = documents(&stdout(&out));
    assert_eq!(docs.len(), 2);
    assert_eq!(
        docs[0]["data"],
        json!({"kubernetes.podspec-nodeselector": "enabled"})
    );
}

/// Twin crates (one metadata `name`, a native package and a wasm package)
/// are one function: one Service per variant, each once, each from the twin
/// whose `runtimes` build it; `-p` one twin deploys only its variants.
#[test]
fn twin_crates_are_one_service_per_variant() {
    let ws = tempfile::tempdir().unwrap();
    let digests = twin_workspace(
        ws.path(),
        &[
            ("twin", "native-x86_64"),
            ("twin", "native-aarch64"),
            ("twin", "wasm"),
            ("twin", "aot-wasmedge-x86_64"),
        ],
    );
    let out = deploy(ws.path(), &["--registry", "r.example/ns"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let docs = documents(&stdout(&out));
    let validator = knative::service_validator();
    let mut names = Vec::new();
    for s in &docs {
        let errors = knative::errors(&validator, s);
        assert!(errors.is_empty(), "{s}: {errors:#?}");
        let name = s["metadata"]["name"].as_str().unwrap().to_string();
        assert_eq!(s["metadata"]["labels"]["lumos.dev/function"], "twin");
        let variant = s["metadata"]["labels"]["lumos.dev/variant"]
            .as_str()
            .unwrap();
        let digest = &digests.iter().find(|(_, t, _)| t == variant).unwrap().2;
        let spec = &s["spec"]["template"]["spec"];
        assert_eq!(
            spec["containers"][0]["image"],
            format!("r.example/ns/twin@{digest}"),
            "{name}"
        );
        let wasm = variant == "wasm" || variant.starts_with("aot-");
        assert_eq!(spec.get("runtimeClassName").is_some(), wasm, "{name}");
        let pod = kubernetes_validate(&pod_of(s), ws.path(), &name);
        assert!(
            pod.status.success(),
            "kubernetes-validate {name}: {}{}",
            stdout(&pod),
            stderr(&pod)
        );
        names.push(name);
    }
    assert_eq!(
        names,
        [
            "twin-native-x86-64",
            "twin-native-aarch64",
            "twin-wasm",
            "twin-aot-wasmedge-x86-64",
        ],
        "{err}"
    );

    // One twin selected: only the variants it builds.
    let out = deploy(
        ws.path(),
        &["-p", "twin-native", "--registry", "r.example/ns"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let variants: Vec<Value> = documents(&stdout(&out))
        .iter()
        .map(|s| s["metadata"]["labels"]["lumos.dev/variant"].clone())
        .collect();
    assert_eq!(variants, [json!("native-x86_64"), json!("native-aarch64")]);
    // … and a variant the other twin builds is refused, naming the package.
    assert_one_line_error(
        &deploy(
            ws.path(),
            &[
                "-p",
                "twin-native",
                "--registry",
                "r.example/ns",
                "--variant",
                "wasm",
            ],
        ),
        &["twin wasm", "`twin-native` does not build it", "runtimes"],
    );
    // An image never packed names the twin that would build it.
    assert_one_line_error(
        &deploy(
            ws.path(),
            &[
                "--registry",
                "r.example/ns",
                "--variant",
                "aot-wasmedge-aarch64",
            ],
        ),
        &["twin aot-wasmedge-aarch64", "no image", "-p twin-wasm"],
    );
}
