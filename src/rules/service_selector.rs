//! Rule 3 (`serviceSelectorValues`): selector values of a Service (and of a
//! ReplicationController, also a plain map) that are not JSON strings, which
//! is what YAML 1.1 makes of unquoted `yes`, `on` or `42`.
//!
//! In `mutate` mode the object is returned with only those values rewritten
//! (as sigs.k8s.io/yaml would write them), edited in place so that the patch
//! touches nothing but `/spec/selector/<key>`. Values that can never be label
//! values (maps, lists, bad syntax) and bad keys reject in every mode.

use super::lookup;
use crate::findings::{FieldError, Findings};
use crate::labels::{self, describe, entry_path, json_quoted, label_string, yaml_trap};
use crate::settings::{Mode, MutateMode, Settings};
use serde_json::Value;

const SELECTOR: &str = "spec.selector";

/// At most this many per-value warnings; the rest are summed up in one, since
/// clients may drop warnings past a few kilobytes in total.
pub const MAX_VALUE_WARNINGS: usize = 10;

pub fn check(object: &Value, settings: &Settings) -> Findings {
    let mut findings = Findings::default();
    let mode = settings.service_selector_values;
    if mode == MutateMode::Off {
        return findings;
    }
    let selector = match lookup(object, &["spec", "selector"]) {
        Ok(None) => return findings,
        Ok(Some(Value::Object(selector))) => selector,
        Ok(Some(other)) => {
            let err =
                FieldError::malformed(SELECTOR, "a map of label keys to string values", other);
            findings.violations.push(err.to_string());
            return findings;
        }
        Err(err) => {
            findings.violations.push(err.to_string());
            return findings;
        }
    };

    // (key, new string) for every value to rewrite, in key order.
    let mut conversions: Vec<(&str, String)> = Vec::new();
    for (key, value) in selector {
        // Built only for a message: most entries have none.
        let path = || entry_path(SELECTOR, key);
        for detail in labels::key_errors(key) {
            findings.violations.push(
                FieldError::invalid(SELECTOR, Value::String(key.clone()), detail).to_string(),
            );
        }
        if key == "true" || key == "false" {
            findings.warnings.push(format!(
                "{}: the key \"{key}\" is probably an unquoted on, yes, off or no that YAML 1.1 read as a boolean; it is kept, as the original is unknowable: quote the key in the manifest",
                path()
            ));
        }
        let Some(text) = label_string(value) else {
            findings.violations.push(
                FieldError::invalid(
                    path(),
                    value,
                    format!(
                        "a label value must be a string, not {}",
                        crate::findings::type_name(value)
                    ),
                )
                .to_string(),
            );
            continue;
        };
        let syntax = labels::value_errors(&text);
        let converted = !value.is_string();
        for detail in &syntax {
            let shown = if converted {
                format!("{value} (as a string {})", json_quoted(&text))
            } else {
                value.to_string()
            };
            findings
                .violations
                .push(FieldError::invalid(path(), shown, detail.as_str()).to_string());
        }
        if converted && syntax.is_empty() {
            conversions.push((key.as_str(), text.clone().into_owned()));
            if conversions.len() > MAX_VALUE_WARNINGS && mode != MutateMode::Reject {
                continue;
            }
            let path = path();
            let explanation = yaml_trap(key, value, &text);
            match mode {
                MutateMode::Mutate => findings.warnings.push(format!(
                    "{path}: {} became the string {}; {explanation}",
                    describe(value),
                    json_quoted(&text)
                )),
                MutateMode::Reject | MutateMode::Warn => {
                    let message = format!(
                        "{path}: Invalid value: {value}: label values must be strings; {explanation}"
                    );
                    let mode = if mode == MutateMode::Reject {
                        Mode::Reject
                    } else {
                        Mode::Warn
                    };
                    findings.report(mode, message);
                }
                MutateMode::Off => {}
            }
        }
    }
    if conversions.len() > MAX_VALUE_WARNINGS && mode != MutateMode::Reject {
        let verb = if mode == MutateMode::Mutate {
            "were made strings"
        } else {
            "are not strings"
        };
        findings.warnings.push(format!(
            "{} more non-string values in {SELECTOR} {verb}; quote every selector value in the manifest",
            conversions.len() - MAX_VALUE_WARNINGS
        ));
    }

    if mode == MutateMode::Mutate && !conversions.is_empty() {
        let mut mutated = object.clone();
        if let Some(Value::Object(selector)) = mutated.pointer_mut("/spec/selector") {
            for (key, text) in conversions {
                if let Some(slot) = selector.get_mut(key) {
                    *slot = Value::String(text);
                }
            }
            findings.mutated = Some(mutated);
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(selector: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": selector, "ports": [{"port": 80}], "futureField": {"x": 1}},
               "status": {"loadBalancer": {}}})
    }

    fn with_mode(mode: MutateMode) -> Settings {
        Settings {
            service_selector_values: mode,
            ..Settings::default()
        }
    }

    #[test]
    fn mutate_rewrites_only_non_string_values() {
        let object =
            service(json!({"app": "rng", "active": true, "tier": 42, "ratio": 1.5, "gone": null}));
        let findings = check(&object, &Settings::default());
        assert!(findings.violations.is_empty(), "{findings:?}");
        let mut expected = object.clone();
        expected["spec"]["selector"] =
            json!({"app": "rng", "active": "true", "tier": "42", "ratio": "1.5", "gone": ""});
        assert_eq!(findings.mutated, Some(expected));
        assert_eq!(findings.warnings.len(), 4);
        assert!(
            findings.warnings[0]
                .starts_with("spec.selector[active]: the boolean true became the string \"true\"")
        );
        assert!(findings.warnings[0].contains(r#"active: "yes""#));
        assert!(
            findings.warnings.iter().all(|w| w.len() < 230),
            "{:?}",
            findings.warnings
        );
    }

    #[test]
    fn nothing_to_change_means_no_mutation() {
        let findings = check(&service(json!({"app": "rng"})), &Settings::default());
        assert!(findings.is_empty(), "{findings:?}");
        for object in [
            json!({"spec": {}}),
            json!({"spec": {"selector": {}}}),
            json!({"spec": {"type": "ExternalName"}}),
        ] {
            assert!(check(&object, &Settings::default()).is_empty());
        }
    }

    #[test]
    fn reject_and_warn_modes_do_not_mutate() {
        let object = service(json!({"active": true}));
        let reject = check(&object, &with_mode(MutateMode::Reject));
        assert_eq!(reject.violations.len(), 1);
        assert!(reject.violations[0].starts_with(
            "spec.selector[active]: Invalid value: true: label values must be strings"
        ));
        assert!(reject.mutated.is_none());
        let warn = check(&object, &with_mode(MutateMode::Warn));
        assert!(warn.violations.is_empty() && warn.mutated.is_none());
        assert_eq!(warn.warnings.len(), 1);
        assert!(check(&object, &with_mode(MutateMode::Off)).is_empty());
    }

    #[test]
    fn impossible_values_reject_in_every_mode() {
        for mode in [MutateMode::Mutate, MutateMode::Reject, MutateMode::Warn] {
            for (selector, fragment) in [
                (
                    json!({"a": {"b": 1}}),
                    "spec.selector[a]: Invalid value: {\"b\":1}: a label value must be a string, not a map",
                ),
                (
                    json!({"a": [1]}),
                    "a label value must be a string, not a list",
                ),
                (
                    json!({"a": -1}),
                    "spec.selector[a]: Invalid value: -1 (as a string \"-1\"): a valid label must be",
                ),
                (
                    json!({"a": "x".repeat(64)}),
                    "must be no more than 63 characters",
                ),
                (
                    json!({"-a": "x"}),
                    "spec.selector: Invalid value: \"-a\": name part must consist",
                ),
            ] {
                let findings = check(&service(selector.clone()), &with_mode(mode));
                assert!(
                    findings.violations.iter().any(|v| v.contains(fragment)),
                    "{mode:?} {selector}: {findings:?}"
                );
                assert!(findings.mutated.is_none(), "{mode:?} {selector}");
            }
        }
    }

    #[test]
    fn mangled_key_warns_and_is_kept() {
        let findings = check(&service(json!({"true": true})), &Settings::default());
        assert_eq!(findings.warnings.len(), 2, "{findings:?}");
        assert!(findings.warnings[0].contains("probably an unquoted on"));
        let mutated = findings.mutated.expect("value converted");
        assert_eq!(mutated["spec"]["selector"], json!({"true": "true"}));
    }

    #[test]
    fn many_conversions_are_summed_up() {
        let selector: serde_json::Map<String, Value> =
            (0..25).map(|i| (format!("k{i:02}"), json!(i))).collect();
        let object = service(Value::Object(selector));
        let mutate = check(&object, &Settings::default());
        assert_eq!(mutate.warnings.len(), MAX_VALUE_WARNINGS + 1);
        assert!(
            mutate.warnings[MAX_VALUE_WARNINGS]
                .starts_with("15 more non-string values in spec.selector were made strings")
        );
        let mutated = mutate.mutated.expect("mutated");
        assert!(
            mutated["spec"]["selector"]
                .as_object()
                .expect("map")
                .values()
                .all(Value::is_string)
        );
        let reject = check(&object, &with_mode(MutateMode::Reject));
        assert_eq!(reject.violations.len(), 25);
    }

    #[test]
    fn malformed_selector() {
        let findings = check(
            &json!({"spec": {"selector": ["app"]}}),
            &Settings::default(),
        );
        assert_eq!(
            findings.violations,
            vec!["spec.selector must be a map of label keys to string values, not a list"]
        );
        let findings = check(&json!({"spec": "x"}), &Settings::default());
        assert_eq!(
            findings.violations,
            vec!["spec must be a map, not a string"]
        );
    }
}
