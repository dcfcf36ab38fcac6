//! End-to-end: the compiled `policy.wasm` through the kwctl-compatible host.
//!
//! Every row of `tests/cases.yaml` and `tests/settings.yaml` runs in wasm,
//! through the same AdmissionRequest normalization, JSON Patch and
//! AdmissionResponse that kwctl prints. (`cargo xtask run` as a process is
//! tested in `xtask/tests/run_cli.rs`.) `make test` builds `policy.wasm` first.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

mod common;

use selector_guard_host::host::{
    AdmissionResponse, Answers, FakeCluster, Grants, KubernetesHost, Policy, Replay,
    admission_request,
};
use selector_guard_host::metadata::Metadata;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

/// The annotated module: its metadata carries the context-aware grants,
/// which a row with a session gets, as under `kwctl run --allow-context-aware`.
fn wasm_path() -> PathBuf {
    common::root().join("annotated-policy.wasm")
}

/// The module, compiled once for the whole test binary.
fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let path = wasm_path();
        assert!(
            path.exists(),
            "{} is missing: run `make annotated-policy.wasm` (or `make test`) first",
            path.display()
        );
        warn_if_stale(&path);
        Policy::load(&path).unwrap_or_else(|e| panic!("{e:#}"))
    })
}

/// `cargo test` alone does not rebuild the module: say so when a source is newer.
fn warn_if_stale(wasm: &Path) {
    let Ok(built) = std::fs::metadata(wasm).and_then(|m| m.modified()) else {
        return;
    };
    let mut stack = vec![common::root().join("src")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > built)
            {
                eprintln!(
                    "WARNING: {} is newer than annotated-policy.wasm: run `make annotated-policy.wasm`",
                    path.display()
                );
                return;
            }
        }
    }
}

/// A row's host as `kwctl run` gives it: with a session, the grants of the
/// module's own embedded metadata (`--allow-context-aware`) and the
/// session's answers; without, no grant.
fn kubernetes_host(case: &common::Case) -> KubernetesHost {
    let Some(session) = &case.session else {
        return KubernetesHost::default();
    };
    static GRANTS: OnceLock<Grants> = OnceLock::new();
    let grants = GRANTS.get_or_init(|| {
        let module = std::fs::read(wasm_path()).expect("the module reads");
        let metadata = Metadata::from_module(&module)
            .expect("valid metadata")
            .expect("annotated-policy.wasm carries metadata");
        Grants::from_metadata(&metadata)
    });
    let replay = Replay::load(&common::root().join(session))
        .unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
    KubernetesHost::new(grants.clone(), Answers::Replay(replay))
}

#[test]
fn protocol_version_is_v1() {
    assert_eq!(
        policy()
            .protocol_version()
            .unwrap_or_else(|e| panic!("{e:#}")),
        "v1"
    );
}

#[test]
fn every_case_row_in_wasm() {
    let policy = policy();
    let started = Instant::now();
    let rows = common::run_table(|case, request, _payload| {
        let sent = admission_request(request).unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        let answer = policy
            .instantiate_with(kubernetes_host(case))
            .and_then(|instance| instance.validate(&sent, &case.settings))
            .unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        let response = AdmissionResponse::from_validation(&sent, &answer)
            .unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        let object = request.get("object").cloned().unwrap_or(Value::Null);
        let mutated = response
            .mutated(&object)
            .unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        common::Outcome {
            allowed: response.allowed,
            message: response.status.and_then(|s| s.message),
            warnings: response.warnings.unwrap_or_default(),
            mutated,
        }
    });
    eprintln!(
        "e2e: {rows} case rows through policy.wasm in {:?}",
        started.elapsed()
    );
}

#[test]
fn every_settings_row_in_wasm() {
    let policy = policy();
    let cases = common::load_settings_cases();
    assert!(!cases.is_empty(), "tests/settings.yaml has no rows");
    let mut failures = Vec::new();
    for case in &cases {
        let got = policy
            .validate_settings(&case.settings)
            .unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        let message = got.message.clone().unwrap_or_default();
        if got.valid != case.valid {
            failures.push(format!(
                "- {}: valid expected {}, got {} ({message:?})",
                case.name, case.valid, got.valid
            ));
        }
        for fragment in &case.message {
            if !message.contains(fragment.as_str()) {
                failures.push(format!(
                    "- {}: message lacks {fragment:?}: {message:?}",
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} settings rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The seed's selector swap in a namespace of 5,000 pods, through wasm: the
/// session is recorded from a cluster of generated pods, written in kwctl's
/// format, read back and replayed, as a user would record it once and
/// replay it in CI.
#[test]
fn a_selector_change_in_a_namespace_with_5000_pods() {
    let policy = policy();
    let pods: Vec<Value> = (0..5000)
        .map(|i| {
            serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("rng-{i:04}"), "namespace": "default",
                             "uid": format!("00000000-0000-4000-8000-{i:012}"),
                             "labels": {"app": "rng", "pod-template-hash": "54f57d4d49"}},
                "spec": {"containers": [{"name": "rng", "image": "dockercoins/rng:v0.1"}]},
                "status": {"phase": if i % 100 == 0 { "Succeeded" } else { "Running" }}})
        })
        .collect();
    let case = common::load_cases()
        .into_iter()
        .find(|c| {
            c.session.as_deref()
                == Some(Path::new(
                    "test_data/sessions/service-selector-swap--unlabeled.yml",
                ))
        })
        .expect("the selector swap row");
    let request = admission_request(&common::request_of(&case)).expect("a request");
    let grants = kubernetes_host(&case).grants().clone();
    let recorder = KubernetesHost::new(
        grants.clone(),
        Answers::Cluster(FakeCluster::from_objects(pods)),
    )
    .recording();
    let instance = policy.instantiate_with(recorder).expect("instantiates");
    let recorded_answer = instance
        .validate(&request, &case.settings)
        .expect("answers");
    let session = instance
        .kubernetes()
        .recorded()
        .to_yaml()
        .expect("kwctl YAML");
    assert_eq!(
        session.matches("type: Exchange").count(),
        1,
        "one list, whatever the pod count"
    );

    let started = Instant::now();
    let replay = Replay::parse(&session).expect("the session reads back");
    let answer = policy
        .instantiate_with(KubernetesHost::new(grants, Answers::Replay(replay)))
        .and_then(|instance| instance.validate(&request, &case.settings))
        .expect("answers");
    eprintln!(
        "5,000 pods: replayed in {:?} ({} bytes of session)",
        started.elapsed(),
        session.len()
    );
    assert_eq!(answer, recorded_answer);
    let warnings = answer.warnings.unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    // Every 100th pod has Succeeded: 50 of the 5,000 are not live.
    assert!(
        warnings[0].contains("the new selector active=yes,app=rng matches no pod (the old selector app=rng matched 4950)"),
        "{}",
        warnings[0]
    );
}
