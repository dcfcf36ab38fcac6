//! `selector-guard check` and `fix` as processes, on the manifests under
//! `tests/data/manifests` (YAML 1.1 traps, comments, several documents per
//! file, a List, a `helm template` stream, CRLF line endings, JSON).
//!
//! Expected outputs live in `tests/data/`: `check.expected` (stdout of
//! `check`, compared line by line) and `fixed/` (the files after `fix`,
//! compared byte for byte). `SELECTOR_GUARD_BLESS=1 cargo test -p
//! selector-guard-cli` rewrites them after a deliberate change of the
//! policy's messages.

// Tests: a panic is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use selector_guard_host::yaml11::{self, Limits, Node, Schema};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{crate_dir, selector_guard};

/// [`selector_guard`] with `serviceTargets` off: the fixtures hold Services
/// without their workloads, and these tests are about values and formats,
/// not relations (tests/relations.yaml is).
fn selector_guard_alone(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let (command, rest) = args.split_first().expect("a subcommand");
    let mut all = vec![*command, "--settings-json", r#"{"serviceTargets":"off"}"#];
    all.extend(rest);
    selector_guard(dir, &all, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn bless() -> bool {
    std::env::var_os("SELECTOR_GUARD_BLESS").is_some()
}

/// A fresh copy of the test manifests.
fn copy_of_manifests(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("selector-guard-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&crate_dir().join("tests/data/manifests"), &dir);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn assert_lines(actual: &str, expected_file: &Path) {
    if bless() {
        std::fs::write(expected_file, actual).expect("blessed");
        return;
    }
    let expected = std::fs::read_to_string(expected_file).expect("expected output");
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    for (i, (a, e)) in a.iter().zip(&e).enumerate() {
        assert_eq!(
            a,
            e,
            "line {} of {} differs",
            i + 1,
            expected_file.display()
        );
    }
    assert_eq!(
        a.len(),
        e.len(),
        "line count differs from {}:\n{actual}",
        expected_file.display()
    );
}

#[test]
fn check_prints_findings_in_input_order_and_exits_1() {
    let out = selector_guard(&crate_dir(), &["check", "tests/data/manifests"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_lines(
        &text(&out.stdout),
        &crate_dir().join("tests/data/check.expected"),
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.ends_with("skipped 1 document that is not a Kubernetes object\n"),
        "{stderr}"
    );
}

#[test]
fn check_formats_json_and_github() {
    let file = "tests/data/manifests/service-yaml11.yaml";
    let out = selector_guard_alone(&crate_dir(), &["check", "--format", "json", file], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let first: Value =
        serde_json::from_str(stdout.lines().next().expect("a finding")).expect("JSON");
    assert_eq!(first["file"], file);
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(12), Some(13))
    );
    assert_eq!(first["severity"], "error");
    assert_eq!(first["rule"], "serviceSelectorValues");
    assert_eq!(first["path"], "spec.selector[active]");
    assert_eq!(first["object"], "Service default/rng");
    assert!(
        first["message"]
            .as_str()
            .is_some_and(|m| m.contains("`yes`"))
    );

    let out = selector_guard_alone(&crate_dir(), &["check", "--format", "github", file], None);
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().expect("a finding");
    assert!(
        first.starts_with(&format!(
            "::error file={file},line=12,col=13,title=selector-guard serviceSelectorValues%3A Service default/rng::"
        )),
        "{first}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("::warning file=")),
        "{stdout}"
    );
}

#[test]
fn check_reads_stdin_and_names_helm_templates() {
    let stream =
        std::fs::read_to_string(crate_dir().join("tests/data/manifests/chart/rendered.yaml"))
            .expect("read");
    let out = selector_guard_alone(&crate_dir(), &["check", "-"], Some(&stream));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).starts_with("shop/templates/service.yaml:8:14: error: "),
        "{}",
        text(&out.stdout)
    );
    let plain = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {a: yes}\n";
    let out = selector_guard_alone(&crate_dir(), &["check", "-"], Some(plain));
    assert!(
        text(&out.stdout).starts_with("-:5:17: error: "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn exit_codes() {
    let clean = "tests/data/manifests/clean.json";
    let out = selector_guard_alone(&crate_dir(), &["check", clean], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // An unreadable file is exit 2 with one line; the others are still checked.
    let out = selector_guard_alone(
        &crate_dir(),
        &[
            "check",
            "tests/data/nope.yaml",
            "tests/data/manifests/service-yaml11.yaml",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.contains("nope.yaml")).count(),
        1,
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("service-yaml11.yaml:12:13: error"));

    // Not YAML, and excessive aliasing: exit 2, naming the file.
    let out = selector_guard_alone(&crate_dir(), &["check", "-"], Some("a: [1\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("-: invalid YAML"),
        "{}",
        text(&out.stderr)
    );
    let mut laughs = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\n  annotations:\n    l0: &l0 \"lol\"\n",
    );
    for level in 1..=9 {
        let refs = vec![format!("*l{}", level - 1); 10].join(", ");
        laughs.push_str(&format!("    l{level}: &l{level} [{refs}]\n"));
    }
    let out = selector_guard_alone(&crate_dir(), &["check", "-"], Some(&laughs));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("-: yaml: document contains excessive aliasing"),
        "{}",
        text(&out.stderr)
    );

    // A module that cannot be read (or, in a build without the `wasm`
    // feature, any module): one line.
    let empty =
        std::env::temp_dir().join(format!("selector-guard-no-policy-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = selector_guard_alone(
        &empty,
        &["check", "--policy", "missing.wasm", "x.yaml"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );

    // Invalid settings.
    let out = selector_guard(
        &crate_dir(),
        &["check", "--settings-json", r#"{"nope": 1}"#, clean],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Provided settings are not valid"),
        "{}",
        text(&out.stderr)
    );
}

/// `fix` on the manifests, compared byte for byte with `tests/data/fixed`.
#[test]
fn fix_writes_the_meant_spelling_and_nothing_else() {
    let dir = copy_of_manifests("fix");
    let out = selector_guard_alone(&dir, &["fix", "."], None);
    // The DaemonSet's replicas needs a human: still an error.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("DaemonSet ops/agent: spec.replicas"));
    let expected_dir = crate_dir().join("tests/data/fixed");
    for file in files_under(&dir) {
        let relative = file.strip_prefix(&dir).expect("inside");
        let expected = expected_dir.join(relative);
        let actual = std::fs::read(&file).expect("fixed file");
        if bless() {
            std::fs::create_dir_all(expected.parent().expect("parent")).expect("mkdir");
            std::fs::write(&expected, &actual).expect("blessed");
            continue;
        }
        assert_eq!(
            text(&actual),
            text(&std::fs::read(&expected).expect("expected file")),
            "{}",
            relative.display()
        );
        assert_eq!(
            actual,
            std::fs::read(&expected).expect("expected"),
            "bytes of {}",
            relative.display()
        );
    }
    // The policy's string where the spelling is no label value, said so.
    let stderr = text(&out.stderr);
    assert!(stderr.contains("`+1` is not a valid label value as written, so the policy's string \"1\" was written instead"), "{stderr}");

    // Fixing its own output changes nothing.
    let again = selector_guard_alone(&dir, &["fix", "--check", "."], None);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stdout));
    assert!(text(&again.stdout).is_empty());

    // After fix, check reports no string-rule error: what remains needs a human.
    let check = selector_guard_alone(&dir, &["check", "."], None);
    let stdout = text(&check.stdout);
    assert!(!stdout.contains("not as a string"), "{stdout}");
    assert!(!stdout.contains("became the string"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains(": error: ")).count(),
        1,
        "{stdout}"
    );
}

#[test]
fn fix_check_prints_a_diff_and_changes_nothing() {
    let dir = copy_of_manifests("diff");
    let before: Vec<Vec<u8>> = files_under(&dir)
        .iter()
        .map(|f| std::fs::read(f).expect("read"))
        .collect();
    let out = selector_guard(&dir, &["fix", "--check", "service-yaml11.yaml"], None);
    assert_eq!(out.status.code(), Some(1));
    let diff = text(&out.stdout);
    assert!(
        diff.starts_with("--- a/service-yaml11.yaml\n+++ b/service-yaml11.yaml\n"),
        "{diff}"
    );
    assert!(
        diff.contains("\n-    active: yes    # meant the string \"yes\"\n"),
        "{diff}"
    );
    assert!(
        diff.contains("\n+    active: \"yes\"    # meant the string \"yes\"\n"),
        "{diff}"
    );
    assert!(diff.contains("+    \"on\": \"on\"\n"), "{diff}");
    let after: Vec<Vec<u8>> = files_under(&dir)
        .iter()
        .map(|f| std::fs::read(f).expect("read"))
        .collect();
    assert_eq!(before, after);
    // stdin: the fixed stream on stdout.
    let out = selector_guard(
        &dir,
        &["fix", "-"],
        Some("kind: Service\napiVersion: v1\nmetadata: {name: s}\nspec: {selector: {a: yes}}\n"),
    );
    assert_eq!(
        text(&out.stdout),
        "kind: Service\napiVersion: v1\nmetadata: {name: s}\nspec: {selector: {a: \"yes\"}}\n"
    );
}

/// The YAML reader's objects for a file, with the nodes they come from.
fn read(path: &Path) -> Vec<(Value, Option<Node>)> {
    let text = std::fs::read_to_string(path).expect("read");
    let schema = if text.trim_start().starts_with('{') {
        Schema::Core
    } else {
        Schema::Yaml11
    };
    yaml11::parse_positioned(&text, schema, Limits::default())
        .expect("parses")
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(|d| (d.value, d.root))
        .collect()
}

/// Re-reading a fixed file gives the original object, with the quoted
/// values as strings of their original spelling (or the policy's string,
/// where that spelling is no label value) and quoted keys under their
/// spelling; nothing else differs.
#[test]
fn fixed_files_read_back_as_the_original_with_the_spelling_meant() {
    let dir = copy_of_manifests("reread");
    selector_guard(&dir, &["fix", "."], None);
    let originals = crate_dir().join("tests/data/manifests");
    for file in files_under(&dir) {
        let relative = file.strip_prefix(&dir).expect("inside");
        let (before, after) = (read(&originals.join(relative)), read(&file));
        assert_eq!(before.len(), after.len(), "{}", relative.display());
        for ((old, node), (new, _)) in before.iter().zip(&after) {
            let node = node.as_ref().expect("positions");
            let Value::Array(ops) =
                serde_json::to_value(json_patch::diff(old, new)).expect("patch")
            else {
                panic!("a patch is a list");
            };
            for op in ops {
                let path = op["path"].as_str().expect("path");
                match op["op"].as_str().expect("op") {
                    "replace" => {
                        let spelling = match node.pointer(path) {
                            Ok(Node::Scalar { text, .. }) => text.clone(),
                            other => panic!("{path}: not a scalar: {other:?}"),
                        };
                        let was = &old.pointer(path).expect("was there");
                        assert!(!was.is_string(), "{path}: a string changed");
                        let policy_string = match was {
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        assert!(
                            op["value"] == spelling.as_str()
                                || op["value"] == policy_string.as_str(),
                            "{}: {path}: {} is neither `{spelling}` nor the policy's {policy_string:?}",
                            relative.display(),
                            op["value"]
                        );
                    }
                    // A quoted key: the old key was YAML 1.1's reading of the new one.
                    "remove" => {
                        let (parent, key) = path.rsplit_once('/').expect("key");
                        let renamed = match node.pointer(parent) {
                            Ok(map) => map.entry(key).map(|e| match &e.key_node {
                                Node::Scalar { text, .. } => text.clone(),
                                _ => String::new(),
                            }),
                            Err(_) => None,
                        }
                        .expect("the removed key is written");
                        assert!(
                            new.pointer(&format!("{parent}/{renamed}")).is_some(),
                            "{path}: not renamed to {renamed}"
                        );
                    }
                    "add" => {
                        let (parent, key) = path.rsplit_once('/').expect("key");
                        let old_map = old.pointer(parent).and_then(Value::as_object).expect("map");
                        assert!(!old_map.contains_key(key), "{path}");
                        let read_as = yaml11::from_str(&format!("{key}: x")).expect("key");
                        let old_key = read_as[0]
                            .as_object()
                            .and_then(|m| m.keys().next().cloned())
                            .expect("one key");
                        assert!(
                            old_map.contains_key(&old_key),
                            "{path}: {old_key} was not there"
                        );
                    }
                    other => panic!("{}: unexpected {other} at {path}", relative.display()),
                }
            }
        }
    }
}

/// kubectl reads every fixed file into the same JSON as the YAML reader.
#[test]
#[cfg_attr(
    not(has_kubectl),
    ignore = "needs kubectl on PATH (CI installs it; .ci/run)"
)]
fn kubectl_reads_fixed_files_as_the_reader_does() {
    let dir = copy_of_manifests("kubectl");
    selector_guard(&dir, &["fix", "."], None);
    let mut compared = 0;
    for file in files_under(&dir) {
        if file.ends_with("chart/values.yaml") {
            continue; // not a Kubernetes object: kubectl refuses it
        }
        let ours: Vec<Value> = selector_guard_host::manifests::read_manifests(&file)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let out = Command::new("kubectl")
            .args(["label", "--local", "-o", "json", "tmp=1", "-f"])
            .arg(&file)
            .output()
            .expect("kubectl runs (CI=true needs kubectl on PATH)");
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            text(&out.stderr)
        );
        let theirs: Vec<Value> = serde_json::Deserializer::from_slice(&out.stdout)
            .into_iter::<Value>()
            .flat_map(|doc| {
                let mut doc = doc.expect("JSON");
                match doc.get("kind").and_then(Value::as_str) {
                    Some("List") => doc["items"].as_array().cloned().unwrap_or_default(),
                    _ => vec![std::mem::take(&mut doc)],
                }
            })
            .map(|mut object| {
                let labels = object["metadata"]["labels"]
                    .as_object_mut()
                    .expect("labels");
                labels.remove("tmp");
                if labels.is_empty() {
                    object["metadata"]
                        .as_object_mut()
                        .expect("metadata")
                        .remove("labels");
                }
                object
            })
            .collect();
        assert_eq!(
            Value::Array(ours),
            Value::Array(theirs),
            "{}",
            file.display()
        );
        compared += 1;
    }
    assert!(compared >= 5, "compared {compared} files");
}

/// `--policy POLICY.wasm` (the `wasm` feature) runs a module in the waPC
/// host instead of the policy built in: its findings are read from the
/// answer's text, each with the rule its trailing `[ruleId]` names, and
/// every object gets the same errors, rule for rule, as natively (but the
/// conversions in an object the module rejects, see below). Run in
/// process: this test is built with the feature, a `selector-guard` binary
/// of the same build need not be.
#[cfg(feature = "wasm")]
#[test]
fn check_with_a_module_finds_the_same_errors() {
    use selector_guard_cli::check;
    let wasm = crate_dir().join("../policy.wasm");
    assert!(
        wasm.exists(),
        "{} is missing: run `make policy.wasm` first",
        wasm.display()
    );
    let errors = |policy: Option<PathBuf>| -> Vec<(String, String)> {
        // The relation rules read the folder, which only the native engine
        // has: off in both, so that the same rules judge each object.
        let args = check::Args {
            settings_path: None,
            settings_json: Some(r#"{"serviceTargets":"off","controllerOverlap":"off"}"#.into()),
            policy,
            format: selector_guard_cli::findings::Format::Json,
            namespace: None,
            cluster_state: None,
            fail_on: None,
            show_suppressed: false,
            config: None,
            no_config: true,
            paths: vec![crate_dir().join("tests/data/manifests")],
        };
        let loaded = check::load(&args, |_| {}).expect("loads");
        let sources = check::read_sources(&selector_guard_cli::inputs::sources(&args.paths));
        let mut found = Vec::new();
        for report in check::evaluate(&loaded, &sources) {
            for evaluated in report.evaluated.expect("readable") {
                let judged = evaluated.answer.expect("answered");
                for finding in check::findings(&evaluated.object, &judged) {
                    assert!(
                        !finding.rule.is_empty(),
                        "every finding names its rule: {finding:?}"
                    );
                    if finding.severity == selector_guard_cli::findings::Severity::Error {
                        found.push((finding.object.clone(), finding.rule.clone()));
                    }
                }
            }
        }
        found.sort();
        found
    };
    let native = errors(None);
    assert!(!native.is_empty());
    let mut from_module = errors(Some(wasm));
    // A module's rejection carries no patch, so its conversions are only
    // warnings there; natively each is an error at its value. Every other
    // error is the same, rule for rule.
    let mut only_native = Vec::new();
    for error in native {
        match from_module.iter().position(|e| *e == error) {
            Some(at) => {
                from_module.remove(at);
            }
            None => only_native.push(error),
        }
    }
    assert!(
        from_module.is_empty(),
        "errors only the module gives: {from_module:?}"
    );
    for (object, rule) in &only_native {
        assert!(
            rule == "serviceSelectorValues" || rule == "labelMapValues",
            "{object}: a {rule} error only natively"
        );
    }
}
