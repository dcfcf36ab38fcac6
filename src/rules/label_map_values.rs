//! Non-string values in the API's `map[string]string` fields: what YAML 1.1
//! makes of unquoted `yes`, `on`, `42` or `81111e1`.
//!
//! One check serves two rules: Rule 3 (`serviceSelectorValues`, a Service's
//! or ReplicationController's `spec.selector`) and `labelMapValues` (every
//! other captured map: `metadata.labels` and `metadata.annotations`, the pod
//! template's, a CronJob's job template's, `nodeSelector` and
//! `spec.selector.matchLabels`). The places are the [`Shape::Captured`]
//! parts of each kind's shape ([`super::shape`]).
//!
//! In `mutate` mode a non-string scalar becomes the string sigs.k8s.io/yaml
//! would have made of it, as an edit of the object's text, so that the
//! patch touches nothing but `/<path>/<key>`. Values that can never be
//! label or annotation values (maps, lists, bad label syntax) and bad keys
//! reject in every mode but `off`. Label syntax is apimachinery's
//! `ValidateLabels`; annotation keys are qualified names compared in lower
//! case and values any string, as `ValidateAnnotations` has them.
//!
//! [`Shape::Captured`]: crate::object::Shape::Captured

use super::{
    CONVERT_MODES, CREATE_AND_UPDATE, Defaults, EVERYWHERE, Kind, Operation, Rule, RuleMode,
};
use crate::findings::{Action, FieldError, Finding, Findings, Shown};
use crate::labels::{
    MapValues, describe, entry_path, expected_map, json_quoted, label_string, map_key_errors,
    map_value_errors, must_be_strings, not_a_string, shown_as_string, yaml_trap,
};
use crate::object::{Captured, Edits, Object, type_name_of, value_of};

use crate::settings::{MutateMode, Settings};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// At most this many per-value warnings for one map; the rest are summed up
/// in one, since clients may drop warnings past a few kilobytes in total.
pub const MAX_VALUE_WARNINGS: usize = 10;

/// `labelMapValues` on every captured map of `object` but a selector that
/// belongs to Rule 3, in document order.
/// `details`: build the findings past the cap too (for the CLI, which
/// shows each at its value); the admission response only sums them up.
pub fn check(object: &Object, settings: &Settings, details: bool) -> Findings {
    let mut findings = Findings::default();
    let mode = settings.label_map_values;
    if mode == MutateMode::Off {
        return findings;
    }
    for (capture, found) in &object.captured {
        if capture.values != MapValues::Selector {
            findings.merge(check_map(
                found,
                capture.path,
                capture.values,
                mode,
                details,
            ));
        }
    }
    findings
}

/// A map value, read from its text.
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
    Read::Other(value_of(raw).ok())
}

/// Checks the map `found` at `path` in `mode`, entry by entry, without
/// building it; a key given twice counts once, with its last value, as in
/// any JSON map. Messages follow key order. Conversions are edits of the
/// values' text (a slice of the request's payload). `null` is an empty map;
/// another type than a map is malformed and rejects.
pub fn check_map(
    found: &Captured,
    path: &str,
    values: MapValues,
    mode: MutateMode,
    details: bool,
) -> Findings {
    let mut findings = Findings::default();
    let entries = match found {
        _ if mode == MutateMode::Off => return findings,
        Captured::Null => return findings,
        Captured::Other(type_name) => {
            let err = FieldError::malformed_as(path, expected_map(values), type_name);
            findings.violations.push(err.into());
            return findings;
        }
        Captured::Map(entries) => entries,
    };

    // Nearly every entry is a valid key with a valid string: only the others
    // are kept, read, for the messages below.
    let mut notable: Vec<(usize, Read)> = Vec::new();
    for (i, (key, value)) in entries.iter().enumerate() {
        let plain_key = map_key_errors(values, key).is_empty() && key != "true" && key != "false";
        // Any string is an annotation value: one (a last-applied
        // configuration, say) is not even unescaped.
        if plain_key && values == MapValues::Annotations && value.get().starts_with('"') {
            continue;
        }
        let read = read(value);
        let plain = plain_key
            && matches!(&read, Read::Text(text) if map_value_errors(values, text).is_empty());
        if !plain {
            notable.push((i, read));
        }
    }
    if notable.is_empty() {
        return findings;
    }
    keep_last_occurrences(entries, &mut notable);

    let mut edits = Edits::default();
    let mut conversions = 0;
    for (i, read) in notable {
        let Some((key, raw_value)) = entries.get(i) else {
            continue;
        };
        let key = key.as_ref();
        // Built only for a message: most entries have none.
        let entry = || entry_path(path, key);
        for detail in map_key_errors(values, key) {
            let error = FieldError::invalid(path, json_quoted(key), detail);
            findings
                .violations
                .push(Finding::reject(entry(), error.to_string()));
        }
        if key == "true" || key == "false" {
            let entry = entry();
            let message = format!(
                "{entry}: the key \"{key}\" is probably an unquoted on, yes, off or no that YAML 1.1 read as a boolean; it is kept, as the original is unknowable: quote the key in the manifest"
            );
            findings.warn(entry, message);
        }
        let value = match read {
            Read::Text(text) => {
                for detail in map_value_errors(values, &text) {
                    findings
                        .violations
                        .push(FieldError::invalid(entry(), json_quoted(&text), detail).into());
                }
                continue;
            }
            Read::Other(Some(value)) => value,
            Read::Other(None) => {
                let detail = not_a_string(values, type_name_of(raw_value));
                findings
                    .violations
                    .push(FieldError::invalid(entry(), raw_value.get(), detail).into());
                continue;
            }
        };
        let Some(text) = label_string(&value) else {
            let detail = not_a_string(values, crate::findings::type_name(&value));
            findings
                .violations
                .push(FieldError::invalid(entry(), &value, detail).into());
            continue;
        };
        let syntax = map_value_errors(values, &text);
        for detail in &syntax {
            findings.violations.push(
                FieldError::invalid(entry(), shown_as_string(&value, &text), detail.as_str())
                    .into(),
            );
        }
        if !syntax.is_empty() {
            continue;
        }
        conversions += 1;
        if mode == MutateMode::Mutate {
            edits.push(raw_value.get(), json_quoted(&text));
        }
        // Past the cap, a conversion is shown by the CLI only (at its
        // value); the admission response sums them up below.
        let shown = if conversions > MAX_VALUE_WARNINGS && mode != MutateMode::Reject {
            if !details {
                continue;
            }
            Shown::Detail
        } else {
            Shown::Everywhere
        };
        let entry = entry();
        let as_string = json_quoted(&text);
        let finding = match mode {
            MutateMode::Mutate => Finding {
                fix: Some(as_string.clone()),
                ..Finding::at(
                    entry.as_str(),
                    Action::Mutate,
                    [
                        entry.as_str(),
                        ": ",
                        &describe(&value),
                        " became the string ",
                        &as_string,
                        "; ",
                        &yaml_trap(key, &value, &text),
                    ]
                    .concat(),
                )
            },
            MutateMode::Reject | MutateMode::Warn => {
                let error = FieldError::invalid(
                    entry.as_str(),
                    &value,
                    must_be_strings(values, key, &value, &text),
                );
                let action = if mode == MutateMode::Reject {
                    Action::Reject
                } else {
                    Action::Warn
                };
                Finding {
                    fix: Some(as_string),
                    ..Finding::at(entry, action, error.to_string())
                }
            }
            MutateMode::Off => continue,
        };
        findings.push(Finding { shown, ..finding });
    }
    if conversions > MAX_VALUE_WARNINGS && mode != MutateMode::Reject {
        let verb = if mode == MutateMode::Mutate {
            "were made strings"
        } else {
            "are not strings"
        };
        let what = match values {
            MapValues::Selector => "selector value",
            MapValues::Labels => "label value",
            MapValues::Annotations => "annotation value",
        };
        let summary = format!(
            "{} more non-string values in {path} {verb}; quote every {what} in the manifest",
            conversions - MAX_VALUE_WARNINGS
        );
        let action = if mode == MutateMode::Mutate {
            Action::Mutate
        } else {
            Action::Warn
        };
        findings.warnings.push(Finding {
            shown: Shown::Summary,
            ..Finding::at(path, action, summary)
        });
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
    crate::order::sort_by(notable, |(a, _), (b, _)| {
        key_at(*a).cmp(key_at(*b)).then(a.cmp(b))
    });
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

/// `labelMapValues`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "labelMapValues",
    summary: "label, annotation, nodeSelector and matchLabels values that YAML 1.1 made booleans or numbers, made strings again",
    kinds: &[
        Kind::DaemonSet,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::ReplicationController,
        Kind::Job,
        Kind::CronJob,
        Kind::Service,
        Kind::Pod,
    ],
    operations: &CREATE_AND_UPDATE,
    // Pods are checked shift-left, in their controllers' templates: a
    // registration for every Pod CREATE would put policy-server in the path
    // of every pod the cluster starts. Bare pods are judged on UPDATE, and
    // in full by `kwctl run` and CI.
    unregistered: &[(Kind::Pod, Operation::Create)],
    modes: &CONVERT_MODES,
    default: Defaults {
        admission: RuleMode::Mutate,
        ci: RuleMode::Mutate,
    },
    options: &[],
    reads: &[
        "metadata.labels",
        "metadata.annotations",
        "the pod template's (and a CronJob's job template's) labels and annotations",
        "nodeSelector",
        "spec.selector.matchLabels",
    ],
    cluster_reads: &[],
    reads_old_object: false,
    fires: &EVERYWHERE,
    enabled: |settings, _| settings.label_map_values != MutateMode::Off,
    check: |cx| check(cx.object, cx.settings, cx.details),
    custom: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Kind, shape};

    fn run(kind: Kind, text: &str, mode: MutateMode) -> (Findings, Option<String>) {
        let object = Object::decode(text, shape(kind)).expect("JSON");
        let settings = Settings {
            label_map_values: mode,
            ..Settings::default()
        };
        let findings = check(&object, &settings, true);
        let edited = findings
            .mutated
            .as_ref()
            .map(|edits| edits.apply(text).expect("edits fit the text"));
        (findings, edited)
    }

    const DEPLOYMENT: Kind = Kind::Deployment;

    #[test]
    fn every_map_of_a_workload_is_edited_in_place() {
        let text = r#"{"metadata": {"name": "a", "labels": {"on": true}, "annotations": {"n": 1.50}},
            "spec": {"selector": {"matchLabels": {"x": 0x0}}, "replicas": 1,
                     "template": {"metadata": {"labels": {"x": 7}, "annotations": {"s": null}},
                                  "spec": {"nodeSelector": {"gpu": false}, "other": [true]}}}}"#;
        // `0x0` is not JSON: the text must be JSON to be decoded.
        assert!(Object::decode(text, shape(DEPLOYMENT)).is_err());
        let text = text.replace("0x0", "7");
        let (findings, edited) = run(DEPLOYMENT, &text, MutateMode::Mutate);
        assert!(findings.violations.is_empty(), "{findings:?}");
        assert_eq!(
            edited.as_deref(),
            Some(
                r#"{"metadata": {"name": "a", "labels": {"on": "true"}, "annotations": {"n": "1.5"}},
            "spec": {"selector": {"matchLabels": {"x": "7"}}, "replicas": 1,
                     "template": {"metadata": {"labels": {"x": "7"}, "annotations": {"s": ""}},
                                  "spec": {"nodeSelector": {"gpu": "false"}, "other": [true]}}}}"#
            )
        );
        let paths: Vec<&str> = findings
            .warnings
            .iter()
            .map(|w| w.message.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            paths,
            [
                "metadata.labels[on]",
                "metadata.annotations[n]",
                "spec.selector.matchLabels[x]",
                "spec.template.metadata.labels[x]",
                "spec.template.metadata.annotations[s]",
                "spec.template.spec.nodeSelector[gpu]",
            ]
        );
    }

    #[test]
    fn annotations_take_any_string_and_qualified_keys_in_any_case() {
        let text = r#"{"metadata": {"annotations": {"Example.COM/Owner": "a b: c", "note": "",
            "owner team": "x", "/empty": "y", "big": 1e400}}}"#;
        let (findings, edited) = run(Kind::Service, text, MutateMode::Mutate);
        assert_eq!(edited, None);
        assert_eq!(findings.violations.len(), 3, "{findings:?}");
        assert!(
            findings.violations.iter().any(|v| v.message.starts_with(
                r#"metadata.annotations[big]: Invalid value: 1e400: an annotation value must be a string, not a number"#
            )),
            "{findings:?}"
        );
        assert!(
            findings.violations.iter().any(|v| v
                .message
                .starts_with(r#"metadata.annotations: Invalid value: "owner team": name part"#)),
            "{findings:?}"
        );
        // Labels keep the case-sensitive prefix check.
        let (findings, _) = run(
            Kind::Service,
            r#"{"metadata": {"labels": {"Example.COM/Owner": "a"}}}"#,
            MutateMode::Mutate,
        );
        assert!(
            findings.violations[0]
                .message
                .contains("prefix part a lowercase RFC 1123 subdomain"),
            "{findings:?}"
        );
    }

    #[test]
    fn malformed_maps_and_modes() {
        let (findings, _) = run(
            Kind::Pod,
            r#"{"metadata": {"annotations": ["a"]}, "spec": {"nodeSelector": "x"}}"#,
            MutateMode::Mutate,
        );
        assert_eq!(
            findings.violation_messages(),
            [
                "metadata.annotations must be a map of annotation keys to string values, not a list",
                "spec.nodeSelector must be a map of label keys to string values, not a string",
            ]
        );
        let text =
            r#"{"metadata": {"labels": {"a": true, "b": null}}, "spec": {"nodeSelector": null}}"#;
        let (reject, edited) = run(Kind::Pod, text, MutateMode::Reject);
        assert_eq!(edited, None);
        assert_eq!(
            reject.violation_messages(),
            [
                r#"metadata.labels[a]: Invalid value: true: label values must be strings; YAML 1.1 reads unquoted yes, on and y as true, and only quoting keeps the spelling meant: a: "yes" or a: "true""#,
                r#"metadata.labels[b]: Invalid value: null: label values must be strings; YAML reads unquoted ~, null or nothing as null; quote the value as meant: b: """#,
            ]
        );
        let (warn, edited) = run(Kind::Pod, text, MutateMode::Warn);
        assert_eq!(
            (warn.violations.len(), warn.warnings.len(), edited),
            (0, 2, None)
        );
        let (off, _) = run(Kind::Pod, text, MutateMode::Off);
        assert!(off.is_empty());
    }

    /// A Service's selector and a ReplicationController's belong to Rule 3.
    #[test]
    fn selectors_of_rule_3_are_left_to_it() {
        for kind in [Kind::Service, Kind::ReplicationController] {
            let (findings, _) = run(
                kind,
                r#"{"spec": {"selector": {"a": true}}}"#,
                MutateMode::Mutate,
            );
            assert!(findings.is_empty(), "{kind:?}: {findings:?}");
        }
    }
}
