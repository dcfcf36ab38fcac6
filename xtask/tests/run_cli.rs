//! `xtask run` as a process, the way users and `make run` call it: one
//! kwctl AdmissionResponse line on stdout, `Provided settings are not
//! valid:` for bad settings, and one clear line with a non-zero exit for a
//! missing file, invalid JSON or a trapping module.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use xtask::yaml11::{self, Schema};

fn root() -> PathBuf {
    xtask::cmd::fixtures::workspace_root()
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("xtask runs")
}

fn policy_wasm() -> String {
    let wasm = root().join("policy.wasm");
    assert!(
        wasm.exists(),
        "{} is missing: run `make policy.wasm` (or `make test`) first",
        wasm.display()
    );
    wasm.to_string_lossy().into_owned()
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-run-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("temp file");
    path
}

fn assert_one_line_failure(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must fail: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one clear line, no backtrace: {stderr}"
    );
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
}

/// A request from the committed fixtures.
fn a_request() -> PathBuf {
    let requests = root().join("test_data/requests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&requests)
        .unwrap_or_else(|e| panic!("{}: {e}", requests.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .expect("test_data/requests holds a request")
}

#[test]
fn prints_one_kwctl_admission_response_line() {
    let request = a_request();
    let out = xtask(&[
        "run",
        "--request-path",
        &request.to_string_lossy(),
        &policy_wasm(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    let line: Value = serde_json::from_str(stdout.trim()).expect("stdout is JSON");
    // kwctl's field order; auditAnnotations and warnings are always there.
    let order = [
        "uid",
        "allowed",
        "patchType",
        "patch",
        "status",
        "auditAnnotations",
        "warnings",
    ];
    let positions: Vec<usize> = order
        .iter()
        .filter_map(|key| stdout.find(&format!("\"{key}\":")))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "fields out of kwctl's order: {stdout}"
    );
    for key in ["uid", "allowed", "auditAnnotations", "warnings"] {
        assert!(line.get(key).is_some(), "{key} missing: {stdout}");
    }
    let known = line
        .as_object()
        .map(|o| o.keys().all(|k| order.contains(&k.as_str())));
    assert_eq!(known, Some(true), "unexpected fields: {stdout}");
    let sent: Value =
        serde_json::from_str(&std::fs::read_to_string(&request).expect("reads")).expect("JSON");
    assert_eq!(line["uid"], sent["uid"]);
}

#[test]
fn an_admission_review_is_accepted_too() {
    let request: Value =
        serde_json::from_str(&std::fs::read_to_string(a_request()).expect("reads"))
            .expect("request is JSON");
    let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request});
    let path = temp_file("review.json", &review.to_string());
    let out = xtask(&[
        "run",
        "--request-path",
        &path.to_string_lossy(),
        &policy_wasm(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(line["uid"], request["uid"]);
}

#[test]
fn invalid_settings_are_refused_before_evaluation() {
    let text =
        std::fs::read_to_string(root().join("tests/settings.yaml")).expect("tests/settings.yaml");
    let rows = yaml11::parse(&text, Schema::Core)
        .expect("YAML")
        .remove(0)
        .value;
    let invalid = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["valid"] == Value::Bool(false)))
        .expect("tests/settings.yaml has an invalid row");
    let settings = invalid["settings"].to_string();
    let out = xtask(&[
        "run",
        "--settings-json",
        &settings,
        "--request-path",
        &a_request().to_string_lossy(),
        &policy_wasm(),
    ]);
    assert_one_line_failure(&out, "Provided settings are not valid:");
}

#[test]
fn missing_files_and_bad_json_are_one_line() {
    let wasm = policy_wasm();
    assert_one_line_failure(
        &xtask(&["run", "--request-path", "does/not/exist.json", &wasm]),
        "does/not/exist.json",
    );
    let bad = temp_file("bad.json", "{ not json");
    assert_one_line_failure(
        &xtask(&["run", "--request-path", &bad.to_string_lossy(), &wasm]),
        "not valid JSON",
    );
    let request = a_request();
    assert_one_line_failure(
        &xtask(&[
            "run",
            "--request-path",
            &request.to_string_lossy(),
            "no-such-policy.wasm",
        ]),
        "no-such-policy.wasm",
    );
    assert_one_line_failure(
        &xtask(&[
            "run",
            "--settings-json",
            "{",
            "--request-path",
            &request.to_string_lossy(),
            &wasm,
        ]),
        "--settings-json",
    );
}

#[test]
fn a_trapping_module_is_one_line() {
    // Answers nothing, traps on every call (WAT is accepted as a module).
    let wat = r#"(module (memory (export "memory") 1)
        (func (export "__guest_call") (param i32 i32) (result i32) unreachable))"#;
    let module = temp_file("trap.wat", wat);
    let out = xtask(&[
        "run",
        "--request-path",
        &a_request().to_string_lossy(),
        &module.to_string_lossy(),
    ]);
    assert_one_line_failure(
        &out,
        "policy `validate_settings` failed: the module trapped",
    );
}

#[test]
fn human_output_names_the_verdict() {
    let out = xtask(&[
        "run",
        "--human",
        "--request-path",
        &a_request().to_string_lossy(),
        &policy_wasm(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ALLOWED") || stdout.contains("REJECTED"),
        "{stdout}"
    );
    assert!(stdout.contains("patch"), "{stdout}");
}

/// Field by field against the real kwctl, on every request fixture.
/// kwctl cannot be installed from this machine's registries, so the test
/// is ignored by default (reported as such, with the reason) and runs on
/// request where kwctl exists: `make kwctl-tests` (KWCTL=/path/to/kwctl).
/// Patches are compared by their effect: two RFC 6902 diff
/// implementations may order operations differently.
#[test]
#[ignore = "needs kwctl on PATH: make kwctl-tests"]
fn agrees_with_kwctl_when_installed() {
    let kwctl = std::env::var("KWCTL").unwrap_or_else(|_| "kwctl".into());
    assert!(
        Command::new(&kwctl)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "`{kwctl}` is not on PATH: install kwctl or set KWCTL=/path/to/kwctl"
    );
    let wasm = policy_wasm();
    let requests = root().join("test_data/requests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&requests)
        .expect("test_data/requests")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let path = file.to_string_lossy();
        let ours = xtask(&["run", "--request-path", &path, &wasm]);
        let theirs = Command::new(&kwctl)
            .args(["run", "--request-path", &path, &wasm])
            .output()
            .expect("kwctl runs");
        let parse = |out: &Output| -> Value {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let line = stdout
                .lines()
                .rev()
                .find(|l| l.starts_with('{'))
                .unwrap_or("null");
            serde_json::from_str(line).unwrap_or(Value::Null)
        };
        let (mut ours, mut theirs) = (parse(&ours), parse(&theirs));
        let request: Value =
            serde_json::from_str(&std::fs::read_to_string(file).expect("reads")).expect("JSON");
        for response in [&mut ours, &mut theirs] {
            if let Some(patch) = response.get_mut("patch").map(Value::take) {
                let response_value: xtask::host::AdmissionResponse = serde_json::from_value(serde_json::json!({
                    "uid": "", "allowed": true, "patch": patch, "auditAnnotations": null, "warnings": null
                }))
                .expect("response shape");
                let mutated = response_value
                    .mutated(&request["object"])
                    .expect("patch applies");
                response["patch"] = mutated.unwrap_or(Value::Null);
            }
        }
        if ours != theirs {
            failures.push(format!("- {path}\n    ours:  {ours}\n    kwctl: {theirs}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} requests differ from kwctl:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// --- Context-aware rows: grants from annotated-policy.wasm, answers replayed

/// annotated-policy.wasm: policy.wasm with policy-metadata.yml embedded,
/// whose contextAwareResources `--allow-context-aware` grants.
fn annotated_policy_wasm() -> String {
    let wasm = root().join("annotated-policy.wasm");
    assert!(
        wasm.exists(),
        "{} is missing: run `make annotated-policy.wasm` (or `make test`) first",
        wasm.display()
    );
    wasm.to_string_lossy().into_owned()
}

/// One row of `tests/cases.yaml` that names a `session:`.
struct SessionRow {
    name: String,
    request: String,
    settings: String,
    session: String,
    allowed: bool,
    message: Vec<String>,
    warnings: Vec<String>,
}

fn strings(row: &Value, key: &str) -> Vec<String> {
    row.get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|i| i.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The rows of `tests/cases.yaml` with a `session:` key, in table order.
fn session_rows() -> Vec<SessionRow> {
    let path = root().join("tests/cases.yaml");
    let text = std::fs::read_to_string(&path).expect("tests/cases.yaml");
    let rows = yaml11::parse(&text, Schema::Core)
        .expect("tests/cases.yaml is YAML")
        .remove(0)
        .value;
    rows.as_array()
        .expect("tests/cases.yaml is a list")
        .iter()
        .filter_map(|row| {
            let session = row.get("session")?.as_str()?.to_owned();
            let text = |key: &str| row[key].as_str().unwrap_or_default().to_owned();
            Some(SessionRow {
                name: text("name"),
                request: text("request"),
                settings: match row.get("settings") {
                    Some(Value::Null) | None => "{}".to_owned(),
                    Some(settings) => settings.to_string(),
                },
                session,
                allowed: row["allowed"].as_bool().expect("`allowed` is a boolean"),
                message: strings(row, "message"),
                warnings: strings(row, "warnings"),
            })
        })
        .collect()
}

fn run_row(row: &SessionRow, policy: &str, allow_context_aware: bool) -> Output {
    let mut args = vec!["run"];
    if allow_context_aware {
        args.push("--allow-context-aware");
    }
    args.extend([
        "--replay-host-capabilities-interactions",
        &row.session,
        "--settings-json",
        &row.settings,
        "--request-path",
        &row.request,
        policy,
    ]);
    xtask(&args)
}

/// The AdmissionResponse line, or why there is none.
fn response_of(out: &Output) -> Result<Value, String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("xtask run failed: {stderr}"));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("stdout is not JSON ({e}): {stderr}"))
}

fn warnings_of(response: &Value) -> Vec<String> {
    strings(response, "warnings")
}

/// Every mismatch between a row and a response.
fn mismatches(row: &SessionRow, response: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    if response["allowed"] != Value::Bool(row.allowed) {
        errors.push(format!(
            "allowed: expected {}, got {}",
            row.allowed, response["allowed"]
        ));
    }
    let message = response["status"]["message"].as_str().unwrap_or_default();
    for fragment in &row.message {
        if !message.contains(fragment.as_str()) {
            errors.push(format!("message lacks {fragment:?}: {message:?}"));
        }
    }
    let warnings = warnings_of(response);
    if warnings.len() != row.warnings.len() {
        errors.push(format!(
            "expected {} warnings, got {}: {warnings:?}",
            row.warnings.len(),
            warnings.len()
        ));
    }
    for (i, (fragment, warning)) in row.warnings.iter().zip(&warnings).enumerate() {
        if !warning.contains(fragment.as_str()) {
            errors.push(format!("warning {i} lacks {fragment:?}: {warning:?}"));
        }
    }
    errors
}

/// Every row of tests/cases.yaml with a `session:` through the process, as
/// a user would run it under kwctl:
/// `run --allow-context-aware --replay-host-capabilities-interactions SESSION
/// --settings-json SETTINGS --request-path REQUEST annotated-policy.wasm`.
#[test]
fn context_aware_rows_replay_through_the_annotated_policy() {
    let rows = session_rows();
    eprintln!(
        "context_aware_rows_replay_through_the_annotated_policy: {} row(s) of tests/cases.yaml have a session",
        rows.len()
    );
    if rows.is_empty() {
        return;
    }
    let policy = annotated_policy_wasm();
    let mut failures = Vec::new();
    for row in &rows {
        let errors = match response_of(&run_row(row, &policy, true)) {
            Ok(response) => mismatches(row, &response),
            Err(error) => vec![error],
        };
        if !errors.is_empty() {
            failures.push(format!("- {}\n    {}", row.name, errors.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} context-aware rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// The first row with a session whose request the grant matters for.
fn first_session_row() -> Option<SessionRow> {
    let row = session_rows().into_iter().next();
    if row.is_none() {
        eprintln!("no row of tests/cases.yaml has a session: nothing to refuse");
    }
    row
}

/// As under kwctl, `--allow-context-aware` grants nothing to a module
/// without metadata: the host refuses every call (one WARN line says why)
/// and the policy, which never rejects for a failed read, warns instead.
#[test]
fn an_unannotated_policy_gets_no_grant() {
    let Some(row) = first_session_row() else {
        return;
    };
    let out = run_row(&row, &policy_wasm(), true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let response = response_of(&out).unwrap_or_else(|e| panic!("{}: {e}", row.name));
    assert!(
        stderr.contains("is not annotated (no io.kubewarden.metadata section)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("WARN  host: Policy has not been granted access to Kubernetes "),
        "{stderr}"
    );
    let warnings = warnings_of(&response);
    assert!(
        warnings.iter().any(|w| w.contains("could not be checked")),
        "{}: the policy must warn that it could not check: {warnings:?}",
        row.name
    );
}

/// Without `--allow-context-aware`, a session changes nothing: every call
/// is refused before any exchange is read, as kwctl does.
#[test]
fn without_allow_context_aware_a_session_is_not_used() {
    let Some(row) = first_session_row() else {
        return;
    };
    let out = run_row(&row, &annotated_policy_wasm(), false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let response = response_of(&out).unwrap_or_else(|e| panic!("{}: {e}", row.name));
    assert!(
        stderr.contains("not run with --allow-context-aware"),
        "{stderr}"
    );
    assert!(
        warnings_of(&response)
            .iter()
            .any(|w| w.contains("could not be checked")),
        "{response}"
    );
}

/// `--cluster-state` answers from manifests and
/// `--record-host-capabilities-interactions` writes what was asked; the
/// recording replays to the same response.
#[test]
fn a_recorded_cluster_session_replays_to_the_same_response() {
    let sessions = root().join("test_data/sessions");
    let mut clusters: Vec<PathBuf> = std::fs::read_dir(&sessions)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".cluster.yaml"))
                .collect()
        })
        .unwrap_or_default();
    clusters.sort();
    let Some(cluster) = clusters.first() else {
        eprintln!("no test_data/sessions/*.cluster.yaml: nothing to record");
        return;
    };
    let file = cluster.file_name().expect("a file").to_string_lossy();
    let name = file.trim_end_matches(".cluster.yaml");
    let stem = name.split("--").next().unwrap_or(name);
    let request = format!("test_data/requests/{stem}.json");
    let policy = annotated_policy_wasm();
    let recorded = temp_file(&format!("{name}.yml"), "");
    let settings = &xtask::cmd::fixtures::session_settings();
    let live = xtask(&[
        "run",
        "--allow-context-aware",
        "--cluster-state",
        &cluster.to_string_lossy(),
        "--record-host-capabilities-interactions",
        &recorded.to_string_lossy(),
        "--settings-json",
        settings,
        "--request-path",
        &request,
        &policy,
    ]);
    let live = response_of(&live).unwrap_or_else(|e| panic!("{file}: {e}"));
    let session = std::fs::read_to_string(&recorded).expect("the session was written");
    xtask::host::Replay::parse(&session).unwrap_or_else(|e| panic!("{e:#}\n{session}"));
    let replayed = xtask(&[
        "run",
        "--allow-context-aware",
        "--replay-host-capabilities-interactions",
        &recorded.to_string_lossy(),
        "--settings-json",
        settings,
        "--request-path",
        &request,
        &policy,
    ]);
    let replayed = response_of(&replayed).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(live, replayed, "{session}");
    // The conflicting sources are refused by the command line.
    let both = xtask(&[
        "run",
        "--cluster-state",
        &cluster.to_string_lossy(),
        "--replay-host-capabilities-interactions",
        &recorded.to_string_lossy(),
        "--request-path",
        &request,
        &policy,
    ]);
    assert!(!both.status.success());
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"));
}
