//! Which rules apply to which kind, and the merge of their findings.
//!
//! Every rule is a pure function of the decoded object and the settings.
//! [`shape`] names, per kind, every part of the object some rule reads; only
//! those parts are built. The two rules that mutate (`service_selector` and
//! `label_map_values`, which share one check) return edits of the object's
//! text, of different maps, and only when they change something.

pub mod controller_overlap;
pub mod immutable_selector;
pub mod label_map_values;
pub mod pod_label_change;
pub mod service_selector;
pub mod service_selector_change;
pub mod spec_fields;
pub mod template_labels;

use crate::cluster::{self, Controller, Host, Resource, Unread};
use crate::findings::{FieldError, Findings};
use crate::labels::MapValues;
use crate::object::{Capture, Object, Shape};
use crate::selector;
use crate::settings::{AppsKind, Mode, MutateMode, Settings, WarnMode, WorkloadKind};
use k8s_openapi::Resource as ApiResource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController, Service};
use serde_json::Value;

/// The kinds this policy handles. Everything else is accepted untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Workload(WorkloadKind),
    Service,
    /// `labelMapValues` (shift-left: the metadata registers Pods for UPDATE
    /// only) and `podLabelChange` (UPDATE) read Pods.
    Pod,
}

impl Kind {
    /// Resolves a request's `kind` (group, version, kind).
    pub fn from_gvk(group: &str, version: &str, kind: &str) -> Option<Kind> {
        fn is<R: ApiResource>(group: &str, version: &str, kind: &str) -> bool {
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
        } else if is::<CronJob>(group, version, kind) {
            WorkloadKind::CronJob
        } else if is::<Service>(group, version, kind) {
            return Some(Kind::Service);
        } else if is::<Pod>(group, version, kind) {
            return Some(Kind::Pod);
        } else {
            return None;
        };
        Some(Kind::Workload(workload))
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Service => Service::KIND,
            Kind::Pod => Pod::KIND,
            Kind::Workload(w) => match w {
                WorkloadKind::DaemonSet => DaemonSet::KIND,
                WorkloadKind::Deployment => Deployment::KIND,
                WorkloadKind::ReplicaSet => ReplicaSet::KIND,
                WorkloadKind::StatefulSet => StatefulSet::KIND,
                WorkloadKind::ReplicationController => ReplicationController::KIND,
                WorkloadKind::Job => Job::KIND,
                WorkloadKind::CronJob => CronJob::KIND,
            },
        }
    }

    /// Whether any enabled rule looks at this kind.
    fn any_rule_enabled(self, settings: &Settings) -> bool {
        if settings.label_map_values != MutateMode::Off {
            return true;
        }
        let selector_values = settings.service_selector_values != MutateMode::Off;
        match self {
            Kind::Service => selector_values,
            Kind::Pod => false,
            Kind::Workload(WorkloadKind::ReplicationController) => {
                selector_values
                    || settings.checks_template_labels_of(WorkloadKind::ReplicationController)
            }
            Kind::Workload(w) => {
                settings.checks_template_labels_of(w)
                    || apps_kind(w).is_some_and(|kind| settings.checks_spec_fields_of(kind))
                    || (settings.immutable_selector != Mode::Off
                        && immutable_selector::applies_to(w))
            }
        }
    }
}

/// A `map[string]string` field at `path`, captured for `labelMapValues` (or
/// Rule 3, for [`MapValues::Selector`]); `then` is what rules read of it.
const fn map_at(path: &'static str, values: MapValues, then: &'static Shape) -> Shape {
    Shape::Captured(Capture { path, values, then })
}

const fn labels_at(path: &'static str) -> Shape {
    map_at(path, MapValues::Labels, &Shape::Present)
}

const fn annotations_at(path: &'static str) -> Shape {
    map_at(path, MapValues::Annotations, &Shape::Present)
}

/// The name fields every message's `Kind namespace/name` is made of, what
/// `controllerOverlap` reads to tell an object from its siblings, and the
/// object's own label maps.
const METADATA: Shape = Shape::Fields(&[
    ("name", Shape::All),
    ("namespace", Shape::All),
    ("generateName", Shape::All),
    ("uid", Shape::All),
    ("ownerReferences", Shape::All),
    ("labels", labels_at("metadata.labels")),
    ("annotations", annotations_at("metadata.annotations")),
]);

/// A pod template at `spec.template` (`spec.jobTemplate.spec.template` in a
/// CronJob): its labels are built for `template_labels`; the label maps are
/// captured.
macro_rules! pod_template {
    ($at:literal) => {
        Shape::Fields(&[
            (
                "metadata",
                Shape::Fields(&[
                    (
                        "labels",
                        map_at(
                            concat!($at, ".metadata.labels"),
                            MapValues::Labels,
                            &Shape::All,
                        ),
                    ),
                    (
                        "annotations",
                        annotations_at(concat!($at, ".metadata.annotations")),
                    ),
                ]),
            ),
            (
                "spec",
                Shape::Fields(&[(
                    "nodeSelector",
                    labels_at(concat!($at, ".spec.nodeSelector")),
                )]),
            ),
        ])
    };
}

const TEMPLATE: Shape = pod_template!("spec.template");

/// A workload's `spec.selector`, shown as sent; `matchLabels` captured.
const LABEL_SELECTOR: Shape = Shape::Open(&[(
    "matchLabels",
    map_at("spec.selector.matchLabels", MapValues::Labels, &Shape::All),
)]);

/// What the rules for `kind` read of an object: names and every
/// `map[string]string` field (for `label_map_values`), and per rule
/// - `spec_fields`: the presence of each sibling spec field, and the
///   last-applied-configuration annotation;
/// - `template_labels`: `spec.selector`, `spec.template.metadata.labels` and
///   `spec.manualSelector`;
/// - `service_selector`: the text of `spec.selector`, whose values it edits;
/// - `service_selector_change`: that text, and `spec.type`;
/// - `controller_overlap`: `metadata.uid` and `metadata.ownerReferences`,
///   the selector and the template labels;
/// - `pod_label_change`: a Pod's `metadata.labels` and `ownerReferences`.
pub fn shape(kind: Kind) -> Shape {
    match kind {
        Kind::Service => SERVICE,
        Kind::Pod => POD,
        Kind::Workload(WorkloadKind::ReplicationController) => REPLICATION_CONTROLLER,
        Kind::Workload(
            WorkloadKind::DaemonSet
            | WorkloadKind::Deployment
            | WorkloadKind::ReplicaSet
            | WorkloadKind::StatefulSet,
        ) => APPS,
        Kind::Workload(WorkloadKind::CronJob) => CRON_JOB,
        Kind::Workload(WorkloadKind::Job) => JOB,
    }
}

/// A Service.
const SERVICE: Shape = Shape::Fields(&[
    ("metadata", METADATA),
    (
        "spec",
        Shape::Fields(&[
            (
                "selector",
                map_at("spec.selector", MapValues::Selector, &Shape::Present),
            ),
            ("type", Shape::All),
        ]),
    ),
]);

/// A Pod.
const POD: Shape = Shape::Fields(&[
    (
        "metadata",
        Shape::Fields(&[
            ("name", Shape::All),
            ("namespace", Shape::All),
            ("generateName", Shape::All),
            (
                "labels",
                map_at("metadata.labels", MapValues::Labels, &Shape::All),
            ),
            ("annotations", annotations_at("metadata.annotations")),
            ("ownerReferences", Shape::All),
        ]),
    ),
    (
        "spec",
        Shape::Fields(&[("nodeSelector", labels_at("spec.nodeSelector"))]),
    ),
]);

/// A ReplicationController.
const REPLICATION_CONTROLLER: Shape = Shape::Fields(&[
    ("metadata", METADATA),
    (
        "spec",
        Shape::Fields(&[
            (
                "selector",
                map_at("spec.selector", MapValues::Selector, &Shape::All),
            ),
            ("template", TEMPLATE),
        ]),
    ),
]);

/// A DaemonSet, Deployment, ReplicaSet or StatefulSet.
const APPS: Shape = Shape::Fields(&[
    (
        "metadata",
        Shape::Fields(&[
            ("name", Shape::All),
            ("namespace", Shape::All),
            ("generateName", Shape::All),
            ("uid", Shape::All),
            ("ownerReferences", Shape::All),
            ("labels", labels_at("metadata.labels")),
            (
                "annotations",
                map_at(
                    "metadata.annotations",
                    MapValues::Annotations,
                    &Shape::Fields(&[(spec_fields::LAST_APPLIED, Shape::All)]),
                ),
            ),
        ]),
    ),
    (
        "spec",
        Shape::Fields(&[
            ("selector", LABEL_SELECTOR),
            ("template", TEMPLATE),
            // spec_fields::SIBLING_FIELDS (a test checks).
            ("replicas", Shape::Present),
            ("strategy", Shape::Present),
            ("updateStrategy", Shape::Present),
            ("paused", Shape::Present),
            ("progressDeadlineSeconds", Shape::Present),
            ("revisionHistoryLimit", Shape::Present),
            ("serviceName", Shape::Present),
            ("volumeClaimTemplates", Shape::Present),
            ("podManagementPolicy", Shape::Present),
            ("persistentVolumeClaimRetentionPolicy", Shape::Present),
            ("ordinals", Shape::Present),
        ]),
    ),
]);

/// A CronJob.
const CRON_JOB: Shape = Shape::Fields(&[
    ("metadata", METADATA),
    (
        "spec",
        Shape::Fields(&[(
            "jobTemplate",
            Shape::Fields(&[
                (
                    "metadata",
                    Shape::Fields(&[
                        ("labels", labels_at("spec.jobTemplate.metadata.labels")),
                        (
                            "annotations",
                            annotations_at("spec.jobTemplate.metadata.annotations"),
                        ),
                    ]),
                ),
                (
                    "spec",
                    Shape::Fields(&[
                        ("selector", Shape::All),
                        ("manualSelector", Shape::All),
                        ("template", pod_template!("spec.jobTemplate.spec.template")),
                    ]),
                ),
            ]),
        )]),
    ),
]);

/// A Job.
const JOB: Shape = Shape::Fields(&[
    ("metadata", METADATA),
    (
        "spec",
        Shape::Fields(&[
            ("selector", LABEL_SELECTOR),
            ("template", TEMPLATE),
            ("manualSelector", Shape::All),
        ]),
    ),
]);

/// Runs every rule that applies to `kind` on `object`, in a fixed order.
pub fn evaluate(kind: Kind, object: &Object, request: &Request, settings: &Settings) -> Findings {
    let operation = request.operation;
    let mut findings = Findings::default();
    if !kind.any_rule_enabled(settings) {
        return findings;
    }
    let value = &object.value;
    if !value.is_object() {
        findings.violations.push(format!(
            "the object must be a map, not {}",
            crate::findings::type_name(value)
        ));
        return findings;
    }
    match kind {
        Kind::Service => findings.merge(service_selector::check(object, settings)),
        Kind::Pod => {}
        Kind::Workload(workload) => {
            if let Some(apps) = apps_kind(workload) {
                findings.merge(spec_fields::check(apps, value, settings));
            }
            if workload == WorkloadKind::ReplicationController {
                findings.merge(service_selector::check(object, settings));
            }
            findings.merge(template_labels::check(workload, value, operation, settings));
            let old = request.old.map(|old| &old.value);
            findings.merge(immutable_selector::check(workload, value, old, settings));
        }
    }
    findings.merge(label_map_values::check(object, settings));
    findings
}

/// What an admission request says besides its object.
pub struct Request<'a> {
    /// `CREATE` or `UPDATE`.
    pub operation: &'a str,
    /// The object's namespace (the request's, else the object's, else `default`).
    pub namespace: &'a str,
    /// `oldObject`, decoded to the kind's shape: only on UPDATE, and only
    /// when [`compares_with_old`] says a rule of the kind reads it.
    pub old: Option<&'a Object<'a>>,
}

/// Whether an enabled rule for `kind` compares the object with `oldObject`
/// on UPDATE, so that it is decoded only then.
pub fn compares_with_old(kind: Kind, settings: &Settings) -> bool {
    match kind {
        Kind::Service => settings.service_selector_change != Mode::Off,
        Kind::Pod => settings.pod_label_change == WarnMode::Warn,
        Kind::Workload(w) => {
            (settings.controller_overlap != Mode::Off && controller_resource(w).is_some())
                || (settings.immutable_selector != Mode::Off && immutable_selector::applies_to(w))
        }
    }
}

/// Runs the context-aware rules that apply to `kind`, reading the cluster
/// through `host` only when a rule needs it. A read that fails never
/// rejects: the rule that needed it is not checked, and one warning per
/// rule says what could not be read and why.
pub fn evaluate_in_cluster(
    kind: Kind,
    object: &Object,
    request: &Request,
    settings: &Settings,
    host: &dyn Host,
) -> Findings {
    let mut findings = Findings::default();
    if !settings.reads_cluster() || !object.value.is_object() {
        return findings;
    }
    let update_of = request.old;
    match kind {
        Kind::Service if settings.service_selector_change != Mode::Off => {
            if let Some(old) = update_of {
                findings.merge(selector_change(
                    object,
                    old,
                    request.namespace,
                    settings,
                    host,
                ));
            }
        }
        Kind::Pod if settings.pod_label_change == WarnMode::Warn => {
            if let Some(old) = update_of {
                findings.merge(pod_labels(object, old, request.namespace, host));
            }
        }
        Kind::Workload(workload) if settings.controller_overlap != Mode::Off => {
            if let Some(resource) = controller_resource(workload) {
                let old =
                    update_of.and_then(|old| controller_overlap::subject(resource, &old.value));
                if let Some(subject) = controller_overlap::subject(resource, &object.value) {
                    findings.merge(overlap(
                        &subject,
                        old.as_ref(),
                        request.namespace,
                        settings,
                        host,
                    ));
                }
            }
        }
        _ => {}
    }
    findings
}

/// The apps/v1 kinds, whose specs `spec_fields` compares.
fn apps_kind(kind: WorkloadKind) -> Option<AppsKind> {
    match kind {
        WorkloadKind::DaemonSet => Some(AppsKind::DaemonSet),
        WorkloadKind::Deployment => Some(AppsKind::Deployment),
        WorkloadKind::ReplicaSet => Some(AppsKind::ReplicaSet),
        WorkloadKind::StatefulSet => Some(AppsKind::StatefulSet),
        WorkloadKind::ReplicationController | WorkloadKind::Job | WorkloadKind::CronJob => None,
    }
}

/// The kinds `controllerOverlap` judges (Jobs get generated selectors).
fn controller_resource(kind: WorkloadKind) -> Option<Resource> {
    match kind {
        WorkloadKind::DaemonSet => Some(Resource::DaemonSet),
        WorkloadKind::Deployment => Some(Resource::Deployment),
        WorkloadKind::ReplicaSet => Some(Resource::ReplicaSet),
        WorkloadKind::StatefulSet => Some(Resource::StatefulSet),
        WorkloadKind::ReplicationController => Some(Resource::ReplicationController),
        WorkloadKind::Job | WorkloadKind::CronJob => None,
    }
}

/// The one warning of a rule whose reads failed.
fn not_checked(rule: &str, unread: &[Unread]) -> String {
    let reasons: Vec<String> = unread.iter().map(Unread::to_string).collect();
    format!("{rule} could not be checked: {}", reasons.join("; "))
}

/// A Service's `spec.selector`, built from the text its shape captured.
fn service_selector(object: &Object) -> Option<Value> {
    object
        .captured_at("spec.selector")
        .and_then(|found| found.to_value())
}

fn selector_change(
    object: &Object,
    old: &Object,
    namespace: &str,
    settings: &Settings,
    host: &dyn Host,
) -> Findings {
    let (new_selector, old_selector) = (service_selector(object), service_selector(old));
    let service_type = lookup(&object.value, &["spec", "type"])
        .ok()
        .flatten()
        .and_then(Value::as_str);
    let Some(change) =
        service_selector_change::change(old_selector.as_ref(), new_selector.as_ref(), service_type)
    else {
        return Findings::default();
    };
    match cluster::list(host, Resource::Pod, namespace) {
        Ok(pods) => service_selector_change::check(
            &change,
            &pods,
            namespace,
            settings.service_selector_change,
        ),
        Err(unread) => warning(not_checked("serviceSelectorChange", &[unread])),
    }
}

fn overlap(
    subject: &controller_overlap::Subject,
    old: Option<&controller_overlap::Subject>,
    namespace: &str,
    settings: &Settings,
    host: &dyn Host,
) -> Findings {
    let mut lists: Vec<(Resource, Vec<Controller>)> =
        Vec::with_capacity(Resource::CONTROLLERS.len());
    let mut unread = Vec::new();
    for resource in Resource::CONTROLLERS {
        match cluster::list(host, resource, namespace) {
            Ok(list) => lists.push((resource, list)),
            Err(err) => unread.push(err),
        }
    }
    let listed: Vec<(Resource, &[Controller])> = lists
        .iter()
        .map(|(r, list)| (*r, list.as_slice()))
        .collect();
    let mut findings =
        controller_overlap::check(subject, old, &listed, settings.controller_overlap);
    if !unread.is_empty() {
        findings
            .warnings
            .push(not_checked("controllerOverlap", &unread));
    }
    findings
}

fn pod_labels(object: &Object, old: &Object, namespace: &str, host: &dyn Host) -> Findings {
    /// `metadata.labels`, with `{}` read as absent, as `null` is.
    fn labels_of<'v>(object: &'v Object) -> Option<&'v Value> {
        lookup(&object.value, &["metadata", "labels"])
            .ok()
            .flatten()
            .filter(|v| v.as_object().is_none_or(|m| !m.is_empty()))
    }
    let (new_value, old_value) = (labels_of(object), labels_of(old));
    if new_value == old_value {
        return Findings::default();
    }
    let new = selector::parse_labels(new_value, "metadata.labels").0;
    let old = selector::parse_labels(old_value, "metadata.labels").0;
    let mut findings = Findings::default();
    let mut unread = Vec::new();
    // The controller, when it is of a kind this policy reads; owners of
    // other kinds (custom resources, a Node for a static pod) are skipped.
    let owner = object
        .value
        .get("metadata")
        .and_then(|metadata| cluster::from_value::<cluster::Metadata>(metadata).ok())
        .and_then(|m| m.controller().cloned())
        .and_then(|owner| {
            Resource::pod_owner(&owner.api_version, &owner.kind).map(|resource| (owner, resource))
        });
    if let Some((owner, resource)) = owner {
        match cluster::get::<Controller>(host, resource, &owner.name, namespace) {
            Ok(controller) => findings.warnings.extend(pod_label_change::check_controller(
                &old,
                &new,
                &owner,
                resource,
                &controller,
            )),
            Err(err) => unread.push(err),
        }
    }
    match cluster::list::<cluster::Service>(host, Resource::Service, namespace) {
        Ok(services) => findings
            .warnings
            .extend(pod_label_change::check_services(&old, &new, &services)),
        Err(err) => unread.push(err),
    }
    if !unread.is_empty() {
        findings
            .warnings
            .push(not_checked("podLabelChange", &unread));
    }
    findings
}

fn warning(message: String) -> Findings {
    Findings {
        warnings: vec![message],
        ..Findings::default()
    }
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

    const CREATE: Request = Request {
        operation: "CREATE",
        namespace: "default",
        old: None,
    };

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
        assert_eq!(Kind::from_gvk("", "v1", "Pod"), Some(Kind::Pod));
        assert_eq!(Kind::from_gvk("", "v1", "Namespace"), None);
    }

    #[test]
    fn a_malformed_spec_is_reported_once_for_all_rules() {
        let kind = Kind::Workload(WorkloadKind::DaemonSet);
        let text = json!({"spec": "x"}).to_string();
        let object = Object::decode(&text, shape(kind)).expect("JSON");
        let findings = evaluate(kind, &object, &CREATE, &Settings::default());
        assert_eq!(
            findings.violations,
            vec!["spec must be a map, not a string"]
        );
    }

    /// `specFields` (which reads the last-applied annotation) and
    /// `labelMapValues` word a malformed annotations map alike: it is
    /// reported once.
    #[test]
    fn malformed_annotations_are_reported_once() {
        let kind = Kind::Workload(WorkloadKind::Deployment);
        let text = json!({"metadata": {"name": "a", "annotations": ["x"]},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "a"}}}}})
        .to_string();
        let object = Object::decode(&text, shape(kind)).expect("JSON");
        let findings = evaluate(kind, &object, &CREATE, &Settings::default());
        assert_eq!(
            findings.violations,
            vec![
                "metadata.annotations must be a map of annotation keys to string values, not a list"
            ]
        );
    }

    /// Every part a rule reads is in its kind's shape: for each kind, a full
    /// object and its shaped decode get the same findings.
    #[test]
    fn shapes_cover_what_the_rules_read() {
        let fields: Vec<(String, Value)> = spec_fields::foreign_fields(AppsKind::ReplicaSet)
            .chain(["replicas"])
            .map(|f| (f.to_string(), json!(null)))
            .collect();
        let spec_of = |extra: &[(String, Value)]| {
            let mut spec = json!({
                "selector": {"matchLabels": {"app": "a", "on": true},
                             "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x"]}]},
                "template": {"metadata": {"labels": {"app": "b"}, "name": "t"}, "spec": {"containers": []}},
                "manualSelector": true,
                "other": {"deep": [1, 2, 3]}
            });
            for (k, v) in extra {
                spec[k.as_str()] = v.clone();
            }
            spec
        };
        let annotation = json!({"spec": {"replicas": 3, "strategy": {}}}).to_string();
        let object = json!({
            "metadata": {"name": "n", "namespace": "ns",
                         "annotations": {spec_fields::LAST_APPLIED: annotation}},
            "spec": spec_of(&fields)
        });
        let service =
            json!({"metadata": {"name": "n"}, "spec": {"selector": {"a": true, "b": "-x"}}});
        let kinds = WorkloadKind::ALL;
        let settings = Settings {
            template_labels_kinds: kinds.to_vec(),
            ..Settings::default()
        };
        let mut cases: Vec<(Kind, Value)> = kinds
            .iter()
            .map(|&w| (Kind::Workload(w), object.clone()))
            .collect();
        cases.retain(|(kind, _)| *kind != Kind::Workload(WorkloadKind::CronJob));
        cases.push((
            Kind::Workload(WorkloadKind::CronJob),
            json!({"metadata": {"name": "c"}, "spec": {"schedule": "* * * * *",
                "jobTemplate": {"spec": spec_of(&fields)}}}),
        ));
        cases.push((Kind::Service, service.clone()));
        cases.push((
            Kind::Workload(WorkloadKind::ReplicationController),
            json!({"spec": {"selector": {"app": "b", "x": 1}, "template": {"metadata": {"labels": {"app": "c"}}}}}),
        ));
        for (kind, full) in cases {
            let text = full.to_string();
            let shaped = Object::decode(&text, shape(kind)).expect("JSON");
            let whole = Object {
                text: Some(&text),
                value: full.clone(),
                captured: shaped.captured.clone(),
            };
            let expected = evaluate(kind, &whole, &CREATE, &settings);
            assert!(!expected.is_empty(), "{kind:?}: the case finds something");
            assert_eq!(
                evaluate(kind, &shaped, &CREATE, &settings),
                expected,
                "{kind:?}"
            );
        }
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
