//! `cargo xtask push [--sources-path FILE] annotated-policy.wasm registry://HOST[:PORT]/REPO:TAG`:
//! pushes an annotated module as kwctl does and prints its immutable
//! reference (`HOST[:PORT]/REPO@sha256:...`) on stdout.

use std::path::PathBuf;

use anyhow::Context;

use crate::oci::{self, Sources};

#[derive(clap::Args)]
pub struct Args {
    /// kwctl's sources file: `insecure_sources` and `source_authorities`.
    #[arg(long = "sources-path")]
    pub sources: Option<PathBuf>,
    /// An annotated module (`cargo xtask annotate`).
    pub wasm: PathBuf,
    /// Destination, `registry://HOST[:PORT]/REPO:TAG`.
    pub uri: String,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let sources = Sources::load(args.sources.as_deref())?;
    let module = std::fs::read(&args.wasm)
        .with_context(|| format!("cannot read {}", args.wasm.display()))?;
    let pushed = oci::push(&module, &args.uri, &sources)
        .with_context(|| format!("cannot push {} to {}", args.wasm.display(), args.uri))?;
    eprintln!("Policy successfully pushed: {}", pushed.immutable_ref);
    println!("{}", pushed.immutable_ref);
    Ok(())
}
