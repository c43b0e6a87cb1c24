//! OCI images: reproducible layers, image layout, registry push/pull, safe unpack.
