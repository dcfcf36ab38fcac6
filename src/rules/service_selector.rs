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
use crate::object::{Edits, Entries, Object, type_name_of};
use crate::settings::{Mode, MutateMode, Settings};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

const SELECTOR: &str = "spec.selector";

/// At most this many per-value warnings; the rest are summed up in one, since
/// clients may drop warnings past a few kilobytes in total.
pub const MAX_VALUE_WARNINGS: usize = 10;

/// A selector value, read from its text.
enum Read<'a> {
    /// A JSON string, borrowed when it holds no escapes.
    Text(Cow<'a, str>),
    /// Anything else, built (`None` only past the nesting limit).
    Other(Option<Value>),
}

fn read(raw: &RawValue) -> Read<'_> {
    let text = raw.get();
    if text.starts_with('"') {
        let inner = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
        if !inner.contains('\\') {
            return Read::Text(Cow::Borrowed(inner));
        }
        if let Ok(unescaped) = serde_json::from_str::<String>(text) {
            return Read::Text(Cow::Owned(unescaped));
        }
    }
    Read::Other(serde_json::from_str(text).ok())
}

/// Reads `object`'s selector (captured as text by the kind's shape) entry by
/// entry, without building a map; a key given twice counts once, with its
/// last value, as in any JSON map. Messages follow key order. Conversions
/// are edits of the values' text.
pub fn check(object: &Object, settings: &Settings) -> Findings {
    let mut findings = Findings::default();
    let mode = settings.service_selector_values;
    if mode == MutateMode::Off {
        return findings;
    }
    let spec = match lookup(&object.value, &["spec"]) {
        Ok(Some(Value::Object(spec))) => spec,
        Ok(None) => return findings,
        Ok(Some(other)) => {
            let err = FieldError::malformed("spec", "a map", other);
            findings.violations.push(err.to_string());
            return findings;
        }
        Err(err) => {
            findings.violations.push(err.to_string());
            return findings;
        }
    };
    let Some(raw) = object.captured.filter(|_| spec.contains_key("selector")) else {
        return findings;
    };
    if raw.get() == "null" {
        return findings;
    }
    let Ok(Entries(entries)) = serde_json::from_str::<Entries>(raw.get()) else {
        let err = FieldError::malformed_as(
            SELECTOR,
            "a map of label keys to string values",
            type_name_of(raw),
        );
        findings.violations.push(err.to_string());
        return findings;
    };

    // Nearly every entry is a valid key with a valid string: only the others
    // are kept, read, for the messages below.
    let mut notable: Vec<(usize, Read)> = Vec::new();
    for (i, (key, value)) in entries.iter().enumerate() {
        let read = read(value);
        let plain = labels::key_errors(key).is_empty()
            && key != "true"
            && key != "false"
            && matches!(&read, Read::Text(text) if labels::value_errors(text).is_empty());
        if !plain {
            notable.push((i, read));
        }
    }
    if notable.is_empty() {
        return findings;
    }
    keep_last_occurrences(&entries, &mut notable);

    let mut edits = Edits::default();
    let mut conversions = 0;
    for (i, read) in notable {
        let Some((key, raw_value)) = entries.get(i) else {
            continue;
        };
        let key = key.as_ref();
        // Built only for a message: most entries have none.
        let path = || entry_path(SELECTOR, key);
        for detail in labels::key_errors(key) {
            findings
                .violations
                .push(FieldError::invalid(SELECTOR, json_quoted(key), detail).to_string());
        }
        if key == "true" || key == "false" {
            findings.warnings.push(format!(
                "{}: the key \"{key}\" is probably an unquoted on, yes, off or no that YAML 1.1 read as a boolean; it is kept, as the original is unknowable: quote the key in the manifest",
                path()
            ));
        }
        let value = match read {
            Read::Text(text) => {
                for detail in labels::value_errors(&text) {
                    findings
                        .violations
                        .push(FieldError::invalid(path(), json_quoted(&text), detail).to_string());
                }
                continue;
            }
            Read::Other(Some(value)) => value,
            Read::Other(None) => {
                let shown = raw_value.get();
                let detail = format!(
                    "a label value must be a string, not {}",
                    type_name_of(raw_value)
                );
                findings
                    .violations
                    .push(FieldError::invalid(path(), shown, detail).to_string());
                continue;
            }
        };
        let Some(text) = label_string(&value) else {
            findings.violations.push(
                FieldError::invalid(
                    path(),
                    &value,
                    format!(
                        "a label value must be a string, not {}",
                        crate::findings::type_name(&value)
                    ),
                )
                .to_string(),
            );
            continue;
        };
        let syntax = labels::value_errors(&text);
        for detail in &syntax {
            let shown = format!("{value} (as a string {})", json_quoted(&text));
            findings
                .violations
                .push(FieldError::invalid(path(), shown, detail.as_str()).to_string());
        }
        if !syntax.is_empty() {
            continue;
        }
        conversions += 1;
        if mode == MutateMode::Mutate
            && let Some(span) = object.span_of(raw_value.get())
        {
            edits.push(span, json_quoted(&text));
        }
        if conversions > MAX_VALUE_WARNINGS && mode != MutateMode::Reject {
            continue;
        }
        let path = path();
        let explanation = yaml_trap(key, &value, &text);
        match mode {
            MutateMode::Mutate => findings.warnings.push(
                [
                    path.as_str(),
                    ": ",
                    &describe(&value),
                    " became the string ",
                    &json_quoted(&text),
                    "; ",
                    &explanation,
                ]
                .concat(),
            ),
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
    if conversions > MAX_VALUE_WARNINGS && mode != MutateMode::Reject {
        let verb = if mode == MutateMode::Mutate {
            "were made strings"
        } else {
            "are not strings"
        };
        findings.warnings.push(format!(
            "{} more non-string values in {SELECTOR} {verb}; quote every selector value in the manifest",
            conversions - MAX_VALUE_WARNINGS
        ));
    }
    if !edits.is_empty() {
        findings.mutated = Some(edits);
    }
    findings
}

/// Sorts the notable entries by key (messages follow key order, whatever the
/// order in the object) and drops those whose key occurs again later: a JSON
/// map keeps a repeated key's last value. O(n log m) for n entries, m notable.
fn keep_last_occurrences(entries: &[(Cow<str>, &RawValue)], notable: &mut Vec<(usize, Read)>) {
    let key_at = |i: usize| entries.get(i).map_or("", |(key, _)| key.as_ref());
    notable.sort_unstable_by(|(a, _), (b, _)| key_at(*a).cmp(key_at(*b)).then(a.cmp(b)));
    // Of each key's notable entries, only the last can be the key's value...
    notable.dedup_by(|later, earlier| {
        let same = key_at(later.0) == key_at(earlier.0);
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
    // ...and only if no later entry, notable or not, repeats the key.
    let mut shadowed = vec![false; notable.len()];
    for (j, (key, _)) in entries.iter().enumerate() {
        let found = notable.binary_search_by(|(i, _)| key_at(*i).cmp(key.as_ref()));
        if let Ok(at) = found
            && notable.get(at).is_some_and(|(i, _)| *i < j)
            && let Some(flag) = shadowed.get_mut(at)
        {
            *flag = true;
        }
    }
    let mut flags = shadowed.into_iter();
    notable.retain(|_| !flags.next().unwrap_or(false));
}

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
        let findings = super::check(&object, settings);
        let text = findings
            .mutated
            .map(|edits| edits.apply(text).expect("edits fit the text"));
        Checked {
            violations: findings.violations,
            warnings: findings.warnings,
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
