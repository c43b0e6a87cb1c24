//! Hand-written hostile OCI layouts (correct digests, hostile content): the
//! errors say what is wrong and where, bounds hold everywhere, and a failed
//! unpack leaves nothing half-written behind.

use std::io::Write;
use std::path::Path;

use lumos_oci::image::{read_index, read_manifest};
use lumos_oci::registry::pull::select_platform;
use lumos_oci::spec::{media, to_bytes, MAX_DOCUMENT_BYTES};
use lumos_oci::unpack::{unpack_image, UnpackLimits};
use lumos_oci::{Descriptor, Error, Index, Layout, Manifest, Platform};

/// A tar of `n` small files, gzipped.
fn layer_of_files(n: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..n {
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("f{i}"), &b"x"[..]).unwrap();
    }
    gzip(&b.into_inner().unwrap())
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(raw).unwrap();
    gz.finish().unwrap()
}

/// A manifest over `layers` (gzip tar blobs written to `layout`).
fn manifest_of(layout: &Layout, layers: &[Vec<u8>]) -> (Manifest, Descriptor) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = Descriptor::of(media::CONFIG, config);
    layout.write_blob(config).unwrap();
    let layers = layers
        .iter()
        .map(|l| {
            layout.write_blob(l).unwrap();
            Descriptor::of(media::LAYER_GZIP, l)
        })
        .collect();
    let m = Manifest {
        schema_version: 2,
        media_type: Some(media::MANIFEST.into()),
        artifact_type: None,
        config: cd,
        layers,
        subject: None,
        annotations: None,
    };
    let bytes = to_bytes(&m);
    layout.write_blob(&bytes).unwrap();
    (m, Descriptor::of(media::MANIFEST, &bytes))
}

fn empty_or_gone(p: &Path) -> bool {
    std::fs::read_dir(p).map_or(true, |mut d| d.next().is_none())
}

#[test]
fn too_many_entries_names_the_limit_and_the_layer_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let (m, _) = manifest_of(&layout, &[layer_of_files(3), layer_of_files(12)]);
    let root = dir.path().join("rootfs");
    let limits = UnpackLimits {
        max_entries: 10,
        ..Default::default()
    };
    let err = unpack_image(&layout, &m, &root, &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "layer {}: more than 10 entries (the limit on entries, UnpackLimits::max_entries)",
            m.layers[1].digest
        )
    );
    assert!(
        !root.exists(),
        "the unpack created the root and must remove it"
    );
    // Into a root the caller made: emptied again, the root itself kept.
    std::fs::create_dir(&root).unwrap();
    unpack_image(&layout, &m, &root, &limits).unwrap_err();
    assert!(root.is_dir() && empty_or_gone(&root));
}

#[test]
fn a_bomb_stops_at_the_byte_bound_naming_the_layer_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let zeros = vec![0u8; 16 << 20];
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(zeros.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "bomb", zeros.as_slice()).unwrap();
    let bomb = gzip(&b.into_inner().unwrap());
    let (m, _) = manifest_of(&layout, &[layer_of_files(2), bomb]);
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    let limits = UnpackLimits {
        max_bytes: 4 << 20,
        ..Default::default()
    };
    let err = unpack_image(&layout, &m, &root, &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "layer {}: unpacked size exceeds the limit of 4194304 bytes (4 MiB; UnpackLimits::max_bytes)",
            m.layers[1].digest
        )
    );
    assert!(empty_or_gone(&root), "half an image was left behind");
}

#[test]
fn a_truncated_layer_blob_is_named_by_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let (m, _) = manifest_of(&layout, &[layer_of_files(50)]);
    let blob = layout.blob_path(&m.layers[0].digest);
    let bytes = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &bytes[..bytes.len() / 2]).unwrap();
    let root = dir.path().join("rootfs");
    let err = unpack_image(&layout, &m, &root, &UnpackLimits::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("layer {}: ", m.layers[0].digest)),
        "{msg}"
    );
    assert!(
        msg.contains("size mismatch") && !msg.contains("rootfs"),
        "{msg}"
    );
    assert!(!root.exists());
}

#[test]
fn unknown_media_types_on_manifest_and_index_descriptors_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let (_, mdesc) = manifest_of(&layout, &[layer_of_files(1)]);
    let evil = Descriptor {
        media_type: "application/x-evil".into(),
        ..mdesc.clone()
    };
    let err = read_manifest(&layout, &evil).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`application/x-evil`") && msg.contains(mdesc.digest.as_str()),
        "{msg}"
    );
    // Said to be a manifest, declared an index: refused too.
    let as_index = Descriptor {
        media_type: media::INDEX.into(),
        ..mdesc.clone()
    };
    let err = read_index(&layout, &as_index).unwrap_err();
    assert!(err.to_string().contains("mediaType"), "{err}");
    // An index entry for the wanted platform with an unknown media type.
    let mut child = evil.clone();
    child.platform = Some(Platform::new("linux", "amd64"));
    let index = Index {
        manifests: vec![child],
        ..Index::empty()
    };
    let err = select_platform(&index, &Platform::new("linux", "amd64"), "oci:x:y").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`application/x-evil`")
            && msg.contains("linux/amd64")
            && msg.contains("oci:x:y"),
        "{msg}"
    );
}

#[test]
fn an_index_pointing_to_an_index_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let (_, mut mdesc) = manifest_of(&layout, &[layer_of_files(1)]);
    mdesc.platform = Some(Platform::new("linux", "amd64"));
    let inner = to_bytes(&Index {
        manifests: vec![mdesc],
        ..Index::empty()
    });
    layout.write_blob(&inner).unwrap();
    let mut idesc = Descriptor::of(media::INDEX, &inner);
    idesc.platform = Some(Platform::new("linux", "amd64"));
    let outer = Index {
        manifests: vec![idesc.clone()],
        ..Index::empty()
    };
    let err = select_platform(&outer, &Platform::new("linux", "amd64"), "oci:x:y").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("is itself an index") && msg.contains(idesc.digest.as_str()),
        "{msg}"
    );
    assert!(!msg.contains("no image for platform"), "{msg}");
}

#[test]
fn a_huge_manifest_or_config_in_a_local_layout_is_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    // A valid JSON manifest padded past the cap with an annotation.
    let (mut m, _) = manifest_of(&layout, &[layer_of_files(1)]);
    m.annotations = Some(
        [(
            "pad".to_string(),
            "x".repeat(MAX_DOCUMENT_BYTES as usize + 10),
        )]
        .into_iter()
        .collect(),
    );
    let big = to_bytes(&m);
    layout.write_blob(&big).unwrap();
    let honest = Descriptor::of(media::MANIFEST, &big);
    let err = read_manifest(&layout, &honest).unwrap_err();
    assert!(matches!(err, Error::DocumentTooLarge { .. }), "{err}");
    assert!(err.to_string().contains("4194304"), "{err}");
    // A descriptor that lies about the size: still only the cap is read.
    let lying = Descriptor {
        size: 100,
        ..honest.clone()
    };
    let err = read_manifest(&layout, &lying).unwrap_err();
    assert!(err.to_string().contains("size mismatch"), "{err}");
    // Copying it from one layout to another (as the runner's cache does).
    let cache = Layout::create(dir.path().join("cache")).unwrap();
    let err = cache.copy_document_from(&layout, &honest).unwrap_err();
    assert!(matches!(err, Error::DocumentTooLarge { .. }), "{err}");
    assert!(!cache.has_blob(&honest.digest));
}
