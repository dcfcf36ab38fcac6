//! The behaviour table shared by the native host tests (`tests/cases.rs`) and
//! the wasm end-to-end suite (`tests/e2e.rs`). A row is data: a request file,
//! settings, and the expected verdict, message fragments, warnings and patch.
#![allow(dead_code)]

use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Repository root: every path in a table is relative to it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One row of `tests/cases.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// An AdmissionRequest JSON file, generated from `test_data/manifests/`.
    pub request: PathBuf,
    #[serde(default = "empty_object")]
    pub settings: Value,
    /// A kwctl session file that answers the policy's host calls, under the
    /// grants of `policy-metadata.yml` (`--allow-context-aware`). Without
    /// one, the policy runs without grants and every host call is refused.
    #[serde(default)]
    pub session: Option<PathBuf>,
    pub allowed: bool,
    /// Every fragment must occur in the rejection message; `[]` when allowed.
    #[serde(default)]
    pub message: Vec<String>,
    /// The i-th fragment must occur in the i-th warning; the counts are equal.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// `none`, or the RFC 6902 operations that turn `request.object` into
    /// the expected mutated object.
    pub patch: Value,
    /// `admission`: the row is what the policy answers the request alone;
    /// `selector-guard check` (cli/tests/cases.rs) skips it, as it judges a
    /// file as a whole desired state.
    #[serde(default)]
    pub only: Option<String>,
}

/// One row of `tests/settings.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsCase {
    pub name: String,
    pub settings: Value,
    pub valid: bool,
    /// Every fragment must occur in the refusal message.
    #[serde(default)]
    pub message: Vec<String>,
}

/// What a policy answered, reduced to what a row can check. `mutated` is the
/// object after the patch: the SDK's `mutated_object` natively, or the request
/// object with the host's JSON Patch applied under wasm.
#[derive(Debug)]
pub struct Outcome {
    pub allowed: bool,
    pub message: Option<String>,
    pub warnings: Vec<String>,
    pub mutated: Option<Value>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Vec<T> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn load_cases() -> Vec<Case> {
    read_yaml(&root().join("tests/cases.yaml"))
}

pub fn load_settings_cases() -> Vec<SettingsCase> {
    read_yaml(&root().join("tests/settings.yaml"))
}

/// The Kubernetes host a row's policy runs with: the grants of
/// `policy-metadata.yml` and the row's session, or no grant at all.
pub fn kubernetes_host(case: &Case) -> selector_guard_host::host::KubernetesHost {
    match &case.session {
        Some(session) => selector_guard_host::host::KubernetesHost::from_files(
            &root().join("policy-metadata.yml"),
            &root().join(session),
        )
        .unwrap_or_else(|e| panic!("{}: {e:#}", case.name)),
        None => selector_guard_host::host::KubernetesHost::default(),
    }
}

/// The AdmissionRequest a row points at.
pub fn request_of(case: &Case) -> Value {
    let path = root().join(&case.request);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: cannot read {}: {e}", case.name, path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {}: {e}", case.name, path.display()))
}

/// The `validate` payload for a row: `{"request": ..., "settings": ...}`.
pub fn payload_of(case: &Case) -> Vec<u8> {
    let payload = serde_json::json!({ "request": request_of(case), "settings": case.settings });
    serde_json::to_vec(&payload).expect("payload serializes")
}

/// Compares an outcome with a row; returns every mismatch, not just the first.
pub fn check(case: &Case, request: &Value, got: &Outcome) -> Vec<String> {
    let mut errors = Vec::new();
    if got.allowed != case.allowed {
        errors.push(format!(
            "allowed: expected {}, got {} (message: {:?})",
            case.allowed, got.allowed, got.message
        ));
    }
    let message = got.message.clone().unwrap_or_default();
    if case.allowed && !message.is_empty() && case.message.is_empty() && !got.allowed {
        errors.push(format!("unexpected message {message:?}"));
    }
    for fragment in &case.message {
        if !message.contains(fragment.as_str()) {
            errors.push(format!("message lacks {fragment:?}: {message:?}"));
        }
    }
    if got.warnings.len() != case.warnings.len() {
        errors.push(format!(
            "expected {} warnings, got {}: {:?}",
            case.warnings.len(),
            got.warnings.len(),
            got.warnings
        ));
    }
    for (i, (fragment, warning)) in case.warnings.iter().zip(&got.warnings).enumerate() {
        if !warning.contains(fragment.as_str()) {
            errors.push(format!("warning {i} lacks {fragment:?}: {warning:?}"));
        }
    }
    match (&case.patch, &got.mutated) {
        (Value::String(s), None) if s == "none" => {}
        (Value::String(s), Some(m)) if s == "none" => {
            if Some(m) != request.get("object") {
                errors.push(format!("expected no mutation, got {m}"));
            }
        }
        (Value::Array(ops), got_mutated) => {
            let mut expected = request.get("object").cloned().unwrap_or(Value::Null);
            let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops.clone()))
                .unwrap_or_else(|e| panic!("{}: bad expected patch: {e}", case.name));
            if let Err(e) = json_patch::patch(&mut expected, &patch) {
                panic!("{}: expected patch does not apply: {e}", case.name);
            }
            match got_mutated {
                None => errors.push("expected a mutation, got none".into()),
                Some(m) if *m != expected => errors.push(format!(
                    "mutated object differs:\n  expected {expected}\n  got      {m}"
                )),
                Some(_) => {}
            }
        }
        (other, _) => panic!(
            "{}: patch must be `none` or a list of operations, got {other}",
            case.name
        ),
    }
    errors
}

/// Runs every row through `eval` and fails once, listing every failing row.
pub fn run_table(eval: impl Fn(&Case, &Value, &[u8]) -> Outcome) -> usize {
    let cases = load_cases();
    assert!(!cases.is_empty(), "tests/cases.yaml has no rows");
    let mut failures = Vec::new();
    for case in &cases {
        let request = request_of(case);
        let payload = payload_of(case);
        let got = eval(case, &request, &payload);
        let errors = check(case, &request, &got);
        if !errors.is_empty() {
            failures.push(format!("- {}\n    {}", case.name, errors.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}
