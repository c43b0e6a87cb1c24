//! Image references: `[host[:port]/]repository[:tag][@sha256:…]`.

use std::fmt;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` (`docker.io` for Docker Hub).
    pub registry: String,
    /// e.g. `library/debian`, `lumos/fibonacci`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference; no registry means Docker Hub (and a one-part
    /// repository there means `library/…`); no tag and no digest means `latest`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidReference {
            reference: s.to_string(),
            reason: reason.to_string(),
        };
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d)?)),
            None => (s, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => {
                (&rest[..i], Some(rest[i + 1..].to_string()))
            }
            _ => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, more))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.starts_with('[') =>
            {
                (first.to_string(), more.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty()
            || !repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
            })
        {
            return Err(bad(
                "the repository must be lower-case letters, digits, `.`, `_`, `-` and `/`",
            ));
        }
        if let Some(t) = &tag {
            if t.is_empty()
                || t.len() > 128
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            {
                return Err(bad("a tag is up to 128 letters, digits, `.`, `_` and `-`"));
            }
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The host the distribution API lives on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Whether `host[:port]` names this machine (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback(host_port: &str) -> bool {
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    if host == "localhost" {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let r = Reference::parse("debian:bookworm-slim").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "library/debian")
        );
        assert_eq!(r.tag.as_deref(), Some("bookworm-slim"));
        let r = Reference::parse("127.0.0.1:5000/lumos/fibonacci:wasm").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "lumos/fibonacci");
        assert_eq!(r.reference(), "wasm");
        let r = Reference::parse(
            "localhost/x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        )
        .unwrap();
        assert_eq!(r.tag, None);
        assert!(r.reference().starts_with("sha256:"));
        assert_eq!(
            Reference::parse("ghcr.io/a/b").unwrap().tag.as_deref(),
            Some("latest")
        );
        assert!(Reference::parse("Upper/Case").is_err());
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:443"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert!(!is_loopback("registry.example"));
    }
}
