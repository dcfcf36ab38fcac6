//! `immutableSelector`: a workload selector cannot change after creation.
//!
//! `spec.selector` of apps/v1 DaemonSets, Deployments, ReplicaSets and
//! StatefulSets, and of Jobs, is immutable: the API server refuses an UPDATE
//! that changes it (`field is immutable`), after mutating admission, so a
//! mutating registration can say why first. It compares old and new with
//! semantic deep equality (apimachinery `equality.Semantic.DeepEqual`): `matchLabels` is a map, so key
//! order does not count, but `matchExpressions` and each `values` list are
//! ordered, so reordering them is a change.
//!
//! On CREATE and UPDATE it also warns about selector keys whose values change
//! on every release (`volatileSelectorLabels`: `app.kubernetes.io/version`,
//! `helm.sh/chart`): a chart that selects on them installs, then fails on
//! every upgrade.

use super::{CHECK_MODES, CREATE_AND_UPDATE, Defaults, EVERYWHERE, Kind, Rule, RuleMode};
use crate::findings::{FieldError, Finding, Findings};
use crate::labels::label_string;
use crate::selector;
use crate::settings::{Mode, MutateMode, Settings};
use serde_json::{Map, Value};
use std::borrow::Cow;

const SELECTOR: &str = "spec.selector";

/// Whether `kind`'s selector is immutable (a ReplicationController's and a
/// CronJob's are not: the first may change, the second has none).
pub fn applies_to(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::DaemonSet | Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet | Kind::Job
    )
}

/// The findings for `object` (and, on UPDATE, `old`, the object before).
pub fn check(kind: Kind, object: &Value, old: Option<&Value>, settings: &Settings) -> Findings {
    let mut findings = Findings::default();
    let mode = settings.immutable_selector;
    if mode == Mode::Off || !applies_to(kind) {
        return findings;
    }
    // Under `labelMapValues: mutate`, `matchLabels` values are compared as
    // the strings the policy makes of them: `v: 1` against a stored "1" is
    // no change once converted.
    let converts = settings.label_map_values == MutateMode::Mutate;
    let selector_of = |object: &Value| -> Value {
        object
            .get("spec")
            .and_then(|spec| spec.get("selector"))
            .map(|selector| match converts {
                true => normalized(&as_strings(selector)),
                false => normalized(selector),
            })
            .unwrap_or(Value::Null)
    };
    let new = selector_of(object);
    let manual = object
        .get("spec")
        .and_then(|spec| spec.get("manualSelector"))
        == Some(&Value::Bool(true));
    if kind != Kind::Job || manual {
        findings.warnings.extend(volatile_keys(&new, settings));
    }
    let Some(old) = old.map(selector_of) else {
        return findings;
    };
    if old == new {
        return findings;
    }
    let error = FieldError::invalid(SELECTOR, &new, "field is immutable");
    let name = object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("NAME");
    let kind_name = kind.name();
    findings.report(
        mode,
        SELECTOR,
        format!(
            "{error}: the API server refuses this update ({}); keep the old selector {} (the template's labels may change, the selector may not), or delete the {kind_name} with `kubectl delete {} {name} --cascade=orphan`, which keeps its pods running, and create it again with the new selector",
            differences(&old, &new),
            kubectl_form(&old),
            kind_name.to_ascii_lowercase(),
        ),
    );
    findings
}

/// `selector` with its `matchLabels` values as `labelMapValues: mutate`
/// makes them: non-string scalars become their strings (null becomes "").
fn as_strings(selector: &Value) -> Cow<'_, Value> {
    let converted = |labels: &Map<String, Value>| labels.values().all(Value::is_string);
    match selector.get("matchLabels").and_then(Value::as_object) {
        Some(labels) if !converted(labels) => {
            let mut copy = selector.clone();
            if let Some(Value::Object(labels)) = copy.get_mut("matchLabels") {
                for value in labels.values_mut() {
                    if let Some(text) = label_string(value).map(Cow::into_owned) {
                        *value = Value::String(text);
                    }
                }
            }
            Cow::Owned(copy)
        }
        _ => Cow::Borrowed(selector),
    }
}

/// The selector as the API server compares it: `null`, empty maps and empty
/// lists stand for absent fields (semantic equality treats nil and empty
/// alike), everything else as it is.
fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            // Extended, not collected: collecting a map sorts (crate::order).
            let mut kept = Map::new();
            kept.extend(
                map.iter()
                    .map(|(k, v)| (k.clone(), normalized(v)))
                    .filter(|(_, v)| !is_empty(v)),
            );
            if kept.is_empty() {
                Value::Null
            } else {
                Value::Object(kept)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn kubectl_form(selector: &Value) -> String {
    if selector.is_null() {
        return "(none)".to_string();
    }
    let form = selector::parse(Some(selector), SELECTOR).0.kubectl();
    if form.is_empty() {
        "{}".to_string()
    } else {
        form
    }
}

/// What changed between two selectors, requirement by requirement.
fn differences(old: &Value, new: &Value) -> String {
    let mut parts = Vec::new();
    let labels = |selector: &Value| {
        selector
            .get("matchLabels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (old_labels, new_labels) = (labels(old), labels(new));
    let mut keys = std::collections::BTreeSet::new();
    keys.extend(old_labels.keys().chain(new_labels.keys()));
    for key in keys {
        match (old_labels.get(key), new_labels.get(key)) {
            (Some(was), None) => parts.push(format!("matchLabels[{key}] removed (was {was})")),
            (None, Some(now)) => parts.push(format!("matchLabels[{key}]: {now} added")),
            (Some(was), Some(now)) if was != now => {
                parts.push(format!("matchLabels[{key}] changed from {was} to {now}"))
            }
            _ => {}
        }
    }
    let expressions = |selector: &Value| {
        selector
            .get("matchExpressions")
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (old_expressions, new_expressions) = (expressions(old), expressions(new));
    if old_expressions != new_expressions {
        let sorted = |value: &Value| -> Vec<Value> {
            let mut items: Vec<Value> = value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|item| {
                            let mut item = item.clone();
                            if let Some(Value::Array(values)) = item.get_mut("values") {
                                crate::order::sort_by_key(values, Value::to_string);
                            }
                            item
                        })
                        .collect()
                })
                .unwrap_or_default();
            crate::order::sort_by_key(&mut items, Value::to_string);
            items
        };
        if sorted(&old_expressions) == sorted(&new_expressions) {
            parts.push(
                "only the order of matchExpressions or of their values changed, and the API server compares them as ordered lists".to_string(),
            );
        } else {
            parts.push(format!(
                "matchExpressions changed from {old_expressions} to {new_expressions}"
            ));
        }
    }
    if parts.is_empty() {
        parts.push(format!("the selector changed from {old} to {new}"));
    }
    parts.join("; ")
}

/// One warning per selector key listed in `volatileSelectorLabels`.
fn volatile_keys(selector: &Value, settings: &Settings) -> Vec<Finding> {
    let mut warnings = Vec::new();
    let volatile = |key: &str| settings.volatile_selector_labels.iter().any(|v| v == key);
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for key in labels.keys().filter(|k| volatile(k)) {
            warnings.push(volatile_warning(
                &format!("{SELECTOR}.matchLabels[{key}]"),
                key,
            ));
        }
    }
    if let Some(expressions) = selector.get("matchExpressions").and_then(Value::as_array) {
        for (i, expression) in expressions.iter().enumerate() {
            if let Some(key) = expression
                .get("key")
                .and_then(Value::as_str)
                .filter(|k| volatile(k))
            {
                warnings.push(volatile_warning(
                    &format!("{SELECTOR}.matchExpressions[{i}].key"),
                    key,
                ));
            }
        }
    }
    warnings
}

fn volatile_warning(path: &str, key: &str) -> Finding {
    Finding::warn(
        path,
        format!(
            "{path}: the selector uses {key}, whose value changes with every release, and a selector cannot change once created: the next upgrade that changes {key} is refused (field is immutable); select on labels that stay, such as app.kubernetes.io/name and app.kubernetes.io/instance, and keep {key} in the template labels only"
        ),
    )
}

/// `immutableSelector`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "immutableSelector",
    summary: "a workload UPDATE that changes its immutable spec.selector, and selectors on labels whose values change with every release",
    kinds: &[
        Kind::DaemonSet,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::Job,
    ],
    operations: &CREATE_AND_UPDATE,
    unregistered: &[],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Reject,
        ci: RuleMode::Reject,
    },
    options: &["volatileSelectorLabels"],
    reads: &[
        "spec.selector",
        "spec.manualSelector (Job)",
        "oldObject.spec.selector",
    ],
    cluster_reads: &[],
    reads_old_object: true,
    fires: &EVERYWHERE,
    enabled: |settings, kind| settings.immutable_selector != Mode::Off && applies_to(kind),
    check: |cx| {
        let old = cx.request.old.map(|old| &old.value);
        check(cx.kind, &cx.object.value, old, cx.settings)
    },
    custom: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(selector: Value) -> Value {
        json!({"metadata": {"name": "checker"}, "spec": {"selector": selector}})
    }

    #[test]
    fn a_changed_selector_is_refused_with_the_ways_out() {
        let old = deployment(
            json!({"matchLabels": {"app.kubernetes.io/name": "checker", "app.kubernetes.io/version": "v0.3.1"}}),
        );
        let new = deployment(
            json!({"matchLabels": {"app.kubernetes.io/name": "checker", "app.kubernetes.io/version": "v0.3.2"}}),
        );
        let settings = Settings {
            volatile_selector_labels: vec![],
            ..Settings::default()
        };
        let findings = check(Kind::Deployment, &new, Some(&old), &settings);
        assert_eq!(findings.violations.len(), 1, "{findings:?}");
        let message = &findings.violations[0].message;
        assert!(message.starts_with("spec.selector: Invalid value: {\"matchLabels\":{\"app.kubernetes.io/name\":\"checker\",\"app.kubernetes.io/version\":\"v0.3.2\"}}: field is immutable: the API server refuses this update (matchLabels[app.kubernetes.io/version] changed from \"v0.3.1\" to \"v0.3.2\")"), "{message}");
        assert!(message.contains(
            "keep the old selector app.kubernetes.io/name=checker,app.kubernetes.io/version=v0.3.1"
        ));
        assert!(message.contains("kubectl delete deployment checker --cascade=orphan"));
    }

    /// Under `labelMapValues: mutate` a non-string value is compared as the
    /// string the policy makes of it; otherwise as it is.
    #[test]
    fn converted_match_labels_compare_as_strings() {
        let old = deployment(json!({"matchLabels": {"app": "a", "v": "1", "n": ""}}));
        let new = deployment(json!({"matchLabels": {"app": "a", "v": 1, "n": null}}));
        let findings = check(Kind::Deployment, &new, Some(&old), &Settings::default());
        assert!(findings.is_empty(), "{findings:?}");
        let settings = Settings {
            label_map_values: MutateMode::Off,
            ..Settings::default()
        };
        let findings = check(Kind::Deployment, &new, Some(&old), &settings);
        assert_eq!(findings.violations.len(), 1, "{findings:?}");
        assert!(
            findings.violations[0]
                .message
                .contains("matchLabels[v] changed from \"1\" to 1"),
            "{findings:?}"
        );
        // A real change is still one.
        let changed = deployment(json!({"matchLabels": {"app": "a", "v": 2, "n": null}}));
        let findings = check(Kind::Deployment, &changed, Some(&old), &Settings::default());
        assert_eq!(findings.violations.len(), 1, "{findings:?}");
    }

    #[test]
    fn semantic_equality_as_the_api_server_compares() {
        let settings = Settings::default();
        let same = [
            (
                json!({"matchLabels": {"a": "1", "b": "2"}}),
                json!({"matchLabels": {"b": "2", "a": "1"}}),
            ),
            (
                json!({"matchLabels": {"a": "1"}, "matchExpressions": []}),
                json!({"matchLabels": {"a": "1"}}),
            ),
            (
                json!({"matchLabels": {"a": "1"}, "matchExpressions": null}),
                json!({"matchLabels": {"a": "1"}}),
            ),
        ];
        for (old, new) in same {
            assert!(
                check(
                    Kind::Deployment,
                    &deployment(new),
                    Some(&deployment(old)),
                    &settings
                )
                .is_empty()
            );
        }
        let e = |values: Value| json!({"matchExpressions": [{"key": "t", "operator": "In", "values": values}]});
        let reordered = check(
            Kind::Deployment,
            &deployment(e(json!(["b", "a"]))),
            Some(&deployment(e(json!(["a", "b"])))),
            &settings,
        );
        assert_eq!(reordered.violations.len(), 1);
        assert!(
            reordered.violations[0]
                .message
                .contains("only the order of matchExpressions or of their values changed")
        );
        let changed = check(
            Kind::StatefulSet,
            &deployment(e(json!(["c"]))),
            Some(&deployment(e(json!(["a"])))),
            &settings,
        );
        assert!(
            changed.violations[0]
                .message
                .contains("matchExpressions changed from")
        );
        // Not immutable, or not checked.
        assert!(
            check(
                Kind::ReplicationController,
                &deployment(e(json!(["c"]))),
                Some(&deployment(e(json!(["a"])))),
                &settings
            )
            .is_empty()
        );
        let off = Settings {
            immutable_selector: Mode::Off,
            ..Settings::default()
        };
        assert!(
            check(
                Kind::Deployment,
                &deployment(e(json!(["c"]))),
                Some(&deployment(e(json!(["a"])))),
                &off
            )
            .is_empty()
        );
    }

    #[test]
    fn volatile_keys_warn_on_create_and_update() {
        let selector = json!({"matchLabels": {"app": "x", "helm.sh/chart": "x-1.0"},
                              "matchExpressions": [{"key": "app.kubernetes.io/version", "operator": "Exists"}]});
        let findings = check(
            Kind::Deployment,
            &deployment(selector.clone()),
            None,
            &Settings::default(),
        );
        assert!(findings.violations.is_empty());
        assert_eq!(findings.warnings.len(), 2);
        assert!(findings.warnings[0].message.starts_with(
            "spec.selector.matchLabels[helm.sh/chart]: the selector uses helm.sh/chart"
        ));
        assert!(findings.warnings[1].message.starts_with(
            "spec.selector.matchExpressions[0].key: the selector uses app.kubernetes.io/version"
        ));
        // In warn mode too; off silences it.
        let warn = Settings {
            immutable_selector: Mode::Warn,
            ..Settings::default()
        };
        assert_eq!(
            check(Kind::Deployment, &deployment(selector.clone()), None, &warn)
                .warnings
                .len(),
            2
        );
        let off = Settings {
            immutable_selector: Mode::Off,
            ..Settings::default()
        };
        assert!(check(Kind::Deployment, &deployment(selector.clone()), None, &off).is_empty());
        // A Job's generated selector is none of the user's business.
        assert!(check(Kind::Job, &deployment(selector), None, &Settings::default()).is_empty());
    }
}
