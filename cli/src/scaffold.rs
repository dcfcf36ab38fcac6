//! `selector-guard scaffold` (and `cargo xtask scaffold`): turn manifests
//! into the AdmissionRequests the API server would send for them, reading
//! YAML as kubectl does. The building itself is
//! [`selector_guard_host::manifests`], re-exported here.

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use std::path::PathBuf;

pub use selector_guard_host::manifests::{
    Operation, admission_request, parse_manifests, plural, read_manifests, render,
};

/// `scaffold`'s flags.
#[derive(clap::Args)]
pub struct Args {
    /// The admission operation.
    #[arg(long, value_enum)]
    pub operation: Operation,
    /// The manifest (YAML or JSON); for DELETE, the object being deleted.
    #[arg(long, value_name = "FILE")]
    pub object: Option<PathBuf>,
    /// UPDATE: the manifest before the change (documents pair up by position).
    /// DELETE: may name the deleted object instead of --object, as in kwctl.
    #[arg(long, value_name = "FILE")]
    pub old_object: Option<PathBuf>,
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs the command: writes the requests to `--output` or stdout.
pub fn main(args: Args) -> Result<()> {
    let requests: Result<Vec<Value>> = match (args.operation, &args.object, &args.old_object) {
        (Operation::Create, Some(object), None) => read_manifests(object)?
            .iter()
            .map(|o| admission_request(Operation::Create, Some(o), None))
            .collect(),
        (Operation::Create, _, _) => bail!("CREATE takes --object and no --old-object"),
        (Operation::Update, Some(object), Some(old)) => {
            let (objects, olds) = (read_manifests(object)?, read_manifests(old)?);
            ensure!(
                objects.len() == olds.len(),
                "{} holds {} objects but {} holds {}: UPDATE pairs them by position",
                object.display(),
                objects.len(),
                old.display(),
                olds.len()
            );
            objects
                .iter()
                .zip(&olds)
                .map(|(o, old)| admission_request(Operation::Update, Some(o), Some(old)))
                .collect()
        }
        (Operation::Update, _, _) => bail!("UPDATE takes --object and --old-object"),
        (Operation::Delete, Some(path), None) | (Operation::Delete, None, Some(path)) => {
            read_manifests(path)?
                .iter()
                .map(|o| admission_request(Operation::Delete, None, Some(o)))
                .collect()
        }
        (Operation::Delete, _, _) => {
            bail!("DELETE takes the deleted manifest as --object (or --old-object), once")
        }
    };
    let text = render(&requests?)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
