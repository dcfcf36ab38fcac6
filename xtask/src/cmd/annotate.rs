//! `cargo xtask annotate -m policy-metadata.yml [-u README.md] -o annotated-policy.wasm policy.wasm`:
//! embeds the metadata into the module, like `kwctl annotate`.
//!
//! The metadata file is validated (named errors for bad rules and missing
//! required annotations), `protocolVersion` is asked from the module itself
//! through the waPC host, the usage file becomes `io.kubewarden.policy.usage`,
//! and the JSON goes into the `io.kubewarden.metadata` custom section,
//! replacing any earlier one. Every other byte of the module is kept.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

use crate::metadata::{ExecutionMode, METADATA_SECTION, Metadata, ProtocolVersion, keys};

#[derive(clap::Args)]
pub struct Args {
    /// The metadata file (kwctl's metadata.yml format).
    #[arg(short = 'm', long = "metadata-path")]
    pub metadata: PathBuf,
    /// A Markdown file to embed as `io.kubewarden.policy.usage`.
    #[arg(short = 'u', long = "usage-path")]
    pub usage: Option<PathBuf>,
    /// Where to write the annotated module.
    #[arg(short = 'o', long = "output-path")]
    pub output: PathBuf,
    /// The module to annotate.
    pub wasm: PathBuf,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let annotated = annotate_file(&args.wasm, &args.metadata, args.usage.as_deref())?;
    std::fs::write(&args.output, annotated)
        .with_context(|| format!("cannot write {}", args.output.display()))
}

/// Reads the three inputs and returns the annotated module.
pub fn annotate_file(
    wasm: &Path,
    metadata: &Path,
    usage: Option<&Path>,
) -> anyhow::Result<Vec<u8>> {
    let module = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let metadata = Metadata::from_yaml_file(metadata)?;
    let usage = usage
        .map(|path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read usage file {}", path.display()))
        })
        .transpose()?;
    annotate(&module, metadata, usage)
        .with_context(|| format!("cannot annotate {}", wasm.display()))
}

/// Annotates `module` with `metadata` (already validated as a source file).
pub fn annotate(
    module: &[u8],
    mut metadata: Metadata,
    usage: Option<String>,
) -> anyhow::Result<Vec<u8>> {
    metadata.protocol_version = Some(match metadata.execution_mode {
        ExecutionMode::KubewardenWapc => protocol_version(module)?,
        // Rego and WASI modules have no `protocol_version`; kwctl records Unknown.
        _ => ProtocolVersion::Unknown,
    });
    if let Some(usage) = usage {
        metadata.set_annotation(keys::USAGE, usage);
    }
    metadata.validate_annotated()?;
    let json = serde_json::to_vec(&metadata)?;
    crate::wasm::replace_custom_section(module, METADATA_SECTION, &json)
}

/// Calls the guest's `protocol_version` through the waPC host, as kwctl does.
fn protocol_version(module: &[u8]) -> anyhow::Result<ProtocolVersion> {
    let answer = crate::host::Policy::from_bytes(module)
        .and_then(|policy| policy.protocol_version())
        .context("cannot compute the protocol version used by the policy")?;
    serde_json::from_value(serde_json::Value::String(answer.clone())).map_err(|_| {
        anyhow!("`protocol_version` answered {answer:?}, not a known protocol version")
    })
}
