//! Rule 2 (`templateLabels`): a workload's pod template labels must satisfy
//! its selector, as the API server's validation demands. Registered as a
//! mutating webhook, this runs before built-in validation, so its message is
//! the one users read.

use super::lookup;
use crate::findings::{FieldError, Findings, report_field_errors};
use crate::labels::{json_quoted, quoted_entry};
use crate::selector::{self, Labels, Operator, Requirement, Selector};
use crate::settings::{Settings, WorkloadKind};
use serde_json::Value;

const TEMPLATE_LABELS: &str = "spec.template.metadata.labels";
const SELECTOR: &str = "spec.selector";

pub fn check(kind: WorkloadKind, workload: &Value, settings: &Settings) -> Findings {
    let mut findings = Findings::default();
    if !settings.checks_template_labels_of(kind) {
        return findings;
    }
    let mode = settings.template_labels;
    let spec = match lookup(workload, &["spec"]) {
        Ok(Some(spec)) if !spec.is_object() => {
            return malformed(FieldError::malformed("spec", "a map", spec));
        }
        Ok(spec) => spec,
        Err(err) => return malformed(err),
    };
    if kind == WorkloadKind::Job
        && spec.and_then(|s| s.get("manualSelector")) != Some(&Value::Bool(true))
    {
        // Without manualSelector the API server generates the selector.
        return findings;
    }
    let template_labels = match lookup(workload, &["spec", "template", "metadata", "labels"]) {
        Ok(labels) => labels,
        Err(err) => return malformed(err),
    };
    let selector_value = match lookup(workload, &["spec", "selector"]) {
        Ok(selector) => selector,
        Err(err) => return malformed(err),
    };
    let (labels, errors) = selector::parse_labels(template_labels, TEMPLATE_LABELS);
    report_field_errors(&mut findings, mode, errors);

    let selector = if kind == WorkloadKind::ReplicationController {
        // A plain map; empty or absent defaults to the template labels. Its
        // values belong to the serviceSelectorValues rule, which reports them.
        match selector_value {
            Some(Value::Object(map)) if !map.is_empty() => {
                let (map_labels, _) = selector::parse_labels(selector_value, SELECTOR);
                Selector::from_labels(&map_labels)
            }
            _ => return findings,
        }
    } else {
        let Some(selector_value) = selector_value else {
            let detail = if kind == WorkloadKind::Job {
                "`selector` must be specified when `manualSelector` is true"
            } else {
                ""
            };
            findings.report(mode, FieldError::required(SELECTOR, detail).to_string());
            return findings;
        };
        let (selector, errors) = selector::parse(Some(selector_value), SELECTOR);
        let had_errors = !errors.is_empty();
        report_field_errors(&mut findings, mode, errors);
        if kind != WorkloadKind::Job && is_empty_selector(selector_value) {
            findings.report(
                mode,
                FieldError::invalid(
                    SELECTOR,
                    selector_value,
                    format!("empty selector is invalid for {}", kind_lowercase(kind)),
                )
                .to_string(),
            );
            return findings;
        }
        if had_errors && selector.is_empty() {
            return findings;
        }
        selector
    };

    let failures: Vec<String> = selector
        .unsatisfied(&labels)
        .map(|r| explain(r, &labels))
        .collect();
    if !failures.is_empty() {
        findings.report(
            mode,
            format!(
                "`selector` does not match template `labels`: {}",
                failures.join("; ")
            ),
        );
    }
    findings
}

fn malformed(err: FieldError) -> Findings {
    Findings {
        violations: vec![err.to_string()],
        ..Findings::default()
    }
}

/// `{}` as Kubernetes sees it: no matchLabels and no matchExpressions.
fn is_empty_selector(selector: &Value) -> bool {
    let count = |key: &str| match selector.get(key) {
        Some(Value::Object(map)) => map.len(),
        Some(Value::Array(list)) => list.len(),
        _ => 0,
    };
    selector.is_object() && count("matchLabels") + count("matchExpressions") == 0
}

fn kind_lowercase(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::DaemonSet => "daemonset",
        WorkloadKind::Deployment => "deployment",
        WorkloadKind::ReplicaSet => "replicaset",
        WorkloadKind::StatefulSet => "statefulset",
        WorkloadKind::ReplicationController => "replicationcontroller",
        WorkloadKind::Job => "job",
    }
}

/// One failing requirement: its path, what the template has, and the fix.
fn explain(requirement: &Requirement<'_>, labels: &Labels<'_>) -> String {
    let key = requirement.key;
    let current = labels.get(key);
    let has = match current {
        Some(value) => format!("template label {key}={value}"),
        None => format!("the template, which has no {key} label"),
    };
    let quoted_values = || {
        requirement
            .values
            .iter()
            .map(|v| json_quoted(v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let first = requirement.values.first().map(|v| v.as_ref()).unwrap_or("");
    let fix = match (
        requirement.operator,
        current.is_some(),
        requirement.values.len(),
    ) {
        (Operator::In, false, 1) => {
            format!("add {} to {TEMPLATE_LABELS}", quoted_entry(key, first))
        }
        (Operator::In, true, 1) => format!("set {} in {TEMPLATE_LABELS}", quoted_entry(key, first)),
        (Operator::In, false, _) => format!(
            "add {key} with one of {} to {TEMPLATE_LABELS}, e.g. {}",
            quoted_values(),
            quoted_entry(key, first)
        ),
        (Operator::In, true, _) => format!(
            "set {key} to one of {} in {TEMPLATE_LABELS}, e.g. {}",
            quoted_values(),
            quoted_entry(key, first)
        ),
        (Operator::NotIn, _, _) => {
            format!(
                "change {key} in {TEMPLATE_LABELS} to a value other than {}, or remove it",
                quoted_values()
            )
        }
        (Operator::Exists, _, _) => format!("add a {key} label to {TEMPLATE_LABELS}"),
        (Operator::DoesNotExist, _, _) => format!("remove {key} from {TEMPLATE_LABELS}"),
    };
    format!(
        "{}: {requirement} is not satisfied by {has}; {fix}",
        requirement.path(SELECTOR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Mode;
    use serde_json::json;

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"spec": {"selector": selector, "template": {"metadata": {"labels": labels}}}})
    }

    fn run(kind: WorkloadKind, object: Value) -> Findings {
        check(kind, &object, &Settings::default())
    }

    #[test]
    fn matching_templates_pass() {
        let object = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web", "x": "y"}),
        );
        assert!(run(WorkloadKind::Deployment, object).is_empty());
    }

    #[test]
    fn expression_failure_names_path_template_value_and_fix() {
        let object = deployment(
            json!({"matchExpressions": [{"key": "release", "operator": "In", "values": ["production", "preproduction"]}]}),
            json!({"release": "staging"}),
        );
        let findings = run(WorkloadKind::Deployment, object);
        assert_eq!(findings.violations.len(), 1);
        let message = &findings.violations[0];
        assert!(
            message.starts_with("`selector` does not match template `labels`: "),
            "{message}"
        );
        assert!(message.contains("spec.selector.matchExpressions[0]: release In [production, preproduction] is not satisfied by template label release=staging"), "{message}");
        assert!(
            message.contains(r#"e.g. release: "production""#),
            "{message}"
        );
    }

    #[test]
    fn missing_label_fix_quotes_the_value() {
        let object = deployment(json!({"matchLabels": {"active": "yes"}}), json!({}));
        let findings = run(WorkloadKind::DaemonSet, object);
        assert!(
            findings.violations[0]
                .contains(r#"add active: "yes" to spec.template.metadata.labels"#),
            "{findings:?}"
        );
    }

    #[test]
    fn nil_and_empty_selectors() {
        let nil = run(
            WorkloadKind::StatefulSet,
            json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}),
        );
        assert_eq!(nil.violations, vec!["spec.selector: Required value"]);
        let empty = run(
            WorkloadKind::DaemonSet,
            deployment(json!({}), json!({"a": "b"})),
        );
        assert_eq!(
            empty.violations,
            vec!["spec.selector: Invalid value: {}: empty selector is invalid for daemonset"]
        );
    }

    #[test]
    fn jobs_only_with_manual_selector() {
        let job = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {}}}}});
        assert!(run(WorkloadKind::Job, job.clone()).is_empty());
        let mut manual = job;
        manual["spec"]["manualSelector"] = json!(true);
        assert_eq!(run(WorkloadKind::Job, manual).violations.len(), 1);
    }

    #[test]
    fn replication_controller_selector_defaults_to_template() {
        let rc = json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}});
        assert!(run(WorkloadKind::ReplicationController, rc).is_empty());
        let rc = json!({"spec": {"selector": {"a": "c"}, "template": {"metadata": {"labels": {"a": "b"}}}}});
        let findings = run(WorkloadKind::ReplicationController, rc);
        assert!(
            findings.violations[0]
                .contains("spec.selector[a]: a=c is not satisfied by template label a=b"),
            "{findings:?}"
        );
    }

    #[test]
    fn malformed_parts_reject_even_in_warn_mode() {
        let settings = Settings {
            template_labels: Mode::Warn,
            ..Settings::default()
        };
        let object = deployment(json!([]), json!({}));
        let findings = check(WorkloadKind::Deployment, &object, &settings);
        assert_eq!(
            findings.violations,
            vec!["spec.selector must be a label selector map, not a list"]
        );
        let object = json!({"spec": {"template": {"metadata": "x"}}});
        let findings = check(WorkloadKind::Deployment, &object, &settings);
        assert_eq!(
            findings.violations,
            vec!["spec.template.metadata must be a map, not a string"]
        );
    }

    #[test]
    fn a_job_whose_spec_is_not_a_map_is_malformed() {
        let findings = run(WorkloadKind::Job, json!({"spec": "manualSelector: true"}));
        assert_eq!(
            findings.violations,
            vec!["spec must be a map, not a string"]
        );
    }

    #[test]
    fn kinds_setting_limits_the_rule() {
        let settings = Settings {
            template_labels_kinds: vec![WorkloadKind::Job],
            ..Settings::default()
        };
        let object = deployment(json!({"matchLabels": {"a": "b"}}), json!({}));
        assert!(check(WorkloadKind::Deployment, &object, &settings).is_empty());
    }
}
