//! Image references and registry arguments on arbitrary strings.
//!
//! Checked: no panic; a reference that parses prints as one that parses to
//! the same value, whose parts pass the validators on their own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumos_oci::reference::{
    split_registry, validate_host, validate_repository, validate_tag, Reference,
};

fuzz_target!(|s: &str| {
    if let Ok(r) = Reference::parse(s) {
        let shown = r.to_string();
        let again = Reference::parse(&shown)
            .unwrap_or_else(|e| panic!("{s:?} parsed, its display {shown:?} does not: {e}"));
        assert_eq!(r, again, "{s:?} -> {shown:?}");
        validate_host(&r.registry).unwrap();
        validate_repository(&r.repository).unwrap();
        if let Some(t) = &r.tag {
            validate_tag(t).unwrap();
        }
    }
    if let Ok((host, ns)) = split_registry(s) {
        validate_host(&host).unwrap();
        if !ns.is_empty() {
            validate_repository(&ns).unwrap();
        }
    }
});
