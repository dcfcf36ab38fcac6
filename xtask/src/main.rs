//! `cargo xtask`: the project's host and tooling. Each subcommand lives in its
//! own module under `cmd/`; this file only parses the command line and turns
//! an error into one line on stderr with a non-zero exit.

use clap::{Parser, Subcommand};
use xtask::cmd;

#[derive(Parser)]
#[command(name = "xtask", about = "selector-guard host and tooling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate one request against a policy, like `kwctl run`.
    Run(cmd::run::Args),
    /// Turn manifests into AdmissionRequests, parsing YAML as kubectl does.
    Scaffold(cmd::scaffold::Args),
    /// Regenerate (or check) test_data/requests from test_data/manifests.
    Fixtures(cmd::fixtures::Args),
    /// Embed metadata into a module, like `kwctl annotate`.
    Annotate(cmd::annotate::Args),
    /// Print the metadata embedded in a module.
    Inspect(cmd::inspect::Args),
    /// Push an annotated module to an OCI registry.
    Push(cmd::push::Args),
    /// Pull a module from an OCI registry.
    Pull(cmd::pull::Args),
    /// Derive artifacthub-pkg.yml from the metadata.
    Artifacthub(cmd::artifacthub::Args),
    /// Print a ClusterAdmissionPolicy for this policy.
    Manifest(cmd::manifest::Args),
    /// Time `validate` through wasm, like `kwctl bench`.
    Bench(cmd::bench::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cmd::run::main(args),
        Command::Scaffold(args) => cmd::scaffold::main(args),
        Command::Fixtures(args) => cmd::fixtures::main(args),
        Command::Annotate(args) => cmd::annotate::main(args),
        Command::Inspect(args) => cmd::inspect::main(args),
        Command::Push(args) => cmd::push::main(args),
        Command::Pull(args) => cmd::pull::main(args),
        Command::Artifacthub(args) => cmd::artifacthub::main(args),
        Command::Manifest(args) => cmd::manifest::main(args),
        Command::Bench(args) => cmd::bench::main(args),
    };
    if let Err(err) = result {
        eprintln!("Error: {err:#}");
        std::process::exit(1);
    }
}
