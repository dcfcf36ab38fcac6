//! Which rules apply to which kind, and the merge of their findings.
//!
//! Every rule is a pure function of the borrowed object and the settings.
//! Check-only rules read the original object; the one mutating rule per kind
//! (`service_selector`) clones it only when it changes something.

pub mod daemonset_fields;
pub mod service_selector;
pub mod template_labels;

use crate::findings::{FieldError, Findings};
use crate::settings::{Mode, MutateMode, Settings, WorkloadKind};
use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ReplicationController, Service};
use serde_json::Value;

/// The kinds this policy handles. Everything else is accepted untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Workload(WorkloadKind),
    Service,
}

impl Kind {
    /// Resolves a request's `kind` (group, version, kind).
    pub fn from_gvk(group: &str, version: &str, kind: &str) -> Option<Kind> {
        fn is<R: Resource>(group: &str, version: &str, kind: &str) -> bool {
            R::GROUP == group && R::VERSION == version && R::KIND == kind
        }
        let workload = if is::<DaemonSet>(group, version, kind) {
            WorkloadKind::DaemonSet
        } else if is::<Deployment>(group, version, kind) {
            WorkloadKind::Deployment
        } else if is::<ReplicaSet>(group, version, kind) {
            WorkloadKind::ReplicaSet
        } else if is::<StatefulSet>(group, version, kind) {
            WorkloadKind::StatefulSet
        } else if is::<ReplicationController>(group, version, kind) {
            WorkloadKind::ReplicationController
        } else if is::<Job>(group, version, kind) {
            WorkloadKind::Job
        } else if is::<Service>(group, version, kind) {
            return Some(Kind::Service);
        } else {
            return None;
        };
        Some(Kind::Workload(workload))
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Service => Service::KIND,
            Kind::Workload(w) => match w {
                WorkloadKind::DaemonSet => DaemonSet::KIND,
                WorkloadKind::Deployment => Deployment::KIND,
                WorkloadKind::ReplicaSet => ReplicaSet::KIND,
                WorkloadKind::StatefulSet => StatefulSet::KIND,
                WorkloadKind::ReplicationController => ReplicationController::KIND,
                WorkloadKind::Job => Job::KIND,
            },
        }
    }

    /// Whether any enabled rule looks at this kind.
    fn any_rule_enabled(self, settings: &Settings) -> bool {
        let selector_values = settings.service_selector_values != MutateMode::Off;
        match self {
            Kind::Service => selector_values,
            Kind::Workload(WorkloadKind::ReplicationController) => {
                selector_values
                    || settings.checks_template_labels_of(WorkloadKind::ReplicationController)
            }
            Kind::Workload(WorkloadKind::DaemonSet) => {
                settings.daemon_set_fields != Mode::Off
                    || settings.checks_template_labels_of(WorkloadKind::DaemonSet)
            }
            Kind::Workload(w) => settings.checks_template_labels_of(w),
        }
    }
}

/// Runs every rule that applies to `kind` on `object`, in a fixed order.
pub fn evaluate(kind: Kind, object: &Value, settings: &Settings) -> Findings {
    let mut findings = Findings::default();
    if !kind.any_rule_enabled(settings) {
        return findings;
    }
    if !object.is_object() {
        findings.violations.push(format!(
            "the object must be a map, not {}",
            crate::findings::type_name(object)
        ));
        return findings;
    }
    match kind {
        Kind::Service => findings.merge(service_selector::check(object, settings)),
        Kind::Workload(workload) => {
            if workload == WorkloadKind::DaemonSet {
                findings.merge(daemonset_fields::check(object, settings));
            }
            if workload == WorkloadKind::ReplicationController {
                findings.merge(service_selector::check(object, settings));
            }
            findings.merge(template_labels::check(workload, object, settings));
        }
    }
    findings
}

/// Follows `keys` from `value`. A missing or null step gives `Ok(None)`; a
/// step through something that is not a map is malformed.
pub fn lookup<'a>(value: &'a Value, keys: &[&str]) -> Result<Option<&'a Value>, FieldError> {
    let mut current = value;
    for (depth, key) in keys.iter().enumerate() {
        match current {
            Value::Object(map) => match map.get(*key) {
                None | Some(Value::Null) => return Ok(None),
                Some(next) => current = next,
            },
            other => {
                let path = keys.get(..depth).unwrap_or_default().join(".");
                let path = if path.is_empty() {
                    "the object".to_string()
                } else {
                    path
                };
                return Err(FieldError::malformed(path, "a map", other));
            }
        }
    }
    Ok(Some(current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_resolve_by_group_version_kind() {
        assert_eq!(
            Kind::from_gvk("apps", "v1", "DaemonSet"),
            Some(Kind::Workload(WorkloadKind::DaemonSet))
        );
        assert_eq!(Kind::from_gvk("", "v1", "Service"), Some(Kind::Service));
        assert_eq!(
            Kind::from_gvk("batch", "v1", "Job"),
            Some(Kind::Workload(WorkloadKind::Job))
        );
        assert_eq!(Kind::from_gvk("extensions", "v1beta1", "DaemonSet"), None);
        assert_eq!(Kind::from_gvk("", "v1", "Pod"), None);
    }

    #[test]
    fn a_malformed_spec_is_reported_once_for_all_rules() {
        let kind = Kind::Workload(WorkloadKind::DaemonSet);
        let findings = evaluate(kind, &json!({"spec": "x"}), &Settings::default());
        assert_eq!(
            findings.violations,
            vec!["spec must be a map, not a string"]
        );
    }

    #[test]
    fn lookup_reports_the_first_non_map_step() {
        let object = json!({"spec": {"template": "x"}});
        assert_eq!(lookup(&object, &["spec", "selector"]), Ok(None));
        let err = lookup(&object, &["spec", "template", "metadata"]).expect_err("malformed");
        assert_eq!(err.to_string(), "spec.template must be a map, not a string");
        let err = lookup(&json!([]), &["spec"]).expect_err("malformed");
        assert_eq!(err.to_string(), "the object must be a map, not a list");
    }
}
