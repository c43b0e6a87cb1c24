//! `[package.metadata.lumos]` and `[workspace.metadata.lumos]`: what a function
//! declares about itself. Package values override workspace defaults key by key;
//! an unknown key is an error naming the key and the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use lumos_model::{Protocol, RuntimeFamily};

/// The keys a `lumos` metadata table may hold.
pub const KNOWN_KEYS: &[&str] = &[
    "protocol",
    "runtimes",
    "base",
    "payloads",
    "profile",
    "port",
    "args",
    "name",
    "workflows",
];

/// A function's resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    pub protocol: Protocol,
    /// The runtime families the function supports (default: all three).
    pub runtimes: Vec<RuntimeFamily>,
    /// Base of native images: `scratch`, `debian-slim` or an image reference.
    pub base: String,
    /// Named payload groups for bench, relative to the package's directory.
    pub payloads: Option<PathBuf>,
    /// Cargo profile to build with when the command line names none.
    pub profile: Option<String>,
    /// `protocol = "http"` only: the fixed port the program listens on (it
    /// ignores `$PORT`); None: the runner picks one and sets `$PORT`.
    pub port: Option<u16>,
    /// Command-line arguments every instance is started with (the image's
    /// `Cmd`); a payload group's own `args` come after them.
    pub args: Vec<String>,
    /// The function's name when it is not the binary's: two packages with
    /// the same `name` and disjoint `runtimes` (a native crate and a wasm
    /// crate) are one function, twins.
    pub name: Option<String>,
}

/// Checks a function name (metadata `name`): it names images and rows, so
/// an image repository's spelling: lowercase letters and digits, with `-`,
/// `_` or `.` between them.
pub fn function_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ends_ok = name.starts_with(ok_char) && name.ends_with(ok_char);
    if !ends_ok
        || !name
            .chars()
            .all(|c| ok_char(c) || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "`name` must be lowercase letters and digits with `-`, `_` or `.` between them, got {name:?}"
        ));
    }
    Ok(())
}

/// A metadata table that does not say what a function needs to say.
#[derive(Debug, thiserror::Error)]
#[error("{manifest}: [{table}] {message}")]
pub struct ConfigError {
    pub manifest: PathBuf,
    pub table: &'static str,
    pub message: String,
}

/// Checks a cargo profile name (metadata `profile` and `--profile`): cargo's
/// own rule (letters, digits, `-` and `_`, not empty) and, stricter than
/// cargo, no leading `-`, so that a name is never taken for a flag by cargo.
/// Returns the name, for use as a clap value parser.
pub fn profile_name(name: &str) -> Result<String, InvalidProfile> {
    let bad = |reason: String| InvalidProfile {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("a profile name must not be empty".into()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(bad(format!(
            "invalid character {c:?}: letters, digits, `-` and `_` only"
        )));
    }
    if name.starts_with('-') {
        return Err(bad("it starts with `-` (it would be read as a flag)".into()));
    }
    Ok(name.to_string())
}

/// A cargo profile name Lumos refuses.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid profile name {name:?}: {reason}")]
pub struct InvalidProfile {
    pub name: String,
    pub reason: String,
}

/// Returns the `lumos` table inside a cargo `metadata` value, if any.
pub fn lumos_table(metadata: &Value) -> Option<&Map<String, Value>> {
    metadata.get("lumos").and_then(Value::as_object)
}

/// Checks a table's keys and value types; used for both workspace and package tables.
pub fn validate(
    table: &Map<String, Value>,
    manifest: &Path,
    table_name: &'static str,
) -> Result<(), ConfigError> {
    let err = |message: String| ConfigError {
        manifest: manifest.to_path_buf(),
        table: table_name,
        message,
    };
    for (key, value) in table {
        match key.as_str() {
            "protocol" => {
                let s = value
                    .as_str()
                    .ok_or_else(|| err(format!("`protocol` must be a string, got {value}")))?;
                s.parse::<Protocol>().map_err(|e| err(e.to_string()))?;
            }
            "runtimes" => {
                let items = value.as_array().ok_or_else(|| {
                    err(format!(
                        "`runtimes` must be an array of strings, got {value}"
                    ))
                })?;
                if items.is_empty() {
                    return Err(err("`runtimes` must name at least one runtime".into()));
                }
                for item in items {
                    let s = item
                        .as_str()
                        .ok_or_else(|| err(format!("`runtimes` must hold strings, got {item}")))?;
                    s.parse::<RuntimeFamily>().map_err(|e| err(e.to_string()))?;
                }
            }
            "base" | "payloads" | "profile" => {
                let s = value
                    .as_str()
                    .ok_or_else(|| err(format!("`{key}` must be a string, got {value}")))?;
                if s.trim().is_empty() {
                    return Err(err(format!("`{key}` must not be empty")));
                }
                if key == "profile" {
                    profile_name(s).map_err(|m| err(format!("`profile`: {m}")))?;
                }
            }
            "port" => {
                if !matches!(value.as_u64(), Some(1..=65535)) {
                    return Err(err(format!(
                        "`port` must be a port number from 1 to 65535, got {value}"
                    )));
                }
            }
            "name" => {
                if table_name.starts_with("workspace") {
                    return Err(err(
                        "`name` names one function: it belongs in [package.metadata.lumos]".into(),
                    ));
                }
                let s = value
                    .as_str()
                    .ok_or_else(|| err(format!("`name` must be a string, got {value}")))?;
                function_name(s).map_err(err)?;
            }
            "workflows" => {
                if !table_name.starts_with("workspace") {
                    return Err(err(
                        "`workflows` chain functions of the workspace: it belongs in [workspace.metadata.lumos]".into(),
                    ));
                }
                workflows(value).map_err(err)?;
            }
            "args" => {
                let items = value.as_array().ok_or_else(|| {
                    err(format!("`args` must be an array of strings, got {value}"))
                })?;
                if let Some(item) = items.iter().find(|i| !i.is_string()) {
                    return Err(err(format!("`args` must hold strings, got {item}")));
                }
            }
            other => {
                return Err(err(format!(
                    "unknown key `{other}` (known keys: {})",
                    KNOWN_KEYS.join(", ")
                )))
            }
        }
    }
    Ok(())
}

/// Reads `[workspace.metadata.lumos.workflows.NAME] steps = ["A", "B", …]`:
/// each workflow's steps, in order (two at least; the names are checked
/// against the workspace's functions by the caller).
pub fn workflows(value: &Value) -> Result<BTreeMap<String, Vec<String>>, String> {
    let table = value.as_object().ok_or_else(|| {
        format!("`workflows` must be a table of workflows (`[workspace.metadata.lumos.workflows.NAME] steps = [\"A\", \"B\"]`), got {value}")
    })?;
    let mut out = BTreeMap::new();
    for (name, w) in table {
        let key = format!("`workflows.{name}`");
        if function_name(name).is_err() {
            return Err(format!(
                "{key}: a workflow's name must be lowercase letters and digits with `-`, `_` or `.` between them"
            ));
        }
        let w = w
            .as_object()
            .ok_or_else(|| format!("{key} must be a table with `steps`, got {w}"))?;
        if let Some(other) = w.keys().find(|k| *k != "steps") {
            return Err(format!("{key}: unknown key `{other}` (known keys: steps)"));
        }
        let steps = w
            .get("steps")
            .ok_or_else(|| format!("{key} has no `steps`"))?;
        let items = steps.as_array().ok_or_else(|| {
            format!("{key}.steps must be an array of function names, got {steps}")
        })?;
        let mut names = Vec::with_capacity(items.len());
        for i in items {
            let s = i
                .as_str()
                .ok_or_else(|| format!("{key}.steps must hold function names, got {i}"))?;
            names.push(s.to_string());
        }
        if names.len() < 2 {
            return Err(format!(
                "{key}.steps: a workflow chains at least two steps, got {}",
                names.len()
            ));
        }
        out.insert(name.clone(), names);
    }
    Ok(out)
}

/// Checks what only the merged settings show: `port` needs `protocol = "http"`.
pub fn check_resolved(config: &FunctionConfig, manifest: &Path) -> Result<(), ConfigError> {
    if let (Some(port), p) = (config.port, config.protocol) {
        if p != Protocol::Http {
            return Err(ConfigError {
                manifest: manifest.to_path_buf(),
                table: "package.metadata.lumos",
                message: format!(
                    "`port = {port}` is for `protocol = \"http\"` (a server on a fixed port); this function's protocol is `{p}`"
                ),
            });
        }
    }
    Ok(())
}

/// Merges the workspace defaults and a package's own table (already validated).
pub fn resolve(
    workspace: Option<&Map<String, Value>>,
    package: &Map<String, Value>,
) -> FunctionConfig {
    let get = |key: &str| {
        package
            .get(key)
            .or_else(|| workspace.and_then(|w| w.get(key)))
    };
    let string = |key: &str| get(key).and_then(Value::as_str).map(str::to_string);
    let protocol = string("protocol")
        .and_then(|s| s.parse().ok())
        .unwrap_or(Protocol::Lumos);
    let runtimes = get("runtimes")
        .and_then(Value::as_array)
        .map(|items| {
            let mut families: Vec<RuntimeFamily> = items
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|s| s.parse().ok())
                .collect();
            families.sort();
            families.dedup();
            families
        })
        .unwrap_or_else(|| RuntimeFamily::ALL.to_vec());
    FunctionConfig {
        protocol,
        runtimes,
        base: string("base").unwrap_or_else(|| "scratch".to_string()),
        payloads: string("payloads").map(PathBuf::from),
        profile: string("profile"),
        port: get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok()),
        args: get("args")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        // A function's own name; a workspace default would make every
        // function one.
        name: package
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn unknown_key_is_named_with_the_manifest() {
        let t = obj(json!({"protocol": "lumos", "runtime": ["wasm"]}));
        let e = validate(&t, Path::new("/x/Cargo.toml"), "package.metadata.lumos").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/x/Cargo.toml"), "{msg}");
        assert!(msg.contains("unknown key `runtime`"), "{msg}");
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            json!({"protocol": "grpc"}),
            json!({"runtimes": ["jvm"]}),
            json!({"runtimes": []}),
            json!({"base": 3}),
            json!({"profile": "--help"}),
            json!({"profile": "../x"}),
            json!({"profile": "a b"}),
        ] {
            assert!(
                validate(&obj(bad.clone()), Path::new("C"), "t").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn package_overrides_workspace_key_by_key() {
        let ws = obj(json!({"protocol": "stdio", "runtimes": ["native"], "base": "debian-slim"}));
        let pkg = obj(json!({"runtimes": ["wasm", "aot"]}));
        let c = resolve(Some(&ws), &pkg);
        assert_eq!(c.protocol, Protocol::Stdio);
        assert_eq!(c.runtimes, vec![RuntimeFamily::Wasm, RuntimeFamily::Aot]);
        assert_eq!(c.base, "debian-slim");
    }

    #[test]
    fn port_and_args() {
        let pkg = obj(json!({"protocol": "http", "port": 3030, "args": ["30", "--fast"]}));
        validate(&pkg, Path::new("C"), "t").unwrap();
        let c = resolve(None, &pkg);
        assert_eq!(c.port, Some(3030));
        assert_eq!(c.args, ["30", "--fast"]);
        check_resolved(&c, Path::new("C")).unwrap();
        for bad in [
            json!({"port": 0}),
            json!({"port": 70000}),
            json!({"port": "3030"}),
            json!({"args": "30"}),
            json!({"args": [30]}),
        ] {
            let e = validate(&obj(bad.clone()), Path::new("C"), "t").unwrap_err();
            assert!(e.to_string().contains('`'), "{bad}: {e}");
        }
        let stdio = resolve(None, &obj(json!({"protocol": "stdio", "port": 8080})));
        let e = check_resolved(&stdio, Path::new("/w/Cargo.toml")).unwrap_err();
        assert!(
            e.to_string().contains("/w/Cargo.toml") && e.to_string().contains("port = 8080"),
            "{e}"
        );
    }

    #[test]
    fn function_names() {
        for good in ["twin", "fib-2", "a.b_c", "x"] {
            validate(&obj(json!({ "name": good })), Path::new("C"), "t").unwrap();
        }
        for bad in [
            json!(""),
            json!("Twin"),
            json!("-twin"),
            json!("a/b"),
            json!(3),
        ] {
            let e = validate(&obj(json!({ "name": bad })), Path::new("C"), "t").unwrap_err();
            assert!(e.to_string().contains("`name`"), "{bad}: {e}");
        }
        // Only the package's own table names a function.
        let ws = obj(json!({"name": "all"}));
        let e = validate(&ws, Path::new("C"), "workspace.metadata.lumos").unwrap_err();
        assert!(e.to_string().contains("[package.metadata.lumos]"), "{e}");
        assert_eq!(resolve(Some(&ws), &Map::new()).name, None);
        let c = resolve(Some(&ws), &obj(json!({"name": "twin"})));
        assert_eq!(c.name.as_deref(), Some("twin"));
    }

    #[test]
    fn workflows_are_a_workspace_table_of_two_or_more_steps() {
        let ws =
            obj(json!({"workflows": {"seal": {"steps": ["encrypt-message", "decrypt-message"]}}}));
        validate(&ws, Path::new("C"), "workspace.metadata.lumos").unwrap();
        assert_eq!(
            workflows(&ws["workflows"]).unwrap()["seal"],
            ["encrypt-message", "decrypt-message"]
        );
        let e = validate(&ws, Path::new("C"), "package.metadata.lumos").unwrap_err();
        assert!(e.to_string().contains("[workspace.metadata.lumos]"), "{e}");
        for (bad, says) in [
            (
                json!({"one": {"steps": ["a"]}}),
                "`workflows.one`.steps: a workflow chains at least two steps, got 1",
            ),
            (
                json!({"w": {"steps": "a,b"}}),
                "`workflows.w`.steps must be an array",
            ),
            (
                json!({"w": {"step": ["a", "b"]}}),
                "`workflows.w`: unknown key `step`",
            ),
            (json!({"w": {}}), "`workflows.w` has no `steps`"),
            (
                json!({"W": {"steps": ["a", "b"]}}),
                "`workflows.W`: a workflow's name",
            ),
            (json!(["a", "b"]), "`workflows` must be a table"),
        ] {
            let e = validate(
                &obj(json!({ "workflows": bad })),
                Path::new("/w/Cargo.toml"),
                "workspace.metadata.lumos",
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains(says) && e.contains("/w/Cargo.toml"), "{e}");
        }
    }

    #[test]
    fn defaults_when_nothing_is_said() {
        let c = resolve(None, &Map::new());
        assert_eq!(c.protocol, Protocol::Lumos);
        assert_eq!(c.runtimes, RuntimeFamily::ALL.to_vec());
        assert_eq!(c.base, "scratch");
        assert_eq!(c.profile, None);
    }
}
