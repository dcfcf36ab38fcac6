//! The behaviour table (`tests/cases.yaml`, which the policy's native and
//! wasm suites also run) through `selector-guard check`, for every row that
//! `check` can judge: a CREATE of the row's manifest
//! (`test_data/manifests/NAME.yaml`), judged alone, without a session, and
//! not marked `only: admission`.
//!
//! For each such row:
//! - a rejection is exit 1, and every fragment of its message occurs in the
//!   errors `check` prints;
//! - each value the row's patch converts is one error, at the value, named
//!   by the rule that converts it, and nothing else of the row is an error
//!   when the row is accepted;
//! - every finding names its rule, and no warning repeats an error.

// Tests: a panic is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use selector_guard_host::yaml11;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The rows `check` judges: CREATE requests with no session.
fn rows() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("tests/cases.yaml")).expect("tests/cases.yaml");
    let rows = yaml11::from_str(&text).expect("YAML");
    let rows = rows.into_iter().next().expect("one document");
    rows.as_array()
        .expect("a list of rows")
        .iter()
        .filter(|row| row.get("session").is_none())
        .filter(|row| row.get("only").and_then(Value::as_str) != Some("admission"))
        .filter(|row| {
            let request = root().join(row["request"].as_str().expect("request"));
            let request: Value =
                serde_json::from_str(&std::fs::read_to_string(&request).expect("request file"))
                    .expect("JSON");
            request["operation"] == "CREATE"
        })
        .cloned()
        .collect()
}

/// The row's settings, with every rule it does not set at its admission
/// default: a row says what the policy answers one request, while `check`
/// alone would judge the file as a whole folder (a Service alone selects no
/// pod, which `serviceTargets` reports in CI). A rule that fires only in
/// CI is off.
fn admission_settings(given: Option<&Value>) -> Value {
    let mut settings = given
        .filter(|s| !s.is_null())
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    assert!(settings.is_object(), "settings are a map");
    // A rule that never fires at admission is off, as it is there.
    selector_guard_cli::check::fill_defaults(&mut settings, |rule| {
        if rule
            .fires
            .contains(&selector_guard::rules::Place::Admission)
        {
            rule.default.admission
        } else {
            selector_guard::rules::RuleMode::Off
        }
    });
    settings
}

#[test]
fn case_table_through_check() {
    let rows = rows();
    assert!(rows.len() > 40, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let name = row["name"].as_str().expect("name");
        let request = row["request"].as_str().expect("request");
        let manifest = request
            .replace("test_data/requests/", "test_data/manifests/")
            .replace(".json", ".yaml");
        let settings = admission_settings(row.get("settings"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_selector-guard"));
        command
            .current_dir(root())
            .args(["check", "--format", "json"])
            .args(["--settings-json", &settings.to_string()]);
        let out = command
            .arg(&manifest)
            .output()
            .expect("selector-guard runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let findings: Vec<Value> = stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        let errors: Vec<&Value> = findings
            .iter()
            .filter(|f| f["severity"] == "error")
            .collect();
        let warnings: Vec<&Value> = findings
            .iter()
            .filter(|f| f["severity"] == "warning")
            .collect();
        let mut fail = |why: String| failures.push(format!("- {name} ({manifest}): {why}"));
        for finding in &findings {
            if finding["rule"].as_str().is_none_or(str::is_empty) {
                fail(format!("a finding names no rule: {finding}"));
            }
        }
        let error_text: String = errors
            .iter()
            .map(|e| e["message"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        for warning in &warnings {
            let message = warning["message"].as_str().unwrap_or_default();
            if errors.iter().any(|e| e["message"] == message) {
                fail(format!("a warning repeats an error: {message}"));
            }
        }
        let converted = row["patch"].as_array().map_or(0, Vec::len);
        let conversion_errors = errors
            .iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("the policy would"))
            })
            .count();
        // A rejected object's answer carries no patch; its conversions are
        // still errors in `check`.
        if row["allowed"] == true && conversion_errors != converted {
            fail(format!(
                "{converted} values converted by the policy, {conversion_errors} conversion errors:\n{error_text}"
            ));
        }
        if row["allowed"] == false {
            if out.status.code() != Some(1) {
                fail(format!("exit {:?}, expected 1", out.status.code()));
            }
            for fragment in row["message"].as_array().into_iter().flatten() {
                // A fragment that starts where the admission message joins
                // two findings (`. `) starts an error of its own here.
                let fragment = fragment.as_str().unwrap_or_default();
                let fragment = fragment.strip_prefix(". ").unwrap_or(fragment);
                if !error_text.contains(fragment) {
                    fail(format!("no error holds {fragment:?}:\n{error_text}"));
                }
            }
        } else if errors.len() != converted {
            fail(format!(
                "accepted, but errors besides the conversions:\n{error_text}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
