//! `cargo xtask fixtures [--check]`: regenerate `test_data/requests/` from
//! `test_data/manifests/` with `scaffold`.
//!
//! Convention, one document per manifest:
//! - `NAME.yaml` → `NAME.json`, a CREATE;
//! - `NAME.yaml` + `NAME.old.yaml` → `NAME.json`, an UPDATE from the old
//!   one (`NAME.old.yaml` has no request of its own);
//! - `NAME.delete.yaml` → `NAME.delete.json`, a DELETE of that object.
//!
//! Host-capability sessions are recorded, not written by hand:
//! `test_data/sessions/NAME.cluster.yaml` holds the cluster's objects (as
//! `kubectl get -o yaml` shows them); the policy (`policy.wasm`) evaluates
//! `test_data/requests/STEM.json`, where STEM is NAME up to the first `--`,
//! with [`session_settings`] and the grants of `policy-metadata.yml`,
//! against that cluster, and its calls are recorded, in kwctl's session
//! format, into `test_data/sessions/NAME.yml`. `NAME.recorded.yml` files
//! are sessions recorded elsewhere (e.g. against a real cluster with kwctl)
//! and are kept as they are.
//!
//! Without `--check` every request and session is (re)written; a request
//! or session file with no source is reported, not deleted. With `--check`
//! nothing is written and every stale, missing or orphan file is an error.

use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::scaffold::{Operation, admission_request, read_manifests, render};
use crate::host::{Answers, FakeCluster, Grants, KubernetesHost, Policy};
use crate::metadata::Metadata;

/// The settings sessions are recorded with: every rule that reads the
/// cluster on, at `warn` (`{"serviceSelectorChange":"warn",...}`), so that a
/// session holds every read any row's settings can make.
pub fn session_settings() -> String {
    let settings: serde_json::Map<String, serde_json::Value> = selector_guard::rules::RULES
        .into_iter()
        .filter(|rule| !rule.cluster_reads.is_empty())
        .map(|rule| (rule.id.to_string(), serde_json::Value::from("warn")))
        .collect();
    serde_json::Value::Object(settings).to_string()
}

const SESSIONS: &str = "test_data/sessions";
const CLUSTER_SUFFIX: &str = ".cluster.yaml";

#[derive(clap::Args)]
pub struct Args {
    /// Only check that every request and session file is up to date; write nothing.
    #[arg(long)]
    pub check: bool,
    /// The repository root (default: the workspace root).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The policy that records the sessions (default: ROOT/policy.wasm).
    #[arg(long, value_name = "POLICY.wasm")]
    pub policy: Option<PathBuf>,
}

pub fn main(args: Args) -> Result<()> {
    let root = args.root.clone().unwrap_or_else(workspace_root);
    let policy = args
        .policy
        .clone()
        .unwrap_or_else(|| root.join("policy.wasm"));
    if args.check {
        let mut problems = check(&root)?;
        problems.extend(check_sessions(&root, &policy)?);
        if !problems.is_empty() {
            for problem in &problems {
                eprintln!("{problem}");
            }
            bail!(
                "{} fixture(s) out of date: run `make fixtures`",
                problems.len()
            );
        }
        println!(
            "test_data/requests: {} fixtures up to date; {SESSIONS}: {} sessions up to date",
            expected(&root)?.len(),
            cluster_names(&root)?.len()
        );
        return Ok(());
    }
    write_requests(&root)?;
    write_sessions(&root, &policy)
}

fn write_requests(root: &Path) -> Result<()> {
    let expected = expected(root)?;
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
    for orphan in orphans(root, &expected)? {
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

fn write_sessions(root: &Path, policy: &Path) -> Result<()> {
    let expected = expected_sessions(root, policy)?;
    let sessions = root.join(SESSIONS);
    if !expected.is_empty() {
        std::fs::create_dir_all(&sessions)
            .with_context(|| format!("cannot create {}", sessions.display()))?;
    }
    let mut written = 0;
    for (name, text) in &expected {
        let path = sessions.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {SESSIONS}/{name}");
            written += 1;
        }
    }
    for orphan in session_orphans(root, &expected)? {
        eprintln!(
            "WARNING: {SESSIONS}/{orphan} has no {SESSIONS}/*{CLUSTER_SUFFIX} to record it from: delete it or add one"
        );
    }
    println!(
        "{SESSIONS}: {} sessions, {written} rewritten",
        expected.len()
    );
    Ok(())
}

/// Every problem with the committed session files under `root`, one line
/// each: stale, missing, or orphan (a session with no
/// `NAME.cluster.yaml`). `policy` is the module that records them
/// (`policy.wasm`); it is loaded only when there is a cluster file.
pub fn check_sessions(root: &Path, policy: &Path) -> Result<Vec<String>> {
    let expected = expected_sessions(root, policy)?;
    let mut problems = Vec::new();
    for (name, text) in &expected {
        let path = root.join(SESSIONS).join(name);
        match std::fs::read_to_string(&path) {
            Err(_) => problems.push(format!("missing: {SESSIONS}/{name}")),
            Ok(actual) if actual != *text => problems.push(format!("stale: {SESSIONS}/{name}")),
            Ok(_) => {}
        }
    }
    for orphan in session_orphans(root, &expected)? {
        problems.push(format!("orphan: {SESSIONS}/{orphan} (no {CLUSTER_SUFFIX})"));
    }
    Ok(problems)
}

/// The cluster files `test_data/sessions/NAME.cluster.yaml`, as NAMEs, sorted.
fn cluster_names(root: &Path) -> Result<Vec<String>> {
    let dir = root.join(SESSIONS);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for entry in entries {
        let file = entry?.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(CLUSTER_SUFFIX) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Session file name (`NAME.yml`) → the session `policy` records against
/// `NAME.cluster.yaml`, for every cluster file under `root`.
pub fn expected_sessions(root: &Path, policy: &Path) -> Result<BTreeMap<String, String>> {
    let names = cluster_names(root)?;
    let mut out = BTreeMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    ensure!(
        policy.exists(),
        "{} is missing: run `make policy.wasm` to record {SESSIONS}",
        policy.display()
    );
    let module = Policy::load(policy)?;
    let metadata = Metadata::from_yaml_file(&root.join("policy-metadata.yml"))?;
    let session_settings = session_settings();
    let settings: serde_json::Value = serde_json::from_str(&session_settings)?;
    for name in &names {
        let stem = name.split("--").next().unwrap_or(name);
        let request_path = root.join("test_data/requests").join(format!("{stem}.json"));
        let cluster_path = root.join(SESSIONS).join(format!("{name}{CLUSTER_SUFFIX}"));
        let record = || -> Result<String> {
            let input: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(&request_path)
                    .with_context(|| format!("cannot read {}", request_path.display()))?,
            )
            .with_context(|| format!("{} is not JSON", request_path.display()))?;
            let request = crate::host::admission_request(&input)?;
            let kubernetes = KubernetesHost::new(
                Grants::from_metadata(&metadata),
                Answers::Cluster(FakeCluster::load(&cluster_path)?),
            )
            .recording();
            let instance = module.instantiate_with(kubernetes)?;
            let verdict = instance.validate_settings(&settings)?;
            ensure!(
                verdict.valid,
                "the policy refuses the session settings {session_settings}: {}",
                verdict.message.unwrap_or_default()
            );
            instance.validate(&request, &settings)?;
            instance.kubernetes().recorded().to_yaml()
        };
        let session = record().with_context(|| {
            format!("recording {SESSIONS}/{name}.yml (request test_data/requests/{stem}.json)")
        })?;
        out.insert(format!("{name}.yml"), session);
    }
    Ok(out)
}

/// Suffix of session files recorded elsewhere, which no cluster file produces.
const RECORDED_SUFFIX: &str = ".recorded.yml";

/// Session files (`*.yml`, except `*.recorded.yml`) that no cluster file produces.
fn session_orphans(root: &Path, expected: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(root.join(SESSIONS)) else {
        return Ok(Vec::new());
    };
    let mut orphans = Vec::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let generated = name.ends_with(".yml") && !name.ends_with(RECORDED_SUFFIX);
        if generated && !expected.contains_key(&name) {
            orphans.push(name);
        }
    }
    orphans.sort();
    Ok(orphans)
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
