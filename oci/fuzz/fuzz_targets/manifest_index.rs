//! The manifest and index parser and platform selection on arbitrary bytes.
//!
//! Checked: no panic; a document that parses re-serialises to one that
//! parses to the same value; a selected platform manifest is an image
//! manifest for that platform.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumos_oci::image::{parse_index, parse_manifest};
use lumos_oci::registry::pull::select_platform;
use lumos_oci::spec::{media, to_bytes};
use lumos_oci::{Descriptor, Platform};

const TYPES: [&str; 5] = [
    media::MANIFEST,
    media::INDEX,
    media::DOCKER_MANIFEST,
    media::DOCKER_LIST,
    "application/x-unknown",
];

fuzz_target!(|data: &[u8]| {
    let wanted = [
        Platform::new("linux", "amd64"),
        Platform::new("linux", "arm64"),
        Platform::wasi(),
        Platform::parse("linux/arm64/v8").unwrap(),
    ];
    for mt in TYPES {
        let desc = Descriptor::of(mt, data);
        if let Ok(m) = parse_manifest(data, &desc, "fuzz") {
            assert!(media::is_manifest(mt));
            let bytes = to_bytes(&m);
            let again = parse_manifest(&bytes, &Descriptor::of(mt, &bytes), "again")
                .unwrap_or_else(|e| panic!("a parsed manifest does not parse again: {e}"));
            assert_eq!(m, again);
        }
        if let Ok(i) = parse_index(data, &desc, "fuzz") {
            assert!(media::is_index(mt));
            let bytes = to_bytes(&i);
            let again = parse_index(&bytes, &Descriptor::of(mt, &bytes), "again")
                .unwrap_or_else(|e| panic!("a parsed index does not parse again: {e}"));
            assert_eq!(i, again);
            for p in &wanted {
                if let Ok(d) = select_platform(&i, p, "fuzz") {
                    assert!(media::is_manifest(&d.media_type));
                    assert!(p.matches(d.platform.as_ref().unwrap()));
                }
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(p) = Platform::parse(s) {
            assert_eq!(Platform::parse(&p.to_string()), Some(p));
        }
    }
});
