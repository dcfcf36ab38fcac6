//! Rule 2 (`templateLabels`): a workload's pod template labels must satisfy
//! its selector, as the API server's validation demands. Registered as a
//! mutating webhook, this runs before built-in validation, so its message is
//! the one users read.

use super::lookup;
use super::{
    CHECK_MODES, CREATE_AND_UPDATE, Defaults, EVERYWHERE, Kind, Rule, RuleMode, WORKLOAD_KINDS,
};
use crate::findings::{ErrorKind, FieldError, Findings, report_field_errors};
use crate::labels::{json_quoted, quoted_entry};
use crate::selector::{self, Labels, NonStrings, Operator, Requirement, Selector};
use crate::settings::{Mode, MutateMode, Settings};
use serde_json::Value;

const TEMPLATE_LABELS: &str = "spec.template.metadata.labels";
const SELECTOR: &str = "spec.selector";

/// The template labels of `workload` against its selector; for Jobs
/// without `manualSelector` and CronJobs, a selector the API server would
/// generate and refuses to be given. `operation` is `CREATE` or `UPDATE`.
pub fn check(kind: Kind, workload: &Value, operation: &str, settings: &Settings) -> Findings {
    if !settings.checks_template_labels_of(kind) {
        return Findings::default();
    }
    if kind == Kind::CronJob {
        return generated_selector(
            workload,
            &["spec", "jobTemplate", "spec"],
            "spec.jobTemplate.spec",
            true,
            settings,
        );
    }
    let spec = match lookup(workload, &["spec"]) {
        Ok(Some(spec)) if !spec.is_object() => {
            return malformed(FieldError::malformed("spec", "a map", spec));
        }
        Ok(spec) => spec,
        Err(err) => return malformed(err),
    };
    if kind == Kind::Job && spec.and_then(|s| s.get("manualSelector")) != Some(&Value::Bool(true)) {
        // Without manualSelector the API server generates the selector
        // (after mutating admission) and refuses one given on CREATE; an
        // UPDATE carries the one it generated.
        if operation == "CREATE" {
            return generated_selector(workload, &["spec"], "spec", false, settings);
        }
        return Findings::default();
    }
    against_template(Some(kind), kind.name(), workload, settings)
}

/// A custom workload of `workloadKinds` (`name` is its kind): owned pods
/// come from `spec.template` and are found by `spec.selector`, as for a
/// Deployment. One without a template (an Argo Rollout that points at a
/// Deployment's through `spec.workloadRef`) has nothing to match.
pub fn check_custom(name: &str, workload: &Value, settings: &Settings) -> Findings {
    if settings.template_labels == Mode::Off {
        return Findings::default();
    }
    match lookup(workload, &["spec", "template"]) {
        Ok(Some(_)) => against_template(None, name, workload, settings),
        Ok(None) => Findings::default(),
        Err(err) => malformed(err),
    }
}

/// The template labels of a workload against its selector. `kind` is `None`
/// for a custom workload (`name` is its kind), which is judged as a
/// Deployment is.
fn against_template(
    kind: Option<Kind>,
    name: &str,
    workload: &Value,
    settings: &Settings,
) -> Findings {
    let mut findings = Findings::default();
    let mode = settings.template_labels;
    let template_labels = match lookup(workload, &["spec", "template", "metadata", "labels"]) {
        Ok(labels) => labels,
        Err(err) => return malformed(err),
    };
    let selector_value = match lookup(workload, &["spec", "selector"]) {
        Ok(selector) => selector,
        Err(err) => return malformed(err),
    };
    // Under `labelMapValues: mutate`, non-string values become strings
    // (that rule says so and edits them): they are matched as those strings.
    let non_strings = if settings.label_map_values == MutateMode::Mutate {
        NonStrings::Convert
    } else {
        NonStrings::Report
    };
    let (labels, errors) =
        selector::parse_labels_with(template_labels, TEMPLATE_LABELS, non_strings);
    report_field_errors(&mut findings, mode, errors);

    let selector = if kind == Some(Kind::ReplicationController) {
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
            let detail = if kind == Some(Kind::Job) {
                "`selector` must be specified when `manualSelector` is true"
            } else {
                ""
            };
            let error = FieldError::required(SELECTOR, detail);
            findings.report(
                mode,
                SELECTOR,
                format!("{error}; {}", selector_from_template(&labels)),
            );
            return findings;
        };
        let (selector, errors) = selector::parse_with(Some(selector_value), SELECTOR, non_strings);
        let had_errors = !errors.is_empty();
        let errors = errors
            .into_iter()
            .map(|error| with_requirement_fix(error, selector_value, &labels))
            .collect();
        report_field_errors(&mut findings, mode, errors);
        if kind != Some(Kind::Job) && is_empty_selector(selector_value) {
            let error = FieldError::invalid(
                SELECTOR,
                selector_value,
                format!(
                    "empty selector is invalid for {}",
                    name.to_ascii_lowercase()
                ),
            );
            findings.report(
                mode,
                SELECTOR,
                format!("{error}; {}", selector_from_template(&labels)),
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
            TEMPLATE_LABELS,
            format!(
                "`selector` does not match template `labels`: {}",
                failures.join("; ")
            ),
        );
        if let Some(finding) = findings
            .violations
            .last_mut()
            .or(findings.warnings.last_mut())
        {
            finding.paths.push(SELECTOR.to_string());
        }
    }
    findings
}

/// The selector fields of a spec whose selector the API server generates:
/// a Job's without `manualSelector: true` (on CREATE), a CronJob's job
/// template (`cronjob` set). Worded as the API server refuses them
/// (`` `selector` not auto-generated ``, `` `selector` will be
/// auto-generated ``, `Unsupported value: true`), with the fix.
fn generated_selector(
    workload: &Value,
    keys: &[&str],
    path: &str,
    cronjob: bool,
    settings: &Settings,
) -> Findings {
    let mut findings = Findings::default();
    let spec = match lookup(workload, keys) {
        Ok(Some(Value::Object(spec))) => spec,
        Ok(Some(other)) => return malformed(FieldError::malformed(path, "a map", other)),
        Ok(None) => return findings,
        Err(err) => return malformed(err),
    };
    let mode = settings.template_labels;
    if let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) {
        let message = if cronjob {
            let error = FieldError::invalid(
                format!("{path}.selector"),
                selector,
                "`selector` will be auto-generated",
            );
            format!(
                "{error}; remove {path}.selector: every Job the CronJob creates gets a generated selector (batch.kubernetes.io/controller-uid) and matching template labels"
            )
        } else {
            let error = FieldError::invalid(
                format!("{path}.selector"),
                selector,
                "`selector` not auto-generated",
            );
            format!(
                "{error}; remove {path}.selector and let the API server generate it from the Job's uid (batch.kubernetes.io/controller-uid), or set {path}.manualSelector: true to keep this selector (it must then match the template labels and no other Job's pods)"
            )
        };
        findings.report(mode, format!("{path}.selector"), message);
    }
    if cronjob && spec.get("manualSelector") == Some(&Value::Bool(true)) {
        let error = FieldError::unsupported(format!("{path}.manualSelector"), true, "\"false\"");
        findings.report(
            mode,
            format!("{path}.manualSelector"),
            format!("{error}; remove {path}.manualSelector: a CronJob's Jobs always get a generated selector"),
        );
    }
    findings
}

/// The fix for a nil or empty selector: the template's labels, quoted.
fn selector_from_template(labels: &Labels) -> String {
    if labels.is_empty() {
        return format!("add the same labels to {TEMPLATE_LABELS} and to {SELECTOR}.matchLabels");
    }
    let entries: Vec<String> = labels
        .iter()
        .map(|(key, value)| quoted_entry(key, value))
        .collect();
    format!(
        "add {SELECTOR}.matchLabels with the template's labels: {}",
        entries.join(", ")
    )
}

/// An invalid requirement's error (`In` without `values`, `Exists` with
/// them), with its key and a fix that takes the template's value for it.
fn with_requirement_fix(error: FieldError, selector: &Value, labels: &Labels) -> FieldError {
    let Some(index) = error
        .path
        .strip_prefix("spec.selector.matchExpressions[")
        .and_then(|rest| rest.strip_suffix("].values"))
        .and_then(|index| index.parse::<usize>().ok())
    else {
        return error;
    };
    let Some(key) = selector
        .get("matchExpressions")
        .and_then(|list| list.get(index))
        .and_then(|expression| expression.get("key"))
        .and_then(Value::as_str)
    else {
        return error;
    };
    let fix = match (&error.kind, labels.get(key)) {
        (ErrorKind::Required(_), Some(value)) => format!(
            "the requirement on {key} needs the values it matches: add values: [{}], the template's {key} label",
            json_quoted(value)
        ),
        (ErrorKind::Required(_), None) => format!(
            "the requirement on {key} needs the values it matches: add them as values, and one of them to {TEMPLATE_LABELS}"
        ),
        (ErrorKind::Forbidden(_), _) => format!(
            "the requirement on {key} takes no values: remove {}, or use operator In to match them",
            error.path
        ),
        _ => return error,
    };
    let detail = match &error.kind {
        ErrorKind::Required(detail) | ErrorKind::Forbidden(detail) => format!("{detail}; {fix}"),
        _ => return error,
    };
    let kind = match error.kind {
        ErrorKind::Required(_) => ErrorKind::Required(detail),
        _ => ErrorKind::Forbidden(detail),
    };
    FieldError {
        path: error.path,
        kind,
    }
}

fn malformed(err: FieldError) -> Findings {
    Findings {
        violations: vec![err.into()],
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

/// `templateLabels`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "templateLabels",
    summary: "pod template labels that do not satisfy the workload's selector, and selectors the API server generates (Jobs, CronJobs) given by hand",
    kinds: &WORKLOAD_KINDS,
    operations: &CREATE_AND_UPDATE,
    unregistered: &[],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Reject,
        ci: RuleMode::Reject,
    },
    options: &["templateLabelsKinds", "workloadKinds"],
    reads: &[
        "spec.selector",
        "spec.template.metadata.labels",
        "spec.manualSelector",
        "spec.jobTemplate.spec (CronJob)",
    ],
    cluster_reads: &[],
    reads_old_object: false,
    fires: &EVERYWHERE,
    enabled: |settings, kind| settings.checks_template_labels_of(kind),
    check: |cx| check(cx.kind, &cx.object.value, cx.request.operation, cx.settings),
    custom: Some(check_custom),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Mode;
    use serde_json::json;

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"spec": {"selector": selector, "template": {"metadata": {"labels": labels}}}})
    }

    fn run(kind: Kind, object: Value) -> Findings {
        check(kind, &object, "CREATE", &Settings::default())
    }

    #[test]
    fn matching_templates_pass() {
        let object = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web", "x": "y"}),
        );
        assert!(run(Kind::Deployment, object).is_empty());
    }

    #[test]
    fn expression_failure_names_path_template_value_and_fix() {
        let object = deployment(
            json!({"matchExpressions": [{"key": "release", "operator": "In", "values": ["production", "preproduction"]}]}),
            json!({"release": "staging"}),
        );
        let findings = run(Kind::Deployment, object);
        assert_eq!(findings.violations.len(), 1);
        let message = &findings.violations[0].message;
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
        let findings = run(Kind::DaemonSet, object);
        assert!(
            findings.violations[0]
                .message
                .contains(r#"add active: "yes" to spec.template.metadata.labels"#),
            "{findings:?}"
        );
    }

    #[test]
    fn nil_and_empty_selectors() {
        let nil = run(
            Kind::StatefulSet,
            json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}),
        );
        assert_eq!(
            nil.violation_messages(),
            vec![
                "spec.selector: Required value; add spec.selector.matchLabels with the template's labels: a: \"b\""
            ]
        );
        let empty = run(
            Kind::DaemonSet,
            deployment(json!({}), json!({"app": "node-agent", "tier": "1"})),
        );
        assert_eq!(
            empty.violation_messages(),
            vec![
                "spec.selector: Invalid value: {}: empty selector is invalid for daemonset; add spec.selector.matchLabels with the template's labels: app: \"node-agent\", tier: \"1\""
            ]
        );
        let bare = run(Kind::Deployment, json!({"spec": {"selector": {}}}));
        assert!(
            bare.violations[0].message.ends_with(
                "add the same labels to spec.template.metadata.labels and to spec.selector.matchLabels"
            ),
            "{bare:?}"
        );
    }

    #[test]
    fn invalid_requirements_name_their_key_and_take_the_templates_value() {
        let expression = |operator: &str, values: Value| json!({"matchExpressions": [{"key": "tier", "operator": operator, "values": values}]});
        let labels = json!({"tier": "web"});
        let missing = run(
            Kind::ReplicaSet,
            deployment(expression("In", Value::Null), labels.clone()),
        );
        assert_eq!(
            missing.violations[0].message,
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'; the requirement on tier needs the values it matches: add values: [\"web\"], the template's tier label"
        );
        let extra = run(
            Kind::ReplicaSet,
            deployment(expression("Exists", json!(["web"])), labels),
        );
        assert_eq!(
            extra.violations[0].message,
            "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'; the requirement on tier takes no values: remove spec.selector.matchExpressions[0].values, or use operator In to match them"
        );
    }

    #[test]
    fn jobs_only_with_manual_selector() {
        let job = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {}}}}});
        // On UPDATE, without manualSelector, the selector is the generated one.
        assert!(check(Kind::Job, &job, "UPDATE", &Settings::default()).is_empty());
        let mut manual = job;
        manual["spec"]["manualSelector"] = json!(true);
        assert_eq!(run(Kind::Job, manual).violations.len(), 1);
    }

    #[test]
    fn replication_controller_selector_defaults_to_template() {
        let rc = json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}});
        assert!(run(Kind::ReplicationController, rc).is_empty());
        let rc = json!({"spec": {"selector": {"a": "c"}, "template": {"metadata": {"labels": {"a": "b"}}}}});
        let findings = run(Kind::ReplicationController, rc);
        assert!(
            findings.violations[0]
                .message
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
        let findings = check(Kind::Deployment, &object, "CREATE", &settings);
        assert_eq!(
            findings.violation_messages(),
            vec!["spec.selector must be a label selector map, not a list"]
        );
        let object = json!({"spec": {"template": {"metadata": "x"}}});
        let findings = check(Kind::Deployment, &object, "CREATE", &settings);
        assert_eq!(
            findings.violation_messages(),
            vec!["spec.template.metadata must be a map, not a string"]
        );
    }

    #[test]
    fn a_job_whose_spec_is_not_a_map_is_malformed() {
        let findings = run(Kind::Job, json!({"spec": "manualSelector: true"}));
        assert_eq!(
            findings.violation_messages(),
            vec!["spec must be a map, not a string"]
        );
    }

    #[test]
    fn kinds_setting_limits_the_rule() {
        let settings = Settings {
            template_labels_kinds: vec![Kind::Job],
            ..Settings::default()
        };
        let object = deployment(json!({"matchLabels": {"a": "b"}}), json!({}));
        assert!(check(Kind::Deployment, &object, "CREATE", &settings).is_empty());
    }

    /// pkg/registry/batch/job/strategy.go: the API server generates a Job's selector unless
    /// `manualSelector: true`, and a CronJob's Jobs' always.
    #[test]
    fn generated_selectors_are_not_given() {
        let job = json!({"spec": {"selector": {"matchLabels": {"app": "t"}},
                                  "template": {"metadata": {"labels": {"app": "t"}}}}});
        let created = check(Kind::Job, &job, "CREATE", &Settings::default());
        assert_eq!(created.violations.len(), 1);
        assert!(created.violations[0].message.starts_with(
            "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"t\"}}: `selector` not auto-generated; remove spec.selector"
        ), "{}", created.violations[0].message);
        assert!(
            created.violations[0]
                .message
                .contains("or set spec.manualSelector: true")
        );
        // An UPDATE carries the selector the API server generated.
        assert!(check(Kind::Job, &job, "UPDATE", &Settings::default()).is_empty());
        let cronjob = json!({"spec": {"jobTemplate": {"spec": {
            "selector": {"matchLabels": {"app": "t"}}, "manualSelector": true}}}});
        let findings = check(Kind::CronJob, &cronjob, "CREATE", &Settings::default());
        assert_eq!(findings.violations.len(), 2, "{findings:?}");
        assert!(findings.violations[0].message.contains("spec.jobTemplate.spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"t\"}}: `selector` will be auto-generated; remove spec.jobTemplate.spec.selector"));
        assert!(findings.violations[1].message.starts_with(
            "spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: \"false\"; remove spec.jobTemplate.spec.manualSelector"
        ));
        let fine =
            json!({"spec": {"jobTemplate": {"spec": {"manualSelector": false, "template": {}}}}});
        assert!(check(Kind::CronJob, &fine, "UPDATE", &Settings::default()).is_empty());
        let broken = json!({"spec": {"jobTemplate": "x"}});
        let findings = check(Kind::CronJob, &broken, "CREATE", &Settings::default());
        assert_eq!(
            findings.violation_messages(),
            ["spec.jobTemplate must be a map, not a string"]
        );
    }
}
