//! `[package.metadata.lumos]` and `[workspace.metadata.lumos]`: what a function
//! declares about itself. Package values override workspace defaults key by key;
//! an unknown key is an error naming the key and the manifest.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use lumos_model::{Protocol, RuntimeFamily};

/// The keys a `lumos` metadata table may hold.
pub const KNOWN_KEYS: &[&str] = &["protocol", "runtimes", "base", "payloads", "profile"];

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
    fn defaults_when_nothing_is_said() {
        let c = resolve(None, &Map::new());
        assert_eq!(c.protocol, Protocol::Lumos);
        assert_eq!(c.runtimes, RuntimeFamily::ALL.to_vec());
        assert_eq!(c.base, "scratch");
        assert_eq!(c.profile, None);
    }
}
