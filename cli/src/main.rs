//! `selector-guard`: check and fix Kubernetes manifests with the
//! selector-guard policy, reading YAML exactly as kubectl does.

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use selector_guard_cli::{annotate, check, fix, run, scaffold};

#[derive(Parser)]
#[command(
    name = "selector-guard",
    version,
    about = "Check and fix Kubernetes manifests with the selector-guard policy, reading YAML as kubectl does"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the policy over files, folders or stdin; print findings as FILE:LINE:COL.
    Check(check::Args),
    /// Write the policy's fixes into the YAML, keeping the spelling meant.
    Fix(fix::Args),
    /// Evaluate one request against the built-in policy or a POLICY.wasm, like `kwctl run`.
    Run(run::Args),
    /// Turn manifests into AdmissionRequests, parsing YAML as kubectl does.
    Scaffold(scaffold::Args),
    /// Embed metadata into a module, like `kwctl annotate`.
    Annotate(annotate::Args),
}

fn main() {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Check(args) => check::main(&args),
        Command::Fix(args) => fix::main(&args),
        Command::Run(args) => report(run::main(args)),
        Command::Scaffold(args) => report(scaffold::main(args)),
        Command::Annotate(args) => report(annotate::main(args)),
    };
    std::process::exit(status);
}

/// `run`, `scaffold` and `annotate`: an error is one line on stderr and exit 1, as
/// under `cargo xtask`.
fn report(result: anyhow::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("Error: {err:#}");
            1
        }
    }
}
