//! The behaviour table (`tests/cases.yaml`) and the settings table, run
//! natively through the policy's `validate` and `validate_settings`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

mod common;

use common::Outcome;
use serde_json::Value;

fn outcome_of(response: &[u8]) -> Outcome {
    let response: Value = serde_json::from_slice(response).expect("validate answers JSON");
    Outcome {
        allowed: response["accepted"].as_bool().expect("accepted is a bool"),
        message: response["message"].as_str().map(str::to_string),
        warnings: match &response["warnings"] {
            Value::Array(list) => list
                .iter()
                .map(|w| w.as_str().expect("warning is a string").to_string())
                .collect(),
            _ => Vec::new(),
        },
        mutated: match &response["mutated_object"] {
            Value::Null => None,
            object => Some(object.clone()),
        },
    }
}

/// The host calls answered at the policy's boundary, by the same grant
/// check and session replay the wasm host uses.
struct Native(selector_guard_host::host::KubernetesHost);

impl selector_guard::cluster::Host for Native {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.0.answer(operation, payload)
    }
}

#[test]
fn case_table_natively() {
    let rows = common::run_table(|case, _, payload| {
        let host = Native(common::kubernetes_host(case));
        outcome_of(&selector_guard::validate_with(payload, &host).expect("validate never fails"))
    });
    eprintln!("{rows} rows passed natively");
}

#[test]
fn settings_table_natively() {
    let cases = common::load_settings_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let payload = serde_json::to_vec(&case.settings).expect("serializes");
        let response: Value =
            serde_json::from_slice(&selector_guard::validate_settings(&payload).expect("answers"))
                .expect("JSON");
        let valid = response["valid"].as_bool().expect("valid is a bool");
        let message = response["message"].as_str().unwrap_or_default();
        if valid != case.valid {
            failures.push(format!(
                "{}: valid {valid}, expected {} ({message})",
                case.name, case.valid
            ));
        }
        for fragment in &case.message {
            if !message.contains(fragment.as_str()) {
                failures.push(format!(
                    "{}: message lacks {fragment:?}: {message:?}",
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every session file in test_data/sessions is used by at least one row.
#[test]
fn every_session_is_used() {
    let cases = common::load_cases();
    let used: std::collections::BTreeSet<String> = cases
        .iter()
        .filter_map(|c| c.session.as_ref())
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let dir = common::root().join("test_data/sessions");
    let mut unused = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("test_data/sessions exists") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let rel = format!("test_data/sessions/{name}");
        if name.ends_with(".yml") && !used.contains(&rel) {
            unused.push(rel);
        }
    }
    assert!(unused.is_empty(), "sessions no row uses: {unused:?}");
}

/// Every manifest in test_data/manifests is used by at least one row, and
/// every row's request exists: the table and the fixtures cannot drift.
#[test]
fn every_fixture_is_used() {
    let cases = common::load_cases();
    let used: std::collections::BTreeSet<String> = cases
        .iter()
        .map(|c| c.request.to_string_lossy().into_owned())
        .collect();
    let dir = common::root().join("test_data/requests");
    let mut unused = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("test_data/requests exists") {
        let path = entry.expect("entry").path();
        let rel = format!(
            "test_data/requests/{}",
            path.file_name().expect("name").to_string_lossy()
        );
        if !used.contains(&rel) {
            unused.push(rel);
        }
    }
    assert!(unused.is_empty(), "fixtures no row uses: {unused:?}");
}
