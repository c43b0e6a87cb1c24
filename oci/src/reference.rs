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

/// Longest repository name a registry accepts (the distribution spec's
/// `NameTotalLengthMax`).
pub const MAX_NAME_LEN: usize = 255;
/// Longest tag.
pub const MAX_TAG_LEN: usize = 128;
/// Longest `--tag-prefix`: leaves room for the variant names after it.
pub const MAX_TAG_PREFIX_LEN: usize = 100;

fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidName {
        what,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Checks `host[:port]` against the distribution grammar: dot-separated
/// components of letters, digits and inner `-` (or an IPv6 address in
/// brackets), and a port from 1 to 65535.
pub fn validate_host(s: &str) -> Result<()> {
    let bad = |reason: &str| invalid("registry host", s, reason);
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("an IPv6 address needs its closing `]`"))?;
        addr.parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address in brackets"))?;
        match after {
            "" => (addr, None),
            p => (
                addr,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("only `:PORT` may follow `]`"))?,
                ),
            ),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if !s.starts_with('[') {
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        for c in host.split('.') {
            let b = c.as_bytes();
            if c.is_empty()
                || !b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
                || b[0] == b'-'
                || b[b.len() - 1] == b'-'
            {
                return Err(bad(
                    "a host is dot-separated names of letters, digits and inner `-`",
                ));
            }
        }
    }
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the port must be a number"));
        }
        match p.parse::<u32>() {
            Ok(1..=65535) => {}
            _ => return Err(bad("the port must be from 1 to 65535")),
        }
    }
    Ok(())
}

/// Checks a repository path (`library/debian`, `lumos/fibonacci`): `/`-separated
/// components of lower-case letters and digits joined by `.`, `_`, `__` or
/// dashes, at most [`MAX_NAME_LEN`] characters.
pub fn validate_repository(s: &str) -> Result<()> {
    validate_path("repository", s)
}

/// Checks a namespace (the first part of image names, as `lumos` in
/// `lumos/fibonacci:wasm`): the grammar of a repository path.
pub fn validate_namespace(s: &str) -> Result<()> {
    validate_path("namespace", s)
}

fn validate_path(what: &'static str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(invalid(what, s, "it is empty"));
    }
    if s.len() > MAX_NAME_LEN {
        return Err(invalid(
            what,
            s,
            format!("longer than {MAX_NAME_LEN} characters"),
        ));
    }
    for c in s.split('/') {
        if !path_component_ok(c) {
            return Err(invalid(
                what,
                s,
                format!(
                    "`{c}` is not a path component: lower-case letters and digits, \
                     joined by `.`, `_`, `__` or `-`, separated by `/`"
                ),
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+ (([._]|__|-+) [a-z0-9]+)*`
fn path_component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Checks a tag: `[A-Za-z0-9_][A-Za-z0-9_.-]*`, at most [`MAX_TAG_LEN`] characters.
pub fn validate_tag(s: &str) -> Result<()> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > MAX_TAG_LEN {
        return Err(invalid(
            "tag",
            s,
            format!("a tag is 1 to {MAX_TAG_LEN} characters"),
        ));
    }
    if !word(b[0]) || !b.iter().all(|&x| word(x) || x == b'.' || x == b'-') {
        return Err(invalid(
            "tag",
            s,
            "a tag is letters, digits, `_`, `.` and `-`, and does not start with `.` or `-`",
        ));
    }
    Ok(())
}

/// Checks a prefix put before variant names to make tags (`v1-` gives
/// `v1-wasm`): empty, or the start of a valid tag of at most
/// [`MAX_TAG_PREFIX_LEN`] characters.
pub fn validate_tag_prefix(s: &str) -> Result<()> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() > MAX_TAG_PREFIX_LEN {
        return Err(invalid(
            "tag prefix",
            s,
            format!("longer than {MAX_TAG_PREFIX_LEN} characters"),
        ));
    }
    validate_tag(&format!("{s}x")).map_err(|_| {
        invalid(
            "tag prefix",
            s,
            "tags are letters, digits, `_`, `.` and `-`, and do not start with `.` or `-`",
        )
    })
}

/// Splits `HOST[:PORT][/NAMESPACE]` (an `https://` or `http://` in front and a
/// `/` at the end are ignored), checking both parts; the namespace may be empty.
pub fn split_registry(s: &str) -> Result<(String, String)> {
    let t = s.trim_end_matches('/');
    let t = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .unwrap_or(t);
    let (host, ns) = t.split_once('/').unwrap_or((t, ""));
    validate_host(host)?;
    if !ns.is_empty() {
        validate_namespace(ns)?;
    }
    Ok((host.to_string(), ns.to_string()))
}

impl Reference {
    /// Parses a reference; no registry means Docker Hub (and a one-part
    /// repository there means `library/…`); no tag and no digest means `latest`.
    /// Host, port, repository and tag are checked against the distribution
    /// spec's grammar here, before anything is sent.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |e: Error| Error::InvalidReference {
            reference: s.to_string(),
            reason: match e {
                Error::InvalidName { what, reason, .. } => format!("{what}: {reason}"),
                other => other.to_string(),
            },
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
        validate_host(&registry).map_err(bad)?;
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        validate_repository(&repository).map_err(bad)?;
        if let Some(t) = &tag {
            validate_tag(t).map_err(bad)?;
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
    fn hosts_ports_paths_and_tags_follow_the_distribution_grammar() {
        for good in [
            "127.0.0.1:5000",
            "localhost",
            "r.example",
            "my-reg.example:443",
            "[::1]:5000",
        ] {
            validate_host(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "127.0.0.1:99999",
            "127.0.0.1:0",
            "bad host!",
            "",
            "-a.example",
            "a..b",
            "h:",
            "h:x",
            "[::1",
            "[zz]:5",
        ] {
            assert!(validate_host(bad).is_err(), "{bad} accepted");
        }
        let e = Reference::parse("127.0.0.1:99999/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("65535") && e.contains("127.0.0.1:99999"), "{e}");
        for good in ["a", "lumos/fibonacci", "a.b_c__d---e/f0"] {
            validate_repository(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "UPPER",
            "../../../x",
            "a//b",
            "a/",
            "_a",
            "a_",
            "a___b",
            "a.-b",
            &"a".repeat(256),
        ] {
            assert!(validate_namespace(bad).is_err(), "{bad} accepted");
        }
        for good in ["v1", "latest", "_x", "A.b-c_D", &"t".repeat(128)] {
            validate_tag(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in ["", ".x", "-x", "bad tag!", "a/b", &"t".repeat(129)] {
            assert!(validate_tag(bad).is_err(), "{bad} accepted");
        }
        validate_tag_prefix("").unwrap();
        validate_tag_prefix("v1-").unwrap();
        assert!(validate_tag_prefix("bad tag!").is_err());
        assert!(validate_tag_prefix("-x").is_err());
        assert_eq!(
            split_registry("https://127.0.0.1:5000/lumos/").unwrap(),
            ("127.0.0.1:5000".into(), "lumos".into())
        );
        assert!(split_registry("bad host!/ns").is_err());
        assert!(split_registry("r.example/Upper").is_err());
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
