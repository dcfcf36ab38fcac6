//! The rule registry (`selector_guard::rules::RULES`) against everything
//! that is written down elsewhere: the settings, `policy-metadata.yml`,
//! `questions-ui.yml`, `artifacthub-pkg.yml`, the docs' pages and the
//! README's rules table. Each test names the file that is out of step.
//!
//! `UPDATE_RULES_TABLE=1 cargo test --test registry` rewrites the README's
//! table from the registry.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

use selector_guard::rules::{KINDS, Kind, Operation, Place, RULES, Rule, RuleMode};
use selector_guard::settings::Settings;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(file: &str) -> String {
    std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn yaml(file: &str) -> Value {
    serde_yaml_ng::from_str(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Every settings key: the rules' IDs and their options, and the settings
/// of no rule.
fn settings_keys() -> BTreeSet<String> {
    RULES
        .iter()
        .flat_map(|rule| std::iter::once(rule.id).chain(rule.options.iter().copied()))
        .chain(selector_guard::settings::GENERAL.iter().copied())
        .map(str::to_string)
        .collect()
}

/// IDs are unique, and no option is also a rule's ID (options such as
/// `workloadKinds` may belong to several rules).
#[test]
fn rule_ids_and_options_are_unique() {
    let mut ids = BTreeSet::new();
    for rule in RULES {
        assert!(
            ids.insert(rule.id),
            "src/rules: {} is declared twice",
            rule.id
        );
    }
    for rule in RULES {
        for option in rule.options {
            assert!(
                !ids.contains(option),
                "src/rules: {option} is a rule ID and an option of {}",
                rule.id
            );
        }
    }
}

#[test]
fn every_kind_has_a_row_of_the_kinds_table() {
    for rule in RULES {
        for kind in rule.kinds {
            let rows = KINDS.iter().filter(|k| k.kind == *kind).count();
            assert!(rows >= 1, "{}: {kind:?} has no row in KINDS", rule.id);
            assert_eq!(
                Kind::from_gvk(kind.row().group, kind.row().version, kind.row().name),
                Some(*kind)
            );
        }
    }
}

/// The settings' keys are exactly the registry's, and each rule's default
/// (at admission) is the settings' default.
#[test]
fn settings_follow_the_registry() {
    let defaults = serde_json::to_value(Settings::default()).expect("serializes");
    let keys: BTreeSet<String> = defaults
        .as_object()
        .expect("a map")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        settings_keys(),
        "src/settings.rs: the settings keys differ from RULES' IDs and options"
    );
    for rule in RULES {
        assert_eq!(
            defaults[rule.id],
            json!(rule.default.admission.as_str()),
            "src/settings.rs: {}'s default is not the registry's",
            rule.id
        );
        assert!(
            rule.modes.contains(&rule.default.admission) && rule.modes.contains(&rule.default.ci),
            "{}: a default is not one of its modes",
            rule.id
        );
    }
}

/// Each rule's settings key takes exactly its declared modes.
#[test]
fn settings_take_exactly_the_declared_modes() {
    for rule in RULES {
        for mode in [
            RuleMode::Reject,
            RuleMode::Warn,
            RuleMode::Mutate,
            RuleMode::Off,
        ] {
            let settings = json!({ rule.id: mode.as_str() }).to_string();
            let parsed = Settings::from_json(settings.as_bytes());
            assert_eq!(
                parsed.is_ok(),
                rule.modes.contains(&mode),
                "src/settings.rs: {settings}: {parsed:?}"
            );
            if let Err(message) = parsed {
                assert!(
                    message.contains(rule.id),
                    "the refusal names the key: {message}"
                );
            }
        }
    }
}

/// `(group, version, resource, operation)` registered at admission, as
/// the registry derives them: every kind a rule judges, for the operations
/// it judges, but those it declares unregistered.
fn derived_webhook_rules() -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in RULES {
        for kind in rule.kinds {
            for operation in rule.operations {
                if rule.unregistered.contains(&(*kind, *operation)) {
                    continue;
                }
                let gvk = kind.row();
                out.insert((
                    gvk.group.to_string(),
                    gvk.version.to_string(),
                    gvk.plural.to_string(),
                    operation.as_str().to_string(),
                ));
            }
        }
    }
    // A kind another rule registers for an operation stays registered.
    out
}

fn expand_webhook_rules(rules: &Value, file: &str) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules
        .as_array()
        .unwrap_or_else(|| panic!("{file}: rules is a list"))
    {
        let list = |key: &str| -> Vec<String> {
            rule[key]
                .as_array()
                .unwrap_or_else(|| panic!("{file}: rules[].{key} is a list"))
                .iter()
                .map(|v| v.as_str().expect("a string").to_string())
                .collect()
        };
        for group in list("apiGroups") {
            for version in list("apiVersions") {
                for resource in list("resources") {
                    for operation in list("operations") {
                        out.insert((group.clone(), version.clone(), resource.clone(), operation));
                    }
                }
            }
        }
    }
    out
}

fn derived_context_aware_resources() -> BTreeSet<(String, String)> {
    RULES
        .iter()
        .flat_map(|rule| rule.cluster_reads.iter())
        .map(|r: &Kind| (r.api_version().to_string(), r.name().to_string()))
        .collect()
}

fn listed_resources(list: &Value, file: &str) -> BTreeSet<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("{file}: contextAwareResources is a list"))
        .iter()
        .map(|r| {
            (
                r["apiVersion"].as_str().expect("apiVersion").to_string(),
                r["kind"].as_str().expect("kind").to_string(),
            )
        })
        .collect()
}

#[test]
fn policy_metadata_follows_the_registry() {
    let file = "policy-metadata.yml";
    let metadata = yaml(file);
    assert_eq!(
        expand_webhook_rules(&metadata["rules"], file),
        derived_webhook_rules(),
        "{file}: rules differ from what RULES judge"
    );
    assert_eq!(
        listed_resources(&metadata["contextAwareResources"], file),
        derived_context_aware_resources(),
        "{file}: contextAwareResources differ from what RULES read"
    );
    assert_eq!(
        metadata["mutating"],
        json!(RULES.iter().any(|r| r.modes.contains(&RuleMode::Mutate))),
        "{file}: mutating"
    );
}

/// Each question of `questions-ui.yml` (and the copy in
/// `artifacthub-pkg.yml`) is a settings key, every settings key has one, and
/// a rule's question offers its modes with its default.
fn check_questions(questions: &Value, file: &str) {
    let questions = questions["questions"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: questions is a list"));
    let by_key: BTreeMap<String, &Value> = questions
        .iter()
        .map(|q| (q["variable"].as_str().expect("variable").to_string(), q))
        .collect();
    let keys: BTreeSet<String> = by_key.keys().cloned().collect();
    assert_eq!(
        keys,
        settings_keys(),
        "{file}: questions differ from the settings keys"
    );
    for rule in RULES {
        let question = by_key[rule.id];
        let options: Vec<&str> = question["options"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: {} has options", rule.id))
            .iter()
            .map(|o| o.as_str().expect("a string"))
            .collect();
        let mut declared: Vec<&str> = rule.modes.iter().map(|m| m.as_str()).collect();
        let mut offered = options.clone();
        declared.sort_unstable();
        offered.sort_unstable();
        assert_eq!(offered, declared, "{file}: {}'s options", rule.id);
        assert_eq!(
            question["default"],
            json!(rule.default.admission.as_str()),
            "{file}: {}'s default",
            rule.id
        );
    }
}

#[test]
fn questions_follow_the_registry() {
    check_questions(&yaml("questions-ui.yml"), "questions-ui.yml");
}

#[test]
fn artifacthub_package_follows_the_registry() {
    let file = "artifacthub-pkg.yml";
    let package = yaml(file);
    let annotations = &package["annotations"];
    let embedded = |key: &str| -> Value {
        let text = annotations[key]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: annotations[{key}] is text"));
        serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{file}: {key}: {e}"))
    };
    assert_eq!(
        expand_webhook_rules(&embedded("kubewarden/rules"), file),
        derived_webhook_rules(),
        "{file}: kubewarden/rules differ from what RULES judge"
    );
    assert_eq!(
        listed_resources(&embedded("kubewarden/contextAwareResources"), file),
        derived_context_aware_resources(),
        "{file}: kubewarden/contextAwareResources differ from what RULES read"
    );
    check_questions(&embedded("kubewarden/questions-ui"), file);
}

fn list<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    items.iter().map(show).collect::<Vec<_>>().join(", ")
}

fn operations(rule: &Rule) -> String {
    list(rule.operations, |o: &Operation| o.as_str().to_string())
}

/// The README's rules table, as the registry has it.
fn rules_table() -> String {
    let mut table = String::from(
        "| Rule | What it catches | Kinds (operations) | Modes | Default at admission | Default in CI | Reads from the cluster | Fires at |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for rule in RULES {
        let kinds = list(rule.kinds, |k: &Kind| k.name().to_string());
        let reads = if rule.cluster_reads.is_empty() {
            "nothing".to_string()
        } else {
            list(rule.cluster_reads, |r: &Kind| format!("{}s", r.name()))
        };
        table.push_str(&format!(
            "| [`{id}`](docs/rules/{id}.md) | {summary} | {kinds} ({ops}) | {modes} | `{admission}` | `{ci}` | {reads} | {fires} |\n",
            id = rule.id,
            summary = rule.summary,
            ops = operations(rule),
            modes = list(rule.modes, |m: &RuleMode| format!("`{}`", m.as_str())),
            admission = rule.default.admission.as_str(),
            ci = rule.default.ci.as_str(),
            fires = list(rule.fires, |p: &Place| p.as_str().to_string()),
        ));
    }
    table
}

#[test]
fn readme_rules_table_follows_the_registry() {
    const BEGIN: &str = "<!-- rules-table:begin -->\n";
    const END: &str = "<!-- rules-table:end -->";
    let file = "README.md";
    let readme = read(file);
    let start = readme
        .find(BEGIN)
        .unwrap_or_else(|| panic!("{file}: no {BEGIN:?} marker"))
        + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .unwrap_or_else(|| panic!("{file}: no {END:?} marker"))
        + start;
    let expected = rules_table();
    if std::env::var_os("UPDATE_RULES_TABLE").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(root().join(file), updated).expect("README.md is writable");
        return;
    }
    assert_eq!(
        &readme[start..end],
        expected,
        "{file}: the rules table differs from RULES (UPDATE_RULES_TABLE=1 cargo test --test registry rewrites it)"
    );
}

/// Every rule has its page, and every page a rule.
#[test]
fn every_rule_has_a_doc_page() {
    let dir = root().join("docs/rules");
    let pages: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("docs/rules: {e}"))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect();
    let expected: BTreeSet<String> = RULES.iter().map(|r| format!("{}.md", r.id)).collect();
    assert_eq!(pages, expected, "docs/rules: one page per rule ID");
    for rule in RULES {
        let page = read(&format!("docs/rules/{}.md", rule.id));
        for mode in rule.modes {
            assert!(
                page.contains(mode.as_str()),
                "docs/rules/{}.md does not name the mode {}",
                rule.id,
                mode.as_str()
            );
        }
        for option in rule.options {
            assert!(
                page.contains(option),
                "docs/rules/{}.md does not name its option {option}",
                rule.id
            );
        }
    }
}

/// Every rule fires somewhere; a rule that fires only in CI reads the
/// folder, never the cluster, and is registered for nothing at admission.
#[test]
fn rules_that_read_the_cluster_say_where_they_fire() {
    for rule in RULES {
        assert!(!rule.fires.is_empty(), "{}: fires nowhere", rule.id);
        if rule.fires == [Place::Ci] {
            assert!(
                rule.cluster_reads.is_empty(),
                "{}: fires only in CI, where the folder is the cluster, yet reads the cluster",
                rule.id
            );
            for kind in rule.kinds {
                for operation in rule.operations {
                    assert!(
                        rule.unregistered.contains(&(*kind, *operation)),
                        "{}: fires only in CI but registers {kind:?} {operation:?} at admission",
                        rule.id
                    );
                }
            }
        }
    }
}
