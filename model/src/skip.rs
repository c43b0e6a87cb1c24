//! `cargo lumos bench --skip FUNCTION@RUNTIME`: a function's cells on one
//! runtime left out of the matrix (as `cargo test --skip` leaves tests out),
//! recorded in the results' settings so a reader knows what was not run.

use crate::Runtime;

/// One function on one runtime, not run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skip {
    pub function: String,
    pub runtime: Runtime,
}

/// A `--skip` value that is not `FUNCTION@RUNTIME`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SkipSpecError {
    #[error("`{0}` is not FUNCTION@RUNTIME")]
    Shape(String),
    #[error(transparent)]
    Runtime(#[from] crate::UnknownName),
}

impl std::str::FromStr for Skip {
    type Err = SkipSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((function, runtime)) = s.split_once('@') else {
            return Err(SkipSpecError::Shape(s.to_string()));
        };
        let function = function.trim();
        if function.is_empty() || runtime.trim().is_empty() {
            return Err(SkipSpecError::Shape(s.to_string()));
        }
        Ok(Skip {
            function: function.to_string(),
            runtime: runtime.trim().parse()?,
        })
    }
}

impl std::fmt::Display for Skip {
    /// `language-detection@wasmedge-interp`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.function, self.runtime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_function_at_runtime() {
        let s: Skip = "language-detection@wasmedge-interp".parse().unwrap();
        assert_eq!(s.function, "language-detection");
        assert_eq!(s.runtime, Runtime::WasmedgeInterp);
        assert_eq!(s.to_string(), "language-detection@wasmedge-interp");
    }

    #[test]
    fn refuses_what_is_not_function_at_runtime() {
        for bad in ["fibonacci", "@native", "fibonacci@", ""] {
            let e = bad.parse::<Skip>().unwrap_err();
            assert_eq!(e, SkipSpecError::Shape(bad.into()), "{bad}");
        }
        let e = "fibonacci@wasmer".parse::<Skip>().unwrap_err().to_string();
        assert!(e.contains("wasmer"), "{e}");
    }
}
