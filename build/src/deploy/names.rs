//! Kubernetes names for what comes from the workspace. A Knative Service's
//! name becomes the name of Kubernetes Services and a DNS host name, so it
//! must be a DNS-1035 label (the stricter form of DNS-1123 that Kubernetes
//! Services require): lowercase letters, digits and `-`, starting with a
//! letter, ending with a letter or digit, at most 63 characters. Hand-written:
//! three character classes and a length do not warrant a regex crate.

/// Longest DNS label.
pub const MAX_LABEL: usize = 63;

/// A name that cannot be made a Kubernetes name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a valid Kubernetes name: {reason} (DNS-1035 label: lowercase letters, digits and `-`, starting with a letter, ending with a letter or digit, at most 63 characters)")]
pub struct InvalidName {
    pub name: String,
    pub reason: String,
}

/// Checks a DNS-1035 label.
pub fn check_label(name: &str) -> Result<(), InvalidName> {
    let bad = |reason: String| InvalidName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("it is empty".into()));
    }
    if name.len() > MAX_LABEL {
        return Err(bad(format!("it has {} characters", name.len())));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(bad(format!("it holds {c:?}")));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(bad("it does not start with a letter".into()));
    }
    if name.ends_with('-') {
        return Err(bad("it ends with `-`".into()));
    }
    Ok(())
}

/// The Kubernetes spelling of a cargo name: ASCII lowercased and `_` made
/// `-` (cargo allows both in binary names; Kubernetes neither). Whatever
/// else is wrong is refused by [`check_label`], not repaired.
pub fn kube_spelling(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// The Knative Service `cargo lumos deploy` makes for `function` in
/// `variant`: `<function>-<variant>`, both in Kubernetes spelling
/// (`fuzzy_search` in `aot-wasmedge-x86_64`: `fuzzy-search-aot-wasmedge-x86-64`).
/// `bench --endpoint` reaches the same Service by this name.
pub fn service_name(function: &str, variant: lumos_model::Variant) -> Result<String, InvalidName> {
    let name = format!(
        "{}-{}",
        kube_spelling(function),
        kube_spelling(&variant.to_string())
    );
    check_label(&name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        use lumos_model::{AotEngine, Arch, Variant};
        let aot = Variant::Aot(AotEngine::Wasmedge, Arch::X86_64);
        assert_eq!(
            service_name("fuzzy_search", aot).unwrap(),
            "fuzzy-search-aot-wasmedge-x86-64"
        );
        assert_eq!(service_name("fib", Variant::Wasm).unwrap(), "fib-wasm");
        assert!(service_name(&"f".repeat(60), Variant::Wasm).is_err());
    }

    #[test]
    fn labels_are_checked() {
        for good in ["fibonacci", "fuzzy-search-aot-wasmedge-aarch64", "a1"] {
            check_label(good).unwrap();
        }
        for bad in [
            "",
            "9lives",
            "-x",
            "x-",
            "a.b",
            "a b",
            "Caps",
            "é",
            &"a".repeat(64),
        ] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cargo_names_are_respelled() {
        assert_eq!(kube_spelling("fuzzy_search"), "fuzzy-search");
        assert_eq!(kube_spelling("Fib"), "fib");
        assert_eq!(kube_spelling("native-x86_64"), "native-x86-64");
    }
}
