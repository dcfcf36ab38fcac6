//! Suppressions in `selector-guard check`, as a process: the
//! `selector-guard.dev/ignore` annotation (with
//! `selector-guard.dev/ignore-reason`) takes a finding out of the output
//! and the exit status, the summary counts it, `--show-suppressed` brings
//! it back with its reason; a suppression without a reason, or naming an
//! unknown rule, is an error at the annotation.

// Tests: a panic is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

mod common;

/// A DaemonSet made from a Deployment manifest (`spec.replicas` is a
/// `specFields` error at line 12), with `annotations` (YAML lines, indented
/// for `metadata.annotations`) if any.
fn daemonset(annotations: &str) -> String {
    let annotations = if annotations.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n{annotations}")
    };
    format!(
        "apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: rng
{annotations}spec:
  replicas: 1
  selector:
    matchLabels:
      app: rng
  template:
    metadata:
      labels:
        app: rng
    spec:
      containers:
      - name: rng
        image: dockercoins/rng:v0.1
"
    )
}

const REASON: &str = "replicas goes with the chart's next release (TICKET-42)";

fn suppressed(ids: &str) -> String {
    daemonset(&format!(
        "    selector-guard.dev/ignore: {ids}\n    selector-guard.dev/ignore-reason: {REASON}\n"
    ))
}

/// Writes `files` (name, text) into a fresh folder.
fn folder(test: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "selector-guard-suppress-{test}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
    dir
}

/// `selector-guard check ARGS...` in `dir`.
fn check(dir: &std::path::Path, args: &[&str]) -> Output {
    common::selector_guard(dir, &[&["check"], args].concat(), None)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[test]
fn a_suppressed_finding_leaves_the_output_and_the_exit_status() {
    let dir = folder(
        "leaves",
        &[
            ("plain.yaml", &daemonset("")),
            ("quiet.yaml", &suppressed("specFields")),
        ],
    );
    let plain = check(&dir, &["plain.yaml"]);
    assert_eq!(plain.status.code(), Some(1), "{}", stderr(&plain));
    assert!(
        stdout(&plain).starts_with("plain.yaml:6:3: error: DaemonSet default/rng: spec.replicas"),
        "{}",
        stdout(&plain)
    );

    let quiet = check(&dir, &["quiet.yaml"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert_eq!(stdout(&quiet), "");
    assert_eq!(
        stderr(&quiet).trim_end(),
        "selector-guard: 0 errors, 0 warnings in 1 object from 1 file; 1 suppressed"
    );
}

#[test]
fn show_suppressed_brings_it_back_with_its_reason() {
    let dir = folder("show", &[("quiet.yaml", &suppressed("specFields"))]);
    let out = check(&dir, &["--show-suppressed", "quiet.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "suppressed findings still do not count"
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].starts_with(
            "quiet.yaml:9:3: error: DaemonSet default/rng: spec.replicas is not a DaemonSet field"
        ),
        "{text}"
    );
    assert!(
        lines[0].ends_with(&format!("[specFields] (suppressed: {REASON})")),
        "{text}"
    );
    assert!(stderr(&out).contains("; 1 suppressed"), "{}", stderr(&out));
}

#[test]
fn json_carries_the_reason() {
    let dir = folder("json", &[("quiet.yaml", &suppressed("specFields"))]);
    let hidden = check(&dir, &["--format", "json", "quiet.yaml"]);
    assert_eq!(hidden.status.code(), Some(0));
    assert_eq!(stdout(&hidden), "");

    let shown = check(
        &dir,
        &["--format", "json", "--show-suppressed", "quiet.yaml"],
    );
    assert_eq!(shown.status.code(), Some(0));
    let findings = json_lines(&shown);
    assert_eq!(findings.len(), 1, "{}", stdout(&shown));
    assert_eq!(findings[0]["rule"], "specFields");
    assert_eq!(findings[0]["path"], "spec.replicas");
    assert_eq!(findings[0]["suppressed"], REASON);
}

#[test]
fn a_suppression_without_a_reason_is_an_error_at_the_annotation() {
    for (name, reason) in [
        ("none", String::new()),
        (
            "empty",
            "    selector-guard.dev/ignore-reason: \"  \"\n".to_string(),
        ),
    ] {
        let manifest = daemonset(&format!(
            "    selector-guard.dev/ignore: specFields\n{reason}"
        ));
        let dir = folder(&format!("reason-{name}"), &[("bare.yaml", &manifest)]);
        let out = check(&dir, &["--format", "json", "bare.yaml"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        let findings = json_lines(&out);
        assert_eq!(findings.len(), 2, "{name}: {}", stdout(&out));
        // At the annotation's value, before the finding it fails to suppress.
        let problem = &findings[0];
        assert_eq!(problem["rule"], "ignoreAnnotation", "{name}");
        assert_eq!(problem["severity"], "error");
        assert_eq!(
            (problem["line"].as_u64(), problem["column"].as_u64()),
            (Some(6), Some(32)),
            "{name}"
        );
        assert_eq!(
            problem["path"],
            "metadata.annotations[selector-guard.dev/ignore]"
        );
        assert_eq!(
            problem["message"],
            "DaemonSet default/rng: metadata.annotations[selector-guard.dev/ignore]: Invalid value: \"specFields\": a suppression needs a reason: add the annotation selector-guard.dev/ignore-reason beside it, saying why these rules do not apply to this object [ignoreAnnotation]"
        );
        assert_eq!(findings[1]["rule"], "specFields", "nothing is suppressed");
        assert!(findings[1].get("suppressed").is_none());
        assert!(!stderr(&out).contains("suppressed"), "{}", stderr(&out));
    }
}

#[test]
fn an_unknown_rule_id_is_an_error_naming_it() {
    let dir = folder(
        "unknown",
        &[("typo.yaml", &suppressed("specFields, replicas"))],
    );
    let out = check(&dir, &["typo.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0],
        "typo.yaml:6:32: error: DaemonSet default/rng: metadata.annotations[selector-guard.dev/ignore]: Invalid value: \"replicas\": not a rule ID: name each rule suppressed by its ID, its settings key (the README's rules table: specFields, templateLabels, ...) [ignoreAnnotation]",
        "{text}"
    );
    assert!(
        lines[1].contains("[specFields]"),
        "an invalid annotation suppresses nothing: {text}"
    );

    let dir = folder("case", &[("case.yaml", &suppressed("SpecFields"))]);
    let out = check(&dir, &["case.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("Invalid value: \"SpecFields\": not a rule ID: "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_suppressed_mutation_disappears() {
    let deployment = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    selector-guard.dev/ignore: labelMapValues
    selector-guard.dev/ignore-reason: a mutating webhook of ours quotes it
  labels:
    public: yes
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx
";
    let plain = deployment.replace("labelMapValues", "templateLabels");
    let dir = folder(
        "mutation",
        &[("quiet.yaml", deployment), ("plain.yaml", &plain)],
    );
    let out = check(&dir, &["plain.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("metadata.labels[public]: kubectl reads `yes` as true"),
        "{}",
        stdout(&out)
    );

    let out = check(&dir, &["quiet.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("; 1 suppressed"), "{}", stderr(&out));

    let out = check(
        &dir,
        &["--show-suppressed", "--format", "json", "quiet.yaml"],
    );
    let findings = json_lines(&out);
    assert_eq!(findings.len(), 1, "{}", stdout(&out));
    assert_eq!(findings[0]["rule"], "labelMapValues");
    assert_eq!(
        findings[0]["suppressed"],
        "a mutating webhook of ours quotes it"
    );
}

#[test]
fn only_the_annotated_object_and_the_named_rules_are_suppressed() {
    // Two documents: the annotated one suppresses specFields only (its
    // templateLabels error stays); the other (its own labels, so that no
    // selectors overlap) is untouched.
    let annotated = suppressed("specFields").replace(
        "        app: rng\n    spec:",
        "        app: other\n    spec:",
    );
    let stream = format!("{annotated}---\n{}", daemonset("").replace("rng", "rng2"));
    let dir = folder("scope", &[("both.yaml", &stream)]);
    let out = check(&dir, &["--format", "json", "both.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let rules: Vec<(String, String)> = json_lines(&out)
        .iter()
        .map(|f| {
            (
                f["object"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            (
                "DaemonSet default/rng".to_string(),
                "templateLabels".to_string()
            ),
            (
                "DaemonSet default/rng2".to_string(),
                "specFields".to_string()
            ),
        ],
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("; 1 suppressed"), "{}", stderr(&out));
}

#[test]
fn a_duplicate_object_can_be_suppressed() {
    let service = |annotations: &str| {
        format!(
            "apiVersion: v1
kind: Service
metadata:
  name: web
{annotations}spec:
  selector:
    app: web
  ports:
  - port: 80
"
        )
    };
    let again = service(
        "  annotations:\n    selector-guard.dev/ignore: duplicateObject\n    selector-guard.dev/ignore-reason: the overlay replaces the base on purpose\n",
    );
    let dir = folder(
        "duplicate",
        &[
            ("a.yaml", &service("")),
            ("b.yaml", &again),
            ("c.yaml", &service("")),
        ],
    );
    let settings = ["--settings-json", r#"{"serviceTargets":"off"}"#];
    let out = check(
        &dir,
        &[&settings[..], &["--fail-on", "warning", "a.yaml", "c.yaml"]].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("[duplicateObject]"),
        "{}",
        stdout(&out)
    );

    let out = check(
        &dir,
        &[&settings[..], &["--fail-on", "warning", "a.yaml", "b.yaml"]].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("; 1 suppressed"), "{}", stderr(&out));
}

/// CI always honours the annotations: `honourIgnoreAnnotations` (admission's
/// switch) changes nothing here, and suppressed findings are still counted.
#[test]
fn ci_honours_annotations_whatever_the_setting() {
    let dir = folder(
        "setting",
        &[
            ("quiet.yaml", &suppressed("specFields")),
            (
                "bare.yaml",
                &daemonset("    selector-guard.dev/ignore: specFields\n"),
            ),
        ],
    );
    for honour in ["true", "false"] {
        let settings = format!(r#"{{"honourIgnoreAnnotations": {honour}}}"#);
        let out = check(
            &dir,
            &[
                "--settings-json",
                &settings,
                "--show-suppressed",
                "quiet.yaml",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{honour}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("(suppressed: "),
            "{honour}: {}",
            stdout(&out)
        );
        assert!(stderr(&out).contains("; 1 suppressed"), "{honour}");

        let out = check(&dir, &["--settings-json", &settings, "bare.yaml"]);
        assert_eq!(out.status.code(), Some(1), "{honour}");
        let problems = stdout(&out).matches("[ignoreAnnotation]").count();
        assert_eq!(problems, 1, "{honour}: reported once: {}", stdout(&out));
    }
}
