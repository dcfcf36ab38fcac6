//! The relations table (`tests/relations.yaml`): each folder under
//! `tests/relations/` checked as one desired state, and every finding
//! compared with the row's.

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

/// A finding as rows write it: everything but the message, which rows
/// give as fragments.
fn key(finding: &Value, folder: &str) -> String {
    let file = finding["file"].as_str().unwrap_or_default();
    let file = file
        .strip_prefix(&format!("{folder}/"))
        .unwrap_or(file)
        .to_string();
    format!(
        "{file}:{} {} [{}] {} at {}",
        finding["line"], finding["severity"], finding["rule"], finding["object"], finding["path"]
    )
}

#[test]
fn relations_table_through_check() {
    let text = std::fs::read_to_string(root().join("tests/relations.yaml")).expect("table");
    let rows = yaml11::from_str(&text).expect("YAML");
    let rows = rows.into_iter().next().expect("one document");
    let rows = rows.as_array().expect("a list of rows");
    assert!(rows.len() >= 10, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for row in rows {
        let name = row["name"].as_str().expect("name");
        let folder = format!(
            "tests/relations/{}",
            row["folder"].as_str().expect("folder")
        );
        let mut command = Command::new(env!("CARGO_BIN_EXE_selector-guard"));
        command
            .current_dir(root())
            .args(["check", "--format", "json"]);
        if let Some(settings) = row.get("settings") {
            command.args(["--settings-json", &settings.to_string()]);
        }
        for arg in row
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            command.arg(arg.as_str().expect("args are strings"));
        }
        let out = command.arg(&folder).output().expect("selector-guard runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let found: Vec<Value> = stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        let expected = row["findings"].as_array().expect("findings");
        let wanted: Vec<String> = expected
            .iter()
            .map(|f| {
                format!(
                    "{}:{} \"{}\" [\"{}\"] \"{}\" at \"{}\"",
                    f["file"].as_str().expect("file"),
                    f["line"],
                    f["severity"].as_str().expect("severity"),
                    f["rule"].as_str().expect("rule"),
                    f["object"].as_str().expect("object"),
                    f["path"].as_str().expect("path"),
                )
            })
            .collect();
        let got: Vec<String> = found.iter().map(|f| key(f, &folder)).collect();
        if got != wanted {
            failures.push(format!(
                "{name}: findings differ\n  want: {wanted:#?}\n  got:  {got:#?}\n{stdout}"
            ));
            continue;
        }
        for (finding, row_finding) in found.iter().zip(expected) {
            let message = finding["message"].as_str().unwrap_or_default();
            for fragment in row_finding["message"].as_array().into_iter().flatten() {
                let fragment = fragment.as_str().expect("fragments are strings");
                if !message.contains(fragment) {
                    failures.push(format!("{name}: {fragment:?} not in {message:?}"));
                }
            }
        }
        let errors = expected.iter().any(|f| f["severity"] == "error");
        let status = out.status.code();
        if status != Some(i32::from(errors)) {
            failures.push(format!(
                "{name}: exit {status:?}, want {}\n{}",
                i32::from(errors),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
