//! The committed publishing files agree with the policy and with each other:
//! `questions-ui.yml` asks exactly the policy's settings with the policy's
//! defaults and choices, `artifacthub-pkg.yml` is what `cargo xtask
//! artifacthub` derives from the metadata and the questions, and
//! `cargo xtask manifest` prints a ClusterAdmissionPolicy the policy accepts.
//! (Here rather than in the policy's tests: `artifacthub` and `manifest`
//! are xtask's.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use selector_guard::kinds::Kind;
use selector_guard::settings::{Mode, Settings, WarnMode};
use serde_json::{Value, json};
use xtask::cmd::{artifacthub, manifest};
use xtask::metadata::Metadata;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The policy's version (the root Cargo.toml's), which the manifest's
/// module tag carries.
fn policy_version() -> String {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).expect("read Cargo.toml");
    let manifest: toml::Table = toml::from_str(&text).expect("Cargo.toml parses");
    manifest["package"]["version"]
        .as_str()
        .expect("package.version")
        .to_string()
}

fn metadata() -> Metadata {
    Metadata::from_yaml_file(&root().join("policy-metadata.yml"))
        .expect("policy-metadata.yml is valid")
}

fn questions_text() -> String {
    std::fs::read_to_string(root().join("questions-ui.yml")).expect("read questions-ui.yml")
}

fn yaml_to_json(value: &serde_yaml_ng::Value) -> Value {
    serde_json::to_value(value).expect("YAML value converts to JSON")
}

/// The values the policy accepts for `variable`, read from the error the
/// policy gives for an unknown one (`expected one of `a`, `b``).
fn accepted_values(variable: &str, wrap_in_list: bool) -> BTreeSet<String> {
    let probe = if wrap_in_list {
        json!({ variable: ["-probe-"] })
    } else {
        json!({ variable: "-probe-" })
    };
    let err =
        Settings::from_json(probe.to_string().as_bytes()).expect_err("an unknown value is refused");
    let expected = err
        .split_once("expected")
        .unwrap_or_else(|| panic!("{variable}: no list of accepted values in {err:?}"))
        .1;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn questions_ask_exactly_the_settings_with_the_policys_defaults() {
    let questions = manifest::read_questions(&root().join("questions-ui.yml"))
        .expect("questions-ui.yml parses");
    let defaults = yaml_to_json(&serde_yaml_ng::Value::Mapping(
        manifest::default_settings(&questions).expect("defaults"),
    ));
    let policy_defaults = serde_json::to_value(Settings::default()).expect("Settings serialize");
    assert_eq!(
        defaults, policy_defaults,
        "questions-ui.yml variables and defaults must equal the policy's Settings::default()"
    );
    assert_eq!(
        Settings::from_json(defaults.to_string().as_bytes()),
        Ok(Settings::default()),
        "the policy reads the question defaults as its own defaults"
    );
}

#[test]
fn each_question_is_described_and_typed_like_its_setting() {
    let text = questions_text();
    let raw: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).expect("questions-ui.yml parses");
    let questions = manifest::read_questions(&root().join("questions-ui.yml")).expect("questions");
    for (question, raw) in questions
        .questions
        .iter()
        .zip(raw["questions"].as_sequence().expect("a list"))
    {
        let variable = &question.variable;
        for field in ["label", "description", "group"] {
            let value = raw[field].as_str().unwrap_or_default();
            assert!(!value.trim().is_empty(), "{variable}: `{field}` is missing");
        }
        let default = yaml_to_json(&question.default);
        match question.kind.as_deref() {
            Some("enum") => {
                let options: BTreeSet<String> = question
                    .options
                    .iter()
                    .map(|o| {
                        o.as_str()
                            .unwrap_or_else(|| panic!("{variable}: option {o:?} is not a string"))
                            .to_string()
                    })
                    .collect();
                assert_eq!(
                    options,
                    accepted_values(variable, false),
                    "{variable}: options"
                );
                assert!(
                    default.as_str().is_some_and(|d| options.contains(d)),
                    "{variable}: default {default}"
                );
            }
            Some("boolean") => assert!(default.is_boolean(), "{variable}: default {default}"),
            // A list of {apiVersion, kind}: the policy's default, as written.
            Some("array[") if variable == "workloadKinds" => assert_eq!(
                default,
                serde_json::to_value(Settings::default().workload_kinds).expect("JSON"),
                "{variable}: default"
            ),
            Some("array[")
                if Settings::from_json(json!({ variable: ["-probe-"] }).to_string().as_bytes())
                    .is_ok() =>
            {
                // A list of free strings (label keys): any string is accepted.
                assert!(
                    default
                        .as_array()
                        .is_some_and(|items| items.iter().all(Value::is_string)),
                    "{variable}: default {default}"
                );
            }
            Some("array[") => {
                let accepted = accepted_values(variable, true);
                let items = default
                    .as_array()
                    .unwrap_or_else(|| panic!("{variable}: default {default}"));
                for item in items {
                    assert!(
                        accepted.contains(item.as_str().unwrap_or_default()),
                        "{variable}: {item}"
                    );
                }
                let description = raw["description"].as_str().unwrap_or_default();
                for value in &accepted {
                    assert!(
                        description.contains(value.as_str()),
                        "{variable}: description omits {value}"
                    );
                }
            }
            other => panic!("{variable}: unexpected question type {other:?}"),
        }
    }
    // Options such as `off` are quoted: YAML 1.1 readers would see a boolean.
    for line in text.lines() {
        let item = line
            .trim_start()
            .trim_start_matches("- ")
            .trim_start_matches("default: ");
        assert!(
            !["off", "on", "yes", "no", "y", "n"].contains(&item),
            "questions-ui.yml: unquoted YAML 1.1 boolean in {line:?}"
        );
    }
}

#[test]
fn artifacthub_pkg_is_what_the_metadata_and_questions_produce() {
    let path = root().join("artifacthub-pkg.yml");
    if let Err(err) = artifacthub::check(&path, &metadata(), Some(&questions_text())) {
        panic!("{err:#}");
    }
}

#[test]
fn artifacthub_pkg_install_text_is_kwctl_1_36s() {
    #[derive(serde::Deserialize)]
    struct Install {
        install: String,
    }
    let text = std::fs::read_to_string(root().join("artifacthub-pkg.yml")).expect("readable");
    let package: Install = serde_yaml_ng::from_str(&text).expect("has install");
    let image = format!(
        "ghcr.io/selector-guard/policies/selector-guard:v{}",
        policy_version()
    );
    assert!(
        package.install.starts_with(
            "The policy can be obtained using [kwctl](https://docs.kubewarden.io/howtos/install-kwctl):\n"
        ),
        "{}",
        package.install
    );
    assert!(
        package.install.contains(&format!("\nkwctl pull {image}\n")),
        "{}",
        package.install
    );
}

#[test]
fn a_stale_artifacthub_pkg_is_detected() {
    let mut changed = metadata();
    changed.set_annotation(xtask::metadata::keys::DESCRIPTION, "something else".into());
    let err = artifacthub::check(
        &root().join("artifacthub-pkg.yml"),
        &changed,
        Some(&questions_text()),
    )
    .expect_err("a changed description makes the package stale");
    assert!(format!("{err}").contains("is stale"), "{err}");
    let err = artifacthub::check(&root().join("artifacthub-pkg.yml"), &metadata(), None)
        .expect_err("dropping the questions makes the package stale");
    assert!(format!("{err}").contains("is stale"), "{err}");
}

#[test]
fn versions_agree_across_cargo_metadata_and_package() {
    artifacthub::check_versions(
        &root().join("Cargo.toml"),
        &root().join("policy-metadata.yml"),
        &root().join("artifacthub-pkg.yml"),
    )
    .unwrap_or_else(|err| panic!("{err:#}"));
    let mismatched =
        std::env::temp_dir().join(format!("sg-artifacthub-{}.yml", std::process::id()));
    std::fs::write(&mismatched, "version: 9.9.9\n").expect("write");
    let err = artifacthub::check_versions(
        &root().join("Cargo.toml"),
        &root().join("policy-metadata.yml"),
        Path::new(&mismatched),
    )
    .expect_err("9.9.9 disagrees");
    let _ = std::fs::remove_file(&mismatched);
    assert!(format!("{err}").contains("versions disagree"), "{err}");
}

#[test]
fn the_manifest_installs_the_published_module_with_default_settings() {
    let metadata = metadata();
    let settings = manifest::manifest_settings(
        manifest::default_settings_file(&root().join("questions-ui.yml")).expect("defaults"),
    );
    let text = manifest::render(&metadata, settings).expect("renders");
    // Read it back as kubectl does (YAML 1.1).
    let policy = xtask::yaml11::from_str(&text)
        .expect("valid YAML")
        .remove(0);
    assert_eq!(policy["apiVersion"], "policies.kubewarden.io/v1");
    assert_eq!(policy["kind"], "ClusterAdmissionPolicy");
    assert_eq!(policy["metadata"]["name"], "selector-guard");
    assert_eq!(
        policy["spec"]["module"],
        format!(
            "registry://ghcr.io/selector-guard/policies/selector-guard:v{}",
            policy_version()
        )
    );
    assert_eq!(policy["spec"]["mutating"], true);
    assert_eq!(policy["spec"]["backgroundAudit"], true);
    assert_eq!(policy["spec"]["mode"], "protect");
    // The metadata's rules, then the default custom workload (Argo
    // Rollouts), which templateLabels checks.
    let mut rules = serde_json::to_value(&metadata.rules).expect("rules");
    rules
        .as_array_mut()
        .expect("a list")
        .push(serde_json::json!({
            "apiGroups": ["argoproj.io"],
            "apiVersions": ["v1alpha1"],
            "resources": ["rollouts"],
            "operations": ["CREATE", "UPDATE"],
        }));
    assert_eq!(policy["spec"]["rules"], rules);
    // The policy's defaults, with the context-aware rules on at `warn`,
    // together with the grants they need.
    assert_eq!(
        Settings::from_json(policy["spec"]["settings"].to_string().as_bytes()),
        Ok(Settings {
            service_selector_change: Mode::Warn,
            disruption_budgets: Mode::Warn,
            controller_overlap: Mode::Warn,
            pod_label_change: WarnMode::Warn,
            ..Settings::default()
        })
    );
    let mut granted: Vec<(String, String)> = policy["spec"]["contextAwareResources"]
        .as_array()
        .expect("contextAwareResources")
        .iter()
        .map(|r| {
            (
                r["apiVersion"].as_str().expect("apiVersion").to_string(),
                r["kind"].as_str().expect("kind").to_string(),
            )
        })
        .collect();
    granted.sort();
    // Every kind the policy reads, and no other.
    let mut read: Vec<(String, String)> = Kind::with(|r| r.read)
        .map(|r| (r.api_version().to_string(), r.name().to_string()))
        .collect();
    read.sort();
    assert_eq!(granted, read);
}

/// `examples/cluster-admission-policy.yaml` is exactly what `cargo xtask
/// manifest` prints (xtask/tests/match_conditions.rs runs its match
/// conditions against the case table).
#[test]
fn the_example_is_what_cargo_xtask_manifest_prints() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(root())
        .arg("manifest")
        .output()
        .expect("xtask runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).expect("UTF-8");
    let path = root().join("examples/cluster-admission-policy.yaml");
    let example = std::fs::read_to_string(&path).expect("read the example");
    if example != printed {
        let line = example
            .lines()
            .zip(printed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| example.lines().count().min(printed.lines().count()));
        panic!(
            "{} is stale from line {}: run `cargo xtask manifest > examples/cluster-admission-policy.yaml`\n  file:    {:?}\n  printed: {:?}",
            path.display(),
            line + 1,
            example.lines().nth(line),
            printed.lines().nth(line)
        );
    }
}
