//! `selector-guard annotate -m policy-metadata.yml [-u README.md] -o annotated-policy.wasm policy.wasm`
//! (and `cargo xtask annotate`): embeds the metadata into the module, like
//! `kwctl annotate`. The annotation itself is
//! [`selector_guard_host::annotate`]: the metadata file is validated,
//! `protocolVersion` is set from the module, the usage file becomes
//! `io.kubewarden.policy.usage`, and the JSON goes into the
//! `io.kubewarden.metadata` custom section, replacing any earlier one.
//! Every other byte of the module is kept.

use std::path::PathBuf;

pub use selector_guard_host::annotate::{annotate, annotate_file};

/// `annotate`'s flags: kwctl annotate's.
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

/// Runs the command: writes the annotated module to `--output-path`.
pub fn main(args: Args) -> anyhow::Result<()> {
    selector_guard_host::annotate::annotate_to(
        &args.wasm,
        &args.metadata,
        args.usage.as_deref(),
        &args.output,
    )
}
