//! `selector-guard fix -` over the rows of `tests/data/fix-cases.yaml`:
//! the text printed, the exit status, the notes; kubectl (when on PATH,
//! else the project's YAML 1.1 reader) reads the fixed text as the input
//! but for the label maps; and a second fix changes nothing.

// Tests: a panic is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde::Deserialize;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{crate_dir, selector_guard};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    name: String,
    input: String,
    output: String,
    exit: i32,
    #[serde(default)]
    stderr: Vec<String>,
}

fn fix(stdin: &str, check: bool) -> Output {
    let mut args = vec!["fix", "--settings-json", r#"{"serviceTargets":"off"}"#];
    if check {
        args.push("--check");
    }
    args.push("-");
    selector_guard(&crate_dir(), &args, Some(stdin))
}

/// kubectl's reading of `text` (`kubectl label --local -o json`), or the
/// project's reader's where kubectl is not on PATH.
fn reading(text: &str, dir: &Path, name: &str) -> Result<Vec<serde_json::Value>, String> {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("written");
    if cfg!(has_kubectl) {
        // `kubectl label` rebuilds metadata.labels when one of them is not a
        // string, `kubectl annotate` metadata.annotations: each is read from
        // the command that leaves it alone.
        let run = |verb: &str| -> Result<Vec<serde_json::Value>, String> {
            let out = Command::new("kubectl")
                .args([verb, "--local", "-o", "json", "selector-guard-tmp=1", "-f"])
                .arg(&path)
                .output()
                .expect("kubectl runs");
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
            Ok(serde_json::Deserializer::from_slice(&out.stdout)
                .into_iter::<serde_json::Value>()
                .map(|doc| doc.expect("JSON"))
                .collect())
        };
        let (labelled, annotated) = (run("label")?, run("annotate")?);
        Ok(annotated
            .into_iter()
            .zip(labelled)
            .map(|(mut doc, labelled)| {
                let metadata = doc["metadata"].as_object_mut().expect("metadata");
                match labelled["metadata"].get("annotations") {
                    Some(annotations) => {
                        metadata.insert("annotations".into(), annotations.clone());
                    }
                    None => {
                        metadata.remove("annotations");
                    }
                }
                for key in ["labels", "annotations"] {
                    if let Some(map) = metadata
                        .get_mut(key)
                        .and_then(serde_json::Value::as_object_mut)
                    {
                        map.remove("selector-guard-tmp");
                        if map.is_empty() {
                            metadata.remove(key);
                        }
                    }
                }
                doc
            })
            .collect())
    } else {
        selector_guard_host::yaml11::from_str(text).map_err(|e| format!("{e:#}"))
    }
}

/// `before` and `after` are the same but for label maps, whose values in
/// `after` are strings: the spelling of `before`'s or its policy string.
fn same_but_label_maps(before: &serde_json::Value, after: &serde_json::Value, row: &str) {
    use serde_json::Value;
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(a.len(), b.len(), "{row}: keys of {before} and {after}");
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => same_but_label_maps(value, other, row),
                    // A quoted key: its plain spelling reads as the old key.
                    None => assert!(
                        b.keys().any(|k| {
                            !a.contains_key(k)
                                && selector_guard_host::yaml11::from_str(&format!("{k}: x"))
                                    .ok()
                                    .and_then(|docs| {
                                        docs.first()?.as_object()?.keys().next().cloned()
                                    })
                                    .as_deref()
                                    == Some(key.as_str())
                        }),
                        "{row}: key {key} is gone from {after}"
                    ),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{row}");
            for (x, y) in a.iter().zip(b) {
                same_but_label_maps(x, y, row);
            }
        }
        (old, Value::String(new)) if !old.is_string() => {
            let as_policy = selector_guard::labels::label_string(old).map(|s| s.into_owned());
            let as_spelled = selector_guard_host::yaml11::from_str(&format!("v: {new}"))
                .ok()
                .and_then(|docs| docs.first().map(|d| d["v"].clone()));
            assert!(
                as_policy.as_deref() == Some(new.as_str()) || as_spelled.as_ref() == Some(old),
                "{row}: {old} became {new:?}, neither its spelling nor the policy's string"
            );
        }
        (old, new) => assert_eq!(old, new, "{row}"),
    }
}

#[test]
fn fix_rows() {
    let text =
        std::fs::read_to_string(crate_dir().join("tests/data/fix-cases.yaml")).expect("table");
    let docs = selector_guard_host::yaml11::from_str(&text).expect("the table reads");
    let rows: Vec<Row> =
        serde_json::from_value(docs.into_iter().next().expect("one document")).expect("rows");
    let dir = std::env::temp_dir().join(format!("selector-guard-fix-rows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut failures = Vec::new();
    for row in &rows {
        let out = fix(&row.input, false);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let expected = if row.output == "unchanged" {
            &row.input
        } else {
            &row.output
        };
        if &stdout != expected {
            failures.push(format!(
                "{}: printed\n{stdout}\nnot\n{expected}\nstderr: {stderr}",
                row.name
            ));
            continue;
        }
        if out.status.code() != Some(row.exit) {
            failures.push(format!(
                "{}: exit {:?}, not {}: {stderr}",
                row.name,
                out.status.code(),
                row.exit
            ));
        }
        for fragment in &row.stderr {
            if !stderr.contains(fragment.as_str()) {
                failures.push(format!("{}: stderr lacks {fragment:?}: {stderr}", row.name));
            }
        }
        if row.exit == 2 {
            continue;
        }
        // A second fix changes nothing.
        let again = fix(&stdout, true);
        if again.status.code() == Some(1) && !again.stdout.is_empty() {
            failures.push(format!(
                "{}: a second fix would change:\n{}",
                row.name,
                String::from_utf8_lossy(&again.stdout)
            ));
        }
        match (
            reading(&row.input, &dir, "before.yaml"),
            reading(&stdout, &dir, "after.yaml"),
        ) {
            (Ok(before), Ok(after)) => {
                assert_eq!(before.len(), after.len(), "{}", row.name);
                for (b, a) in before.iter().zip(&after) {
                    same_but_label_maps(b, a, &row.name);
                }
            }
            // kubectl refuses to decode a top-level label that is not a
            // string (into ObjectMeta); the fix must make it readable, and
            // the project's reader compares the two.
            (Err(_), Ok(_)) => {
                let before = selector_guard_host::yaml11::from_str(&row.input).expect("reads");
                let after = selector_guard_host::yaml11::from_str(&stdout).expect("reads");
                for (b, a) in before.iter().zip(&after) {
                    same_but_label_maps(b, a, &row.name);
                }
            }
            (_, Err(e)) => failures.push(format!("{}: the output does not read: {e}", row.name)),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}
