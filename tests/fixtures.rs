//! `scaffold` reads every fixture manifest exactly as kubectl does. (That
//! the committed requests and sessions are fresh is checked with `cargo
//! xtask fixtures`' own code, in `xtask/tests/fixtures.rs`.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

use selector_guard_host::manifests::read_manifests;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifests() -> Vec<PathBuf> {
    let dir = root().join("test_data/manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// What kubectl makes of a manifest: `kubectl label --local -f FILE -o json
/// tmp=1`, minus what that label added. `Err` holds kubectl's refusal.
fn kubectl_objects(path: &Path, ours: &[Value]) -> Result<Vec<Value>, String> {
    let out = Command::new("kubectl")
        .args(["label", "--local", "-f"])
        .arg(path)
        .args(["-o", "json", "tmp=1"])
        .output()
        .map_err(|e| format!("cannot run kubectl: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut objects = Vec::new();
    for doc in serde_json::Deserializer::from_str(&stdout).into_iter::<Value>() {
        let doc = doc.map_err(|e| format!("kubectl printed something that is not JSON: {e}"))?;
        match doc {
            Value::Object(ref map) if map.get("kind") == Some(&Value::from("List")) => objects
                .extend(
                    map.get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                ),
            other => objects.push(other),
        }
    }
    for (i, object) in objects.iter_mut().enumerate() {
        let original = ours
            .get(i)
            .and_then(|o| o.pointer("/metadata/labels"))
            .cloned();
        let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(labels) = metadata.get_mut("labels").and_then(Value::as_object_mut) else {
            continue;
        };
        labels.remove("tmp");
        if labels.is_empty() {
            match original {
                Some(original) => {
                    metadata.insert("labels".into(), original);
                }
                None => {
                    metadata.remove("labels");
                }
            }
        }
    }
    Ok(objects)
}

/// Fails when kubectl does not run: these tests are compiled in only where
/// it should (see build.rs), and ignored, with the reason, elsewhere.
fn require_kubectl() {
    let runs = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        runs,
        "kubectl is not on PATH (CI=true requires it: `apt-get install -y kubectl`)"
    );
}

#[test]
#[cfg_attr(
    not(has_kubectl),
    ignore = "needs kubectl on PATH (apt-get install -y kubectl; .ci/run installs it)"
)]
fn scaffold_reads_every_manifest_as_kubectl_does() {
    require_kubectl();
    let mut failures = Vec::new();
    let mut compared = 0;
    for path in manifests() {
        let name = path
            .strip_prefix(root())
            .unwrap_or(&path)
            .display()
            .to_string();
        let ours = match read_manifests(&path) {
            Ok(ours) => ours,
            Err(e) => {
                failures.push(format!("- {name}: scaffold refuses it: {e:#}"));
                continue;
            }
        };
        match kubectl_objects(&path, &ours) {
            // The API server would refuse it too (a 400 before admission):
            // a shift-left-only fixture, nothing to compare.
            Err(refusal) if refusal.contains("unable to decode") => {
                eprintln!(
                    "NOTE {name}: kubectl refuses to decode it, so only `kwctl run` can see it: {refusal}"
                );
            }
            Err(refusal) => failures.push(format!("- {name}: kubectl failed: {refusal}")),
            Ok(theirs) if theirs != ours => failures.push(format!(
                "- {name}: scaffold and kubectl disagree\n    scaffold: {}\n    kubectl:  {}",
                Value::Array(ours),
                Value::Array(theirs)
            )),
            Ok(_) => compared += 1,
        }
    }
    assert!(
        failures.is_empty(),
        "{} manifests differ from kubectl:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("scaffold matches kubectl on {compared} manifests");
}

/// YAML 1.1 corners no fixture needs yet, checked against kubectl too.
#[test]
#[cfg_attr(
    not(has_kubectl),
    ignore = "needs kubectl on PATH (apt-get install -y kubectl; .ci/run installs it)"
)]
fn yaml11_corner_cases_match_kubectl() {
    require_kubectl();
    let manifest = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: corners
  namespace: team
data: {a: x}
spec:
  bools: [y, Y, yes, Yes, YES, on, On, ON, true, True, TRUE, n, N, no, No, NO, off, Off, OFF, false, False, FALSE, tRUE, "yes", 'on']
  nulls: [~, null, Null, NULL, "null"]
  empty:
  ints: [42, +42, -42, 0x2A, -0x2A, 052, 0o52, 0b101010, 1_000, 08, 09, 0, -0, 007]
  floats: [1.5, 1.0, 1e3, 1.5e-3, .5, -.5, +1.5, 1., 1_0.5, 1e400, 18446744073709551615, 9223372036854775807, 9223372036854775808]
  strings: [1:30, 2001-12-14, 0x, 0xZZ, "-", ., +, 1e, e3, 0b2, 12abc]
  keys: {on: a, off: b, y: c, 42: d, 1.5: e, 1e6: f, 0x10: g, "on": h}
  anchors:
    base: &base {x: 1, y: 2}
    merged: {<<: *base, y: 3}
    alias: *base
  block: |
    yes
  folded: >
    on
    off
"#;
    let dir = std::env::temp_dir().join(format!("selector-guard-yaml11-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("corners.yaml");
    std::fs::write(&path, manifest).expect("write");
    let ours = read_manifests(&path).unwrap_or_else(|e| panic!("{e:#}"));
    let theirs = kubectl_objects(&path, &ours).unwrap_or_else(|e| panic!("kubectl: {e}"));
    assert_eq!(
        Value::Array(ours),
        Value::Array(theirs),
        "scaffold (left) and kubectl (right) disagree"
    );
}
