//! `cargo lumos image` (and the image flags of `build --image`).

use std::path::PathBuf;
use std::process::ExitCode;

use lumos_build::images::{PackReport, PackRequest, WasmFormat};

use crate::cli::{FunctionArgs, MessageFormat, TargetArgs};

/// The form of wasm and AoT images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WasmFormatArg {
    /// One layer, platform wasi/wasm: what crun, runwasi and Kwasm run.
    #[default]
    Compat,
    /// The CNCF Wasm OCI artifact.
    Artifact,
}

/// Options of packing (also flattened into `build --image`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ImageArgs {
    /// Base of native images: `scratch`, `debian-slim` (debian:bookworm-slim)
    /// or any image reference; overrides each function's `base`.
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// Form of wasm and AoT images.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t)]
    pub wasm_format: WasmFormatArg,
    /// First part of every image name: `<namespace>/<function>:<variant>`
    /// (lower-case path components, as in a registry).
    #[arg(long, value_name = "NAME", default_value = "lumos", value_parser = namespace_arg)]
    pub namespace: String,
    /// Allow plain HTTP (and unverified TLS) to a non-loopback base-image registry.
    #[arg(long)]
    pub insecure: bool,
    /// A CA certificate (PEM) to trust for the base-image registry.
    #[arg(long, value_name = "PEM", env = "LUMOS_REGISTRY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

impl ImageArgs {
    /// The library's request (every function; the caller narrows it).
    pub fn request(&self) -> PackRequest {
        PackRequest {
            base: self.base.clone(),
            wasm_format: match self.wasm_format {
                WasmFormatArg::Compat => WasmFormat::Compat,
                WasmFormatArg::Artifact => WasmFormat::Artifact,
            },
            namespace: self.namespace.clone(),
            functions: vec![],
            insecure: self.insecure,
            ca_cert: self.ca_cert.clone(),
        }
    }
}

/// `--namespace`, checked at parse time.
pub fn namespace_arg(s: &str) -> Result<String, lumos_oci::Error> {
    lumos_oci::reference::validate_namespace(s).map(|()| s.to_string())
}

/// `cargo lumos image`.
#[derive(Debug, clap::Args)]
pub struct ImageCmd {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub select: FunctionArgs,
    #[command(flatten)]
    pub image: ImageArgs,
    /// `human` (default) or `json`: one JSON object per image on stdout.
    #[arg(long, value_name = "FMT", value_enum, default_value_t)]
    pub message_format: MessageFormat,
}

/// Prints one line (or JSON object) per packed image, then a summary on stderr.
pub fn print_packed(r: &PackReport, format: MessageFormat) {
    for p in &r.images {
        match format {
            MessageFormat::Json => println!(
                "{}",
                serde_json::json!({
                    "reason": "image",
                    "function": p.function,
                    "name": p.name,
                    "digest": p.digest,
                    "media_type": p.media_type,
                    "size": p.size,
                    "layout": r.layout,
                })
            ),
            MessageFormat::Human => println!("{:<48} {}", p.name, p.digest),
        }
    }
    if format == MessageFormat::Human {
        eprintln!(
            "packed {} images into {} in {:.2}s",
            r.images.len(),
            r.layout.display(),
            r.elapsed.as_secs_f64()
        );
    }
}

/// Runs `cargo lumos image`.
pub fn run(cmd: ImageCmd) -> anyhow::Result<ExitCode> {
    let target_dir = cmd.target.resolve()?;
    let mut req = cmd.image.request();
    req.functions = cmd.select.functions;
    let report = lumos_build::images::pack(&target_dir, &req)?;
    print_packed(&report, cmd.message_format);
    Ok(ExitCode::SUCCESS)
}
