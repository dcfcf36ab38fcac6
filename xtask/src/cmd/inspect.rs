//! `cargo xtask inspect [-o yaml|json] FILE`: prints the metadata embedded in
//! a module (the `io.kubewarden.metadata` section), like `kwctl inspect -o yaml`.

use std::path::PathBuf;

use anyhow::{Context, anyhow};

use crate::metadata::Metadata;

#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
    /// An annotated module.
    pub wasm: PathBuf,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let metadata = read(&args.wasm)?;
    let text = match args.output {
        Format::Yaml => serde_yaml_ng::to_string(&metadata)?,
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&metadata)?),
    };
    print!("{text}");
    Ok(())
}

/// The metadata embedded in the module at `path`; an error when there is none.
pub fn read(path: &std::path::Path) -> anyhow::Result<Metadata> {
    let module = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Metadata::from_module(&module)
        .with_context(|| format!("cannot read the metadata of {}", path.display()))?
        .ok_or_else(|| {
            anyhow!(
                "no Kubewarden metadata found in {}: annotate it with `cargo xtask annotate`",
                path.display()
            )
        })
}
