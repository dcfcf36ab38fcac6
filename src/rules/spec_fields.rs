//! Rule 1 (`specFields`): fields an apps/v1 workload's spec does not have
//! but a sibling's spec does — what is left over when a manifest's `kind` is
//! changed (a Deployment made a DaemonSet, a StatefulSet made a Deployment,
//! a StatefulSet's fields copied into a ReplicaSet).
//!
//! The four specs (DaemonSetSpec, DeploymentSpec, ReplicaSetSpec,
//! StatefulSetSpec; k8s-openapi 0.28) all have `selector`, `template` and
//! `minReadySeconds`; the others belong to some of them only. Each foreign
//! field gets its own reason and fix, naming the counterpart where one exists
//! (`strategy` and `updateStrategy`) and saying so where a value has none.
//!
//! Looks in the object (what `kwctl run` sees on a manifest) and in the
//! manifest that client-side `kubectl apply` keeps in the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation (the only
//! place such fields survive in a live cluster, where decoding drops them).

use super::lookup;
use super::{
    APPS_KINDS, CHECK_MODES, CREATE_AND_UPDATE, Defaults, EVERYWHERE, Kind, Rule, RuleMode,
};
use crate::findings::{Action, ErrorKind, FieldError, Finding, Findings};
use crate::labels::{MapValues, expected_map};
use crate::object::Key;
use crate::settings::{Mode, Settings};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The spec fields that some, but not all, of the four kinds have, in
/// message order (DeploymentSpec's, then StatefulSetSpec's).
const SIBLING_FIELDS: [&str; 11] = [
    "replicas",
    "strategy",
    "updateStrategy",
    "paused",
    "progressDeadlineSeconds",
    "revisionHistoryLimit",
    "serviceName",
    "volumeClaimTemplates",
    "podManagementPolicy",
    "persistentVolumeClaimRetentionPolicy",
    "ordinals",
];

/// Whether `kind`'s spec has `field` (of [`SIBLING_FIELDS`]).
fn has(kind: Kind, field: &str) -> bool {
    match kind {
        Kind::DaemonSet => matches!(field, "updateStrategy" | "revisionHistoryLimit"),
        Kind::Deployment => matches!(
            field,
            "replicas" | "strategy" | "paused" | "progressDeadlineSeconds" | "revisionHistoryLimit"
        ),
        Kind::ReplicaSet => field == "replicas",
        Kind::StatefulSet => !matches!(field, "strategy" | "paused" | "progressDeadlineSeconds"),
        // Not an apps/v1 workload: not judged.
        _ => true,
    }
}

/// The fields `kind`'s spec lacks and a sibling's has, in message order.
pub fn foreign_fields(kind: Kind) -> impl Iterator<Item = &'static str> {
    SIBLING_FIELDS.into_iter().filter(move |f| !has(kind, f))
}

/// Why `field` does not belong in `kind`'s spec, and the fix.
fn explanation(kind: Kind, field: &str) -> &'static str {
    use Kind::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
    match (field, kind) {
        ("replicas", _) => {
            "a DaemonSet runs one pod on every eligible node, so it has no replica count; remove spec.replicas and choose the nodes with nodeSelector, affinity or tolerations"
        }
        ("strategy", DaemonSet) => {
            "DaemonSets use spec.updateStrategy (type RollingUpdate or OnDelete; Recreate does not exist for DaemonSets, and rollingUpdate.maxSurge may not be set when maxUnavailable is non-zero); rename spec.strategy to spec.updateStrategy"
        }
        ("strategy", StatefulSet) => {
            "StatefulSets use spec.updateStrategy (type RollingUpdate, with rollingUpdate.partition and maxUnavailable, or OnDelete; Recreate and rollingUpdate.maxSurge do not exist for StatefulSets); rename spec.strategy to spec.updateStrategy without them"
        }
        ("strategy" | "updateStrategy", ReplicaSet) => {
            "a ReplicaSet does not replace its pods when its template changes, so it has no update strategy; remove the field, or use a Deployment to roll out template changes"
        }
        ("updateStrategy", _) => {
            "Deployments use spec.strategy (type RollingUpdate or Recreate; a DaemonSet's or StatefulSet's OnDelete and a StatefulSet's rollingUpdate.partition have no equivalent in a Deployment); rename spec.updateStrategy to spec.strategy"
        }
        ("paused", _) => "only a Deployment's rollout can be paused; remove spec.paused",
        ("progressDeadlineSeconds", DaemonSet) => {
            "only a Deployment has a progress deadline; remove spec.progressDeadlineSeconds and use spec.minReadySeconds or `kubectl rollout status --timeout` instead"
        }
        ("progressDeadlineSeconds", _) => {
            "only a Deployment has a progress deadline; remove spec.progressDeadlineSeconds"
        }
        ("revisionHistoryLimit", _) => {
            "a ReplicaSet keeps no revision history (a Deployment keeps its old ReplicaSets as its history); remove spec.revisionHistoryLimit"
        }
        ("serviceName", DaemonSet) => {
            "it names a StatefulSet's governing Service, which gives pods stable network identities a DaemonSet does not have; remove spec.serviceName"
        }
        ("serviceName", Deployment) => {
            "it names a StatefulSet's governing Service, which gives pods stable network identities that a Deployment's interchangeable pods do not have; remove spec.serviceName, or make this a StatefulSet if its pods need stable identities"
        }
        ("serviceName", _) => {
            "it names a StatefulSet's governing Service, which gives pods stable network identities that a ReplicaSet's interchangeable pods do not have; remove spec.serviceName, or make this a StatefulSet if its pods need stable identities"
        }
        ("volumeClaimTemplates", DaemonSet) => {
            "only a StatefulSet creates a PersistentVolumeClaim per pod; remove spec.volumeClaimTemplates and mount volumes through spec.template.spec.volumes (for example hostPath or an existing claim)"
        }
        ("volumeClaimTemplates", _) => {
            "only a StatefulSet creates a PersistentVolumeClaim per pod; remove spec.volumeClaimTemplates and mount an existing claim through spec.template.spec.volumes, or make this a StatefulSet if each pod needs its own volume"
        }
        ("podManagementPolicy", DaemonSet) => {
            "it orders a StatefulSet's pods, while a DaemonSet places one pod per node; remove spec.podManagementPolicy"
        }
        ("podManagementPolicy", _) => {
            "it orders a StatefulSet's pods, while these pods are interchangeable and start together; remove spec.podManagementPolicy"
        }
        ("persistentVolumeClaimRetentionPolicy", _) => {
            "it governs claims made from a StatefulSet's volumeClaimTemplates; remove spec.persistentVolumeClaimRetentionPolicy"
        }
        ("ordinals", DaemonSet) => {
            "it numbers a StatefulSet's pods, and DaemonSet pods have no ordinals; remove spec.ordinals"
        }
        ("ordinals", _) => {
            "it numbers a StatefulSet's pods, and these pods have no ordinals; remove spec.ordinals"
        }
        _ => "remove it",
    }
}

/// Of the annotated manifest, only which foreign fields its spec has;
/// everything else is skipped unbuilt.
#[derive(Deserialize)]
struct LastApplied {
    #[serde(default)]
    spec: Option<ForeignKeys>,
}

/// Which of [`SIBLING_FIELDS`] a spec map holds.
#[derive(Default)]
struct ForeignKeys([bool; SIBLING_FIELDS.len()]);

impl ForeignKeys {
    fn contains(&self, field: &str) -> bool {
        SIBLING_FIELDS
            .iter()
            .zip(self.0)
            .any(|(name, present)| present && *name == field)
    }
}

impl<'de> Deserialize<'de> for ForeignKeys {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = ForeignKeys;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ForeignKeys, A::Error> {
                let mut keys = ForeignKeys::default();
                while let Some(Key(key)) = map.next_key()? {
                    map.next_value::<IgnoredAny>()?;
                    let found = SIBLING_FIELDS.iter().position(|f| *f == key);
                    if let Some(slot) = found.and_then(|i| keys.0.get_mut(i)) {
                        *slot = true;
                    }
                }
                Ok(keys)
            }
        }
        deserializer.deserialize_map(KeysVisitor)
    }
}

/// Every field of [`SIBLING_FIELDS`] that `kind`'s spec lacks, found in
/// `workload`'s spec or in its last-applied annotation, reported by
/// `specFields`' mode: `spec.replicas is not a DaemonSet field (in the
/// object): <why and the fix>`.
pub fn check(kind: Kind, workload: &Value, settings: &Settings) -> Findings {
    let mut findings = Findings::default();
    let mode = settings.spec_fields;
    if !settings.checks_spec_fields_of(kind) {
        return findings;
    }
    let spec = match lookup(workload, &["spec"]) {
        Ok(Some(Value::Object(spec))) => Some(spec),
        Ok(None) => None,
        Ok(Some(other)) => {
            findings
                .violations
                .push(FieldError::malformed("spec", "a map", other).into());
            return findings;
        }
        Err(err) => {
            findings.violations.push(err.into());
            return findings;
        }
    };
    let last_applied = if settings.check_last_applied_configuration {
        last_applied_spec_keys(workload, &mut findings)
    } else {
        None
    };
    for field in foreign_fields(kind) {
        let in_object = spec.is_some_and(|spec| spec.contains_key(field));
        let in_annotation = last_applied
            .as_ref()
            .is_some_and(|keys| keys.contains(field));
        let source = match (in_object, in_annotation) {
            (false, false) => continue,
            (true, false) => "in the object",
            (false, true) => "in the last-applied-configuration annotation",
            (true, true) => "in the object and in the last-applied-configuration annotation",
        };
        // `spec.<field> is not a <Kind> field (<source>): <explanation>`,
        // assembled from constant parts (nine of these make a long message).
        let parts = [
            "spec.",
            field,
            " is not a ",
            kind.name(),
            " field (",
            source,
            "): ",
            explanation(kind, field),
        ];
        let mut paths = Vec::with_capacity(2);
        if in_object {
            paths.push(["spec.", field].concat());
        }
        if in_annotation {
            paths.push(last_applied_path());
        }
        let action = match mode {
            Mode::Reject => Action::Reject,
            Mode::Warn => Action::Warn,
            Mode::Off => continue,
        };
        let finding = Finding {
            paths,
            ..Finding::at("", action, parts.concat())
        };
        findings.push(finding);
    }
    findings
}

/// `metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]`.
fn last_applied_path() -> String {
    ["metadata.annotations[", LAST_APPLIED, "]"].concat()
}

/// The keys of `spec` in the last-applied manifest. An annotation that cannot
/// be read is not a violation: it gets a warning and is skipped.
fn last_applied_spec_keys(workload: &Value, findings: &mut Findings) -> Option<ForeignKeys> {
    // Named only in warnings, so built only for one.
    let path = last_applied_path;
    let annotation = match lookup(workload, &["metadata", "annotations", LAST_APPLIED]) {
        Ok(Some(Value::String(text))) => text,
        Ok(None) => return None,
        Ok(Some(other)) => {
            findings.warn(
                path(),
                format!(
                    "{} must be a string, not {}; it was not checked for fields of other workload kinds",
                    path(),
                    crate::findings::type_name(other)
                ),
            );
            return None;
        }
        Err(mut err) => {
            // Worded as `labelMapValues` words it, so that a malformed
            // annotations map is reported once.
            if err.path == "metadata.annotations"
                && let ErrorKind::Malformed { expected, .. } = &mut err.kind
            {
                *expected = expected_map(MapValues::Annotations);
            }
            findings.violations.push(err.into());
            return None;
        }
    };
    match serde_json::from_str::<LastApplied>(annotation) {
        Ok(manifest) => manifest.spec,
        Err(err) => {
            findings.warn(
                path(),
                format!(
                    "{} is not a JSON manifest ({err}); it was not checked for fields of other workload kinds",
                    path()
                ),
            );
            None
        }
    }
}

/// `specFields`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "specFields",
    summary: "an apps/v1 workload carries spec fields of another workload kind (a DaemonSet made from a Deployment keeps replicas and strategy)",
    kinds: &APPS_KINDS,
    operations: &CREATE_AND_UPDATE,
    unregistered: &[],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Reject,
        ci: RuleMode::Reject,
    },
    options: &["specFieldsKinds", "checkLastAppliedConfiguration"],
    reads: &[
        "spec: which of the sibling kinds' fields it holds",
        "metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]",
    ],
    cluster_reads: &[],
    reads_old_object: false,
    fires: &EVERYWHERE,
    enabled: |settings, kind| kind.roles().apps && settings.checks_spec_fields_of(kind),
    check: |cx| check(cx.kind, &cx.object.value, cx.settings),
    custom: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_default(object: Value) -> Findings {
        check(Kind::DaemonSet, &object, &Settings::default())
    }

    #[test]
    fn every_foreign_field_is_reported_in_order() {
        let spec: serde_json::Map<String, Value> = SIBLING_FIELDS
            .iter()
            .rev()
            .map(|f| (f.to_string(), json!(1)))
            .collect();
        for kind in APPS_KINDS {
            let findings = check(kind, &json!({ "spec": spec }), &Settings::default());
            let foreign: Vec<&str> = foreign_fields(kind).collect();
            assert_eq!(findings.violations.len(), foreign.len(), "{kind:?}");
            for (violation, field) in findings.violations.iter().zip(&foreign) {
                let prefix = format!(
                    "spec.{field} is not a {} field (in the object): ",
                    kind.name()
                );
                assert!(violation.message.starts_with(&prefix), "{violation:?}");
                assert_ne!(explanation(kind, field), "remove it", "{kind:?} {field}");
            }
        }
    }

    /// The fields each apps/v1 spec has (k8s.io/api `apps/v1/types.go`).
    #[test]
    fn foreign_fields_follow_the_four_specs() {
        let foreign = |kind| foreign_fields(kind).collect::<Vec<_>>();
        assert_eq!(
            foreign(Kind::DaemonSet),
            [
                "replicas",
                "strategy",
                "paused",
                "progressDeadlineSeconds",
                "serviceName",
                "volumeClaimTemplates",
                "podManagementPolicy",
                "persistentVolumeClaimRetentionPolicy",
                "ordinals"
            ]
        );
        assert_eq!(
            foreign(Kind::Deployment),
            [
                "updateStrategy",
                "serviceName",
                "volumeClaimTemplates",
                "podManagementPolicy",
                "persistentVolumeClaimRetentionPolicy",
                "ordinals"
            ]
        );
        assert_eq!(
            foreign(Kind::ReplicaSet),
            [
                "strategy",
                "updateStrategy",
                "paused",
                "progressDeadlineSeconds",
                "revisionHistoryLimit",
                "serviceName",
                "volumeClaimTemplates",
                "podManagementPolicy",
                "persistentVolumeClaimRetentionPolicy",
                "ordinals"
            ]
        );
        assert_eq!(
            foreign(Kind::StatefulSet),
            ["strategy", "paused", "progressDeadlineSeconds"]
        );
    }

    #[test]
    fn counterparts_are_named_and_missing_equivalents_said() {
        let object = json!({"spec": {"updateStrategy": {"type": "OnDelete"}, "strategy": {}}});
        let deployment = check(Kind::Deployment, &object, &Settings::default());
        assert_eq!(deployment.violations.len(), 1);
        assert!(
            deployment.violations[0]
                .message
                .contains("rename spec.updateStrategy to spec.strategy")
        );
        assert!(deployment.violations[0].message.contains("OnDelete and a StatefulSet's rollingUpdate.partition have no equivalent in a Deployment"));
        let statefulset = check(Kind::StatefulSet, &object, &Settings::default());
        assert_eq!(statefulset.violations.len(), 1);
        assert!(
            statefulset.violations[0]
                .message
                .contains("rename spec.strategy to spec.updateStrategy")
        );
        let only = Settings {
            spec_fields_kinds: vec![Kind::DaemonSet],
            ..Settings::default()
        };
        assert!(check(Kind::Deployment, &object, &only).is_empty());
    }

    #[test]
    fn sources_are_named() {
        let annotation = json!({"spec": {"replicas": 2, "strategy": {}}}).to_string();
        let findings = check_default(json!({
            "metadata": {"annotations": {LAST_APPLIED: annotation}},
            "spec": {"replicas": 1, "updateStrategy": {}}
        }));
        assert_eq!(findings.violations.len(), 2, "{findings:?}");
        assert!(
            findings.violations[0]
                .message
                .contains("(in the object and in the last-applied-configuration annotation)")
        );
        assert!(findings.violations[1].message.contains(
            "spec.strategy is not a DaemonSet field (in the last-applied-configuration annotation)"
        ));
    }

    #[test]
    fn annotation_is_ignored_when_disabled() {
        let annotation = json!({"spec": {"replicas": 2}}).to_string();
        let object = json!({"metadata": {"annotations": {LAST_APPLIED: annotation}}, "spec": {}});
        let settings = Settings {
            check_last_applied_configuration: false,
            ..Settings::default()
        };
        assert!(check(Kind::DaemonSet, &object, &settings).is_empty());
    }

    #[test]
    fn unreadable_annotation_warns() {
        for bad in [
            json!("{not json"),
            json!("[1]"),
            json!("{\"spec\": 3}"),
            json!(7),
        ] {
            let findings = check_default(
                json!({"metadata": {"annotations": {LAST_APPLIED: bad}}, "spec": {}}),
            );
            assert!(findings.violations.is_empty(), "{findings:?}");
            assert_eq!(findings.warnings.len(), 1, "{bad}: {findings:?}");
            assert!(findings.warnings[0].message.contains("it was not checked"));
        }
    }

    #[test]
    fn warn_and_off_modes() {
        let object = json!({"spec": {"replicas": 1}});
        let warn = check(
            Kind::DaemonSet,
            &object,
            &Settings {
                spec_fields: Mode::Warn,
                ..Settings::default()
            },
        );
        assert!(warn.violations.is_empty());
        assert_eq!(warn.warnings.len(), 1);
        assert!(
            check(
                Kind::DaemonSet,
                &object,
                &Settings {
                    spec_fields: Mode::Off,
                    ..Settings::default()
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn malformed_spec_is_rejected() {
        let findings = check_default(json!({"spec": "replicas: 1"}));
        assert_eq!(
            findings.violation_messages(),
            vec!["spec must be a map, not a string"]
        );
    }
}
