//! Which rules apply to which kind, and the merge of their findings.
//!
//! Every rule is a pure function of the decoded object and the settings.
//! [`shape`] names, per kind, every part of the object some rule reads; only
//! those parts are built. The two rules that mutate (`service_selector` and
//! `label_map_values`, which share one check) return edits of the object's
//! text, of different maps, and only when they change something.

pub mod autoscaler_target;
pub mod controller_overlap;
pub mod disruption_budgets;
pub mod immutable_selector;
pub mod label_map_values;
pub mod network_policy_targets;
pub mod pod_label_change;
pub mod service_selector;
pub mod service_selector_change;
pub mod service_selector_unique;
pub mod service_targets;
pub mod spec_fields;
pub mod template_labels;

use crate::cluster::{Host, Unread};
use crate::findings::{FieldError, Finding, Findings};
pub use crate::kinds::{APPS_KINDS, CONTROLLER_KINDS, KINDS, Kind, WORKLOAD_KINDS};
use crate::labels::MapValues;
use crate::object::{Capture, Object, Shape};
use crate::settings::Settings;
use serde_json::Value;

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
        Kind::ReplicationController => REPLICATION_CONTROLLER,
        Kind::DaemonSet | Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet => APPS,
        Kind::CronJob => CRON_JOB,
        Kind::Job => JOB,
        Kind::PodDisruptionBudget | Kind::NetworkPolicy | Kind::HorizontalPodAutoscaler => RELATED,
    }
}

/// A PodDisruptionBudget, NetworkPolicy or HorizontalPodAutoscaler: what
/// the relation rules read of it (its `apiVersion`, for the versions whose
/// fields differ) and its label maps.
const RELATED: Shape = Shape::Fields(&[
    ("apiVersion", Shape::All),
    ("metadata", METADATA),
    ("spec", Shape::All),
]);

/// The `map[string]string` fields of `kind` whose values and keys the
/// string rules check (`labelMapValues`, and `serviceSelectorValues` for
/// [`MapValues::Selector`]), as field paths: the captures of its shape.
pub fn label_maps(kind: Kind) -> Vec<&'static str> {
    fn walk(shape: &Shape, out: &mut Vec<&'static str>) {
        match shape {
            Shape::All | Shape::Present => {}
            Shape::Captured(capture) => {
                out.push(capture.path);
                walk(capture.then, out);
            }
            Shape::Fields(fields) | Shape::Open(fields) => {
                for (_, field) in *fields {
                    walk(field, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&shape(kind), &mut out);
    out
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
            ("clusterIP", Shape::All),
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
            ("replicas", Shape::Present),
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

/// Every rule, in the order its findings are reported. Dispatch, the kinds
/// decoded, settings defaults, the metadata files and the docs' rules table
/// are derived from this list or checked against it by tests
/// (`tests/registry.rs`).
pub const RULES: [&Rule; 13] = [
    &spec_fields::RULE,
    &service_selector::RULE,
    &template_labels::RULE,
    &immutable_selector::RULE,
    &label_map_values::RULE,
    &service_selector_change::RULE,
    &controller_overlap::RULE,
    &pod_label_change::RULE,
    &service_targets::RULE,
    &disruption_budgets::RULE,
    &network_policy_targets::RULE,
    &autoscaler_target::RULE,
    &service_selector_unique::RULE,
];

/// Everything about one rule, declared once in its file.
pub struct Rule {
    /// The rule's ID: its settings key, and the `[id]` every message ends with.
    pub id: &'static str,
    /// One line: what it catches.
    pub summary: &'static str,
    /// The kinds it judges.
    pub kinds: &'static [Kind],
    /// The operations it judges.
    pub operations: &'static [Operation],
    /// Kinds and operations it judges when handed them (`kwctl run`, CI) but
    /// for which the policy is not registered at admission.
    pub unregistered: &'static [(Kind, Operation)],
    /// The values its settings key takes.
    pub modes: &'static [RuleMode],
    /// Its mode at admission (the policy's default settings) and in CI.
    pub default: Defaults,
    /// Other settings keys that belong to it.
    pub options: &'static [&'static str],
    /// The parts of the object it reads.
    pub reads: &'static [&'static str],
    /// What it reads of the cluster (only with a context-aware grant).
    pub cluster_reads: &'static [Kind],
    /// Whether it compares the object with `oldObject` on UPDATE.
    pub reads_old_object: bool,
    /// Where it can fire, and why not elsewhere.
    pub fires: &'static [Place],
    /// Whether the settings turn it on for a kind (its mode is not `off`,
    /// and the kind is among those its options name).
    pub enabled: fn(&Settings, Kind) -> bool,
    /// The rule: a pure function of the request, the settings and (for the
    /// rules that read the cluster) what the host answers.
    pub check: fn(&Context) -> Findings,
    /// What it checks of a custom workload of `workloadKinds` (its kind's
    /// name, the object, the settings), on CREATE and UPDATE; `None` when it
    /// judges none.
    pub custom: Option<fn(&str, &Value, &Settings) -> Findings>,
}

impl Rule {
    /// Whether the rule runs on this request.
    pub fn applies(&self, kind: Kind, operation: &str, settings: &Settings) -> bool {
        self.kinds.contains(&kind)
            && self.operations.iter().any(|op| op.as_str() == operation)
            && (self.enabled)(settings, kind)
    }
}

/// An admission operation a rule judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
        }
    }
}

/// A value of a rule's settings key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleMode {
    Reject,
    Warn,
    Mutate,
    Off,
}

impl RuleMode {
    /// As written in the settings.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleMode::Reject => "reject",
            RuleMode::Warn => "warn",
            RuleMode::Mutate => "mutate",
            RuleMode::Off => "off",
        }
    }
}

/// A rule's default modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defaults {
    /// In the policy's default settings (live admission, `kwctl run`).
    pub admission: RuleMode,
    /// In `selector-guard check` when the settings do not give the key.
    pub ci: RuleMode,
}

/// Where a rule can fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Under policy-server, as objects arrive one by one in install order.
    Admission,
    /// Under `kwctl run` (and `cargo xtask run`) on one request, with a
    /// session file for the rules that read the cluster.
    Kwctl,
    /// In `selector-guard check` over a folder of manifests.
    Ci,
}

impl Place {
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Admission => "live admission",
            Place::Kwctl => "kwctl run",
            Place::Ci => "CI",
        }
    }
}

/// What a rule is handed: the request, its decoded object, the settings and
/// the host it may read the cluster through.
pub struct Context<'a> {
    pub kind: Kind,
    pub object: &'a Object<'a>,
    pub request: &'a Request<'a>,
    pub settings: &'a Settings,
    pub host: &'a dyn Host,
    /// Whether findings the admission response only sums up are built too
    /// ([`crate::findings::Shown::Detail`]): the CLI shows each of them.
    pub details: bool,
}

/// Runs every rule of [`RULES`] that applies to the request, in order, and
/// names each finding's rule. A read that fails never rejects: the rule
/// that needed it is not checked, and one warning says what could not be
/// read and why.
pub fn evaluate(cx: &Context) -> Findings {
    let mut findings = Findings::default();
    let operation = cx.request.operation;
    let mut applying = RULES
        .iter()
        .filter(|rule| rule.applies(cx.kind, operation, cx.settings))
        .peekable();
    let Some(first) = applying.peek() else {
        return findings;
    };
    let value = &cx.object.value;
    if !value.is_object() {
        findings.violations.push(Finding::reject(
            "",
            format!(
                "the object must be a map, not {}",
                crate::findings::type_name(value)
            ),
        ));
        findings.stamp(first.id);
        return findings;
    }
    for rule in applying {
        let mut found = (rule.check)(cx);
        found.stamp(rule.id);
        findings.merge(found);
    }
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
    RULES.iter().any(|rule| {
        rule.reads_old_object && rule.applies(kind, Operation::Update.as_str(), settings)
    })
}

/// The one warning of a rule whose reads failed.
pub fn not_checked(rule: &str, unread: &[Unread]) -> Finding {
    let reasons: Vec<String> = unread.iter().map(Unread::to_string).collect();
    Finding::warn(
        "",
        format!("{rule} could not be checked: {}", reasons.join("; ")),
    )
}

/// The modes of a rule that checks: its findings reject, warn, or it is off.
pub const CHECK_MODES: [RuleMode; 3] = [RuleMode::Reject, RuleMode::Warn, RuleMode::Off];

/// The modes of a rule that converts values: it mutates them, rejects or
/// warns about them, or is off.
pub const CONVERT_MODES: [RuleMode; 4] = [
    RuleMode::Mutate,
    RuleMode::Reject,
    RuleMode::Warn,
    RuleMode::Off,
];

/// CREATE and UPDATE.
pub const CREATE_AND_UPDATE: [Operation; 2] = [Operation::Create, Operation::Update];

/// Where a rule that reads only the object can fire: everywhere.
pub const EVERYWHERE: [Place; 3] = [Place::Admission, Place::Kwctl, Place::Ci];

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

    /// Every rule on a CREATE of `object`, with no cluster to read.
    fn run(kind: Kind, object: &Object, settings: &Settings) -> Findings {
        evaluate(&Context {
            kind,
            object,
            request: &CREATE,
            settings,
            host: &crate::cluster::Wapc,
            details: true,
        })
    }

    #[test]
    fn a_malformed_spec_is_reported_once_for_all_rules() {
        let kind = Kind::DaemonSet;
        let text = json!({"spec": "x"}).to_string();
        let object = Object::decode(&text, shape(kind)).expect("JSON");
        let findings = run(kind, &object, &Settings::default());
        assert_eq!(
            findings.violation_messages(),
            vec!["spec must be a map, not a string"]
        );
    }

    /// `specFields` (which reads the last-applied annotation) and
    /// `labelMapValues` word a malformed annotations map alike: it is
    /// reported once.
    #[test]
    fn malformed_annotations_are_reported_once() {
        let kind = Kind::Deployment;
        let text = json!({"metadata": {"name": "a", "annotations": ["x"]},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "a"}}}}})
        .to_string();
        let object = Object::decode(&text, shape(kind)).expect("JSON");
        let findings = run(kind, &object, &Settings::default());
        assert_eq!(
            findings.violation_messages(),
            vec![
                "metadata.annotations must be a map of annotation keys to string values, not a list"
            ]
        );
    }

    /// Every part a rule reads is in its kind's shape: for each kind, a full
    /// object and its shaped decode get the same findings.
    #[test]
    fn shapes_cover_what_the_rules_read() {
        let fields: Vec<(String, Value)> = spec_fields::foreign_fields(Kind::ReplicaSet)
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
        let kinds = WORKLOAD_KINDS;
        let settings = Settings {
            template_labels_kinds: kinds.to_vec(),
            ..Settings::default()
        };
        let mut cases: Vec<(Kind, Value)> = kinds.iter().map(|&w| (w, object.clone())).collect();
        cases.retain(|(kind, _)| *kind != Kind::CronJob);
        cases.push((
            Kind::CronJob,
            json!({"metadata": {"name": "c"}, "spec": {"schedule": "* * * * *",
                "jobTemplate": {"spec": spec_of(&fields)}}}),
        ));
        cases.push((Kind::Service, service.clone()));
        cases.push((
            Kind::ReplicationController,
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
            let expected = run(kind, &whole, &settings);
            assert!(!expected.is_empty(), "{kind:?}: the case finds something");
            assert_eq!(run(kind, &shaped, &settings), expected, "{kind:?}");
        }
    }

    #[test]
    fn label_maps_are_the_captures_of_a_shape() {
        assert_eq!(
            label_maps(Kind::Service),
            ["metadata.labels", "metadata.annotations", "spec.selector"]
        );
        let cron = label_maps(Kind::CronJob);
        assert!(cron.contains(&"spec.jobTemplate.spec.template.spec.nodeSelector"));
        assert!(cron.contains(&"spec.jobTemplate.metadata.labels"));
        for kind in APPS_KINDS {
            assert!(label_maps(kind).contains(&"spec.selector.matchLabels"));
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
