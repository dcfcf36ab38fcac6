//! `cargo xtask pull [--sources-path FILE] registry://HOST[:PORT]/REPO[:TAG|@DIGEST] -o FILE`:
//! fetches a policy, checks its digests, and writes the module.

use std::path::PathBuf;

use anyhow::Context;

use crate::oci::{self, Sources};

#[derive(clap::Args)]
pub struct Args {
    /// kwctl's sources file: `insecure_sources` and `source_authorities`.
    #[arg(long = "sources-path")]
    pub sources: Option<PathBuf>,
    /// Where to write the module.
    #[arg(short = 'o', long = "output-path")]
    pub output: PathBuf,
    /// Source, `registry://HOST[:PORT]/REPO:TAG` or `...@sha256:...`.
    pub uri: String,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let sources = Sources::load(args.sources.as_deref())?;
    let pulled =
        oci::pull(&args.uri, &sources).with_context(|| format!("cannot pull {}", args.uri))?;
    std::fs::write(&args.output, &pulled.module)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "Pulled {} (manifest {}, module {}, {} bytes) to {}",
        args.uri,
        pulled.manifest_digest,
        pulled.layer_digest,
        pulled.module.len(),
        args.output.display()
    );
    Ok(())
}
