//! Rule 3 (`serviceSelectorValues`): selector values of a Service (and of a
//! ReplicationController, also a plain map) that are not JSON strings, which
//! is what YAML 1.1 makes of unquoted `yes`, `on` or `42`.
//!
//! In `mutate` mode the object is returned with only those values rewritten
//! (as sigs.k8s.io/yaml would write them), edited in place so that the patch
//! touches nothing but `/spec/selector/<key>`. Values that can never be label
//! values (maps, lists, bad syntax) and bad keys reject in every mode. The
//! check itself is [`label_map_values::check_map`], which `labelMapValues`
//! runs on every other label-valued map.

use super::{CONVERT_MODES, CREATE_AND_UPDATE, Defaults, EVERYWHERE, Kind, Rule, RuleMode};
use super::{label_map_values, lookup};
use crate::findings::{FieldError, Findings};
use crate::object::{MapValues, Object};

use crate::settings::{MutateMode, Settings};
use serde_json::Value;

pub use label_map_values::MAX_VALUE_WARNINGS;

const SELECTOR: &str = "spec.selector";

/// Reads `object`'s selector (captured as text by the kind's shape) entry by
/// entry, without building a map; a key given twice counts once, with its
/// last value, as in any JSON map. Messages follow key order. Conversions
/// are edits of the values' text.
/// `details` as in [`label_map_values::check`].
pub fn check(object: &Object, settings: &Settings, details: bool) -> Findings {
    let mode = settings.service_selector_values;
    if mode == MutateMode::Off {
        return Findings::default();
    }
    match lookup(&object.value, &["spec"]) {
        Ok(Some(Value::Object(_))) => {}
        Ok(None) => return Findings::default(),
        Ok(Some(other)) => {
            let err = FieldError::malformed("spec", "a map", other);
            return Findings {
                violations: vec![err.into()],
                ..Findings::default()
            };
        }
        Err(err) => {
            return Findings {
                violations: vec![err.into()],
                ..Findings::default()
            };
        }
    }
    match object.captured_at(SELECTOR) {
        Some(raw) => label_map_values::check_map(raw, SELECTOR, MapValues::Selector, mode, details),
        None => Findings::default(),
    }
}

/// `serviceSelectorValues`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "serviceSelectorValues",
    summary: "Service and ReplicationController selector values that YAML 1.1 made booleans or numbers (active: yes), made strings again",
    kinds: &[Kind::Service, Kind::ReplicationController],
    operations: &CREATE_AND_UPDATE,
    unregistered: &[],
    modes: &CONVERT_MODES,
    default: Defaults {
        admission: RuleMode::Mutate,
        ci: RuleMode::Mutate,
    },
    options: &[],
    reads: &["spec.selector (the text of each value)"],
    cluster_reads: &[],
    reads_old_object: false,
    fires: &EVERYWHERE,
    enabled: |settings, _| settings.service_selector_values != MutateMode::Off,
    check: |cx| check(cx.object, cx.settings, cx.details),
    custom: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Kind, shape};
    use serde_json::json;

    /// [`Findings`] with the edits applied to the object's text.
    #[derive(Debug)]
    struct Checked {
        violations: Vec<String>,
        warnings: Vec<String>,
        mutated: Option<Value>,
        text: Option<String>,
    }

    impl Checked {
        fn is_empty(&self) -> bool {
            self.violations.is_empty() && self.warnings.is_empty() && self.mutated.is_none()
        }
    }

    fn check_text(text: &str, settings: &Settings) -> Checked {
        let object = Object::decode(text, shape(Kind::Service)).expect("JSON");
        let findings = super::check(&object, settings, true);
        let text = findings
            .mutated
            .as_ref()
            .map(|edits| edits.apply(text).expect("edits fit the text"));
        Checked {
            violations: findings
                .violation_messages()
                .into_iter()
                .map(String::from)
                .collect(),
            // As the admission response shows them: past the cap, only the
            // sum (the CLI shows each, see many_conversions_are_summed_up).
            warnings: findings
                .warnings
                .iter()
                .filter(|w| w.shown != crate::findings::Shown::Detail)
                .map(|w| w.message.clone())
                .collect(),
            mutated: text
                .as_deref()
                .map(|t| serde_json::from_str(t).expect("mutated text is JSON")),
            text,
        }
    }

    fn check(object: &Value, settings: &Settings) -> Checked {
        check_text(&object.to_string(), settings)
    }

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
        // The findings hold every conversion, each at its value, for the CLI.
        let text = object.to_string();
        let decoded = Object::decode(&text, shape(Kind::Service)).expect("JSON");
        let all = super::check(&decoded, &Settings::default(), true);
        let admission = super::check(&decoded, &Settings::default(), false);
        assert_eq!(admission.warnings.len(), MAX_VALUE_WARNINGS + 1);
        let conversions: Vec<&str> = all
            .warnings
            .iter()
            .filter(|w| w.shown != crate::findings::Shown::Summary)
            .map(|w| w.path())
            .collect();
        assert_eq!(conversions.len(), 25);
        assert_eq!(conversions[24], "spec.selector[k24]");
    }

    #[test]
    fn edits_touch_only_the_values() {
        let text = r#"{ "spec" : { "ports":[{"port":80.50}], "selector" : {"z":"a", "on" :true,"n": 1e2 } },
                        "metadata": {"name": "web"} }"#;
        let checked = check_text(text, &Settings::default());
        assert_eq!(
            checked.text.as_deref(),
            Some(
                r#"{ "spec" : { "ports":[{"port":80.50}], "selector" : {"z":"a", "on" :"true","n": "100" } },
                        "metadata": {"name": "web"} }"#
            )
        );
        // Key order, whatever the order in the object.
        assert!(
            checked.warnings[0].starts_with("spec.selector[n]"),
            "{checked:?}"
        );
        assert!(
            checked.warnings[1].starts_with("spec.selector[on]"),
            "{checked:?}"
        );
    }

    #[test]
    fn a_repeated_key_counts_with_its_last_value() {
        let checked = check_text(
            r#"{"spec": {"selector": {"a": true, "b": "-x", "a": "ok", "b": "y", "c": 1, "c": 2}}}"#,
            &Settings::default(),
        );
        assert!(checked.violations.is_empty(), "{checked:?}");
        assert_eq!(checked.warnings.len(), 1, "{checked:?}");
        assert!(checked.warnings[0].starts_with("spec.selector[c]: the number 2"));
        assert_eq!(
            checked.mutated,
            Some(json!({"spec": {"selector": {"a": "ok", "b": "y", "c": "2"}}}))
        );
        let repeated = vec![r#""k": true"#; 50_000].join(", ");
        let checked = check_text(
            &format!(r#"{{"spec": {{"selector": {{{repeated}, "k": 1}}}}}}"#),
            &Settings::default(),
        );
        assert_eq!(checked.warnings.len(), 1, "{:?}", checked.warnings);
        assert_eq!(
            checked.mutated,
            Some(json!({"spec": {"selector": {"k": "1"}}}))
        );
        let checked = check_text(
            r#"{"spec": {"selector": {"a": "ok", "a": false}}}"#,
            &Settings::default(),
        );
        assert_eq!(
            checked.mutated,
            Some(json!({"spec": {"selector": {"a": "false"}}}))
        );
    }

    #[test]
    fn escaped_keys_and_values_are_read_unescaped() {
        let checked = check_text(
            r#"{"spec": {"selector": {"\u0061pp": "w\u0065b", "t\u0069er": 4}}}"#,
            &Settings::default(),
        );
        assert!(checked.violations.is_empty(), "{checked:?}");
        assert_eq!(
            checked.mutated,
            Some(json!({"spec": {"selector": {"app": "web", "tier": "4"}}}))
        );
        let checked = check_text(
            r#"{"spec": {"selector": {"a": "b\"c"}}}"#,
            &Settings::default(),
        );
        assert!(
            checked.violations[0].starts_with(r#"spec.selector[a]: Invalid value: "b\"c": "#),
            "{checked:?}"
        );
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
