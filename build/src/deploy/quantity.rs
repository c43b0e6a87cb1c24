//! Kubernetes resource quantities for `--memory` and `--cpus`: a positive
//! decimal number with an optional suffix (`128Mi`, `1G`, `0.5`, `500m`).
//! Hand-written: the grammar is one number and a suffix from a fixed list
//! (the exponent form `1e3` is left out as no one writes limits so).

/// Binary and decimal suffixes Kubernetes accepts.
const SUFFIXES: &[&str] = &[
    "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
];

/// A quantity Lumos refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a Kubernetes quantity: {reason} (e.g. `128Mi`, `1Gi`, `0.5`, `500m`)")]
pub struct InvalidQuantity {
    pub value: String,
    pub reason: String,
}

/// Checks a positive quantity; returns it as written, for use as a clap
/// value parser.
pub fn quantity(value: &str) -> Result<String, InvalidQuantity> {
    let bad = |reason: &str| InvalidQuantity {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(split);
    if !suffix.is_empty() && !SUFFIXES.contains(&suffix) {
        return Err(bad(&format!(
            "unknown suffix `{suffix}` (known: {})",
            SUFFIXES.join(", ")
        )));
    }
    let digits = number.replace('.', "");
    if digits.is_empty() || number.matches('.').count() > 1 {
        return Err(bad("it does not start with a number"));
    }
    if digits.chars().all(|c| c == '0') {
        return Err(bad("a limit must be more than zero"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_checked() {
        for good in ["128Mi", "1Gi", "0.5", "500m", "2", ".5", "1.5G"] {
            assert_eq!(quantity(good).unwrap(), good);
        }
        for bad in ["", "0", "0Mi", "-1", "12MB", "1..2", "Mi", "1 Gi", "1e3"] {
            assert!(quantity(bad).is_err(), "{bad:?}");
        }
    }
}
