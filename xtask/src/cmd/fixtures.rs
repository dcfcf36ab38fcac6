//! `cargo xtask fixtures [--check]`: regenerate `test_data/requests/` from
//! `test_data/manifests/` with `scaffold`.
//!
//! Convention, one document per manifest:
//! - `NAME.yaml` → `NAME.json`, a CREATE;
//! - `NAME.yaml` + `NAME.old.yaml` → `NAME.json`, an UPDATE from the old
//!   one (`NAME.old.yaml` has no request of its own);
//! - `NAME.delete.yaml` → `NAME.delete.json`, a DELETE of that object.
//!
//! Without `--check` every request is (re)written; a request file with no
//! manifest is reported, not deleted. With `--check` nothing is written
//! and every stale, missing or orphan request file is an error.

use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::scaffold::{Operation, admission_request, read_manifests, render};

#[derive(clap::Args)]
pub struct Args {
    /// Only check that every request file is up to date; write nothing.
    #[arg(long)]
    pub check: bool,
    /// The repository root (default: the workspace root).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

pub fn main(args: Args) -> Result<()> {
    let root = args.root.clone().unwrap_or_else(workspace_root);
    if args.check {
        let problems = check(&root)?;
        if !problems.is_empty() {
            for problem in &problems {
                eprintln!("{problem}");
            }
            bail!(
                "{} request fixture(s) out of date: run `make fixtures`",
                problems.len()
            );
        }
        println!(
            "test_data/requests: {} fixtures up to date",
            expected(&root)?.len()
        );
        return Ok(());
    }
    let expected = expected(&root)?;
    let requests = root.join("test_data/requests");
    std::fs::create_dir_all(&requests)
        .with_context(|| format!("cannot create {}", requests.display()))?;
    let mut written = 0;
    for (name, text) in &expected {
        let path = requests.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote test_data/requests/{name}");
            written += 1;
        }
    }
    for orphan in orphans(&root, &expected)? {
        eprintln!(
            "WARNING: test_data/requests/{orphan} has no manifest in test_data/manifests/: delete it or add one"
        );
    }
    println!(
        "test_data/requests: {} fixtures, {written} rewritten",
        expected.len()
    );
    Ok(())
}

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Every problem with the committed request files under `root`, one line
/// each: stale, missing, or orphan (a request with no manifest).
pub fn check(root: &Path) -> Result<Vec<String>> {
    let expected = expected(root)?;
    let mut problems = Vec::new();
    for (name, text) in &expected {
        let path = root.join("test_data/requests").join(name);
        match std::fs::read_to_string(&path) {
            Err(_) => problems.push(format!("missing: test_data/requests/{name}")),
            Ok(actual) if actual != *text => {
                problems.push(format!("stale: test_data/requests/{name}"))
            }
            Ok(_) => {}
        }
    }
    for orphan in orphans(root, &expected)? {
        problems.push(format!("orphan: test_data/requests/{orphan} (no manifest)"));
    }
    Ok(problems)
}

/// Request file name → its expected content, for every fixture manifest.
pub fn expected(root: &Path) -> Result<BTreeMap<String, String>> {
    let manifests = root.join("test_data/manifests");
    let mut stems = Vec::new();
    for entry in std::fs::read_dir(&manifests)
        .with_context(|| format!("cannot list {}", manifests.display()))?
    {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".yaml") {
            stems.push(stem.to_owned());
        }
    }
    stems.sort();
    let mut out = BTreeMap::new();
    for stem in &stems {
        if let Some(base) = stem.strip_suffix(".old") {
            ensure!(
                stems.iter().any(|s| s == base),
                "test_data/manifests/{stem}.yaml has no test_data/manifests/{base}.yaml to be the old object of"
            );
            continue;
        }
        let one = |stem: &str| -> Result<serde_json::Value> {
            let path = manifests.join(format!("{stem}.yaml"));
            let mut objects = read_manifests(&path)?;
            ensure!(
                objects.len() == 1,
                "{}: a fixture manifest holds exactly one object",
                path.display()
            );
            Ok(objects.remove(0))
        };
        let object = one(stem)?;
        let request = if stem.ends_with(".delete") {
            admission_request(Operation::Delete, None, Some(&object))?
        } else if stems.iter().any(|s| *s == format!("{stem}.old")) {
            admission_request(
                Operation::Update,
                Some(&object),
                Some(&one(&format!("{stem}.old"))?),
            )?
        } else {
            admission_request(Operation::Create, Some(&object), None)?
        };
        out.insert(format!("{stem}.json"), render(&[request])?);
    }
    Ok(out)
}

/// Request files (`*.json`) that no manifest produces.
fn orphans(root: &Path, expected: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let requests = root.join("test_data/requests");
    let Ok(entries) = std::fs::read_dir(&requests) else {
        return Ok(Vec::new());
    };
    let mut orphans = Vec::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !expected.contains_key(&name) {
            orphans.push(name);
        }
    }
    orphans.sort();
    Ok(orphans)
}
