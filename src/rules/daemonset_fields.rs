//! Rule 1 (`daemonSetFields`): fields a DaemonSet spec does not have but a
//! Deployment or StatefulSet spec does — what is left over when a manifest's
//! `kind` is changed to DaemonSet.
//!
//! Looks in the object (what `kwctl run` sees on a manifest) and in the
//! manifest that client-side `kubectl apply` keeps in the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation (the only
//! place such fields survive in a live cluster, where decoding drops them).

use super::lookup;
use crate::findings::Findings;
use crate::object::Key;
use crate::settings::{Mode, Settings};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A spec field that DaemonSetSpec lacks: its name, and why plus the fix.
struct Foreign {
    field: &'static str,
    explanation: &'static str,
}

/// In DeploymentSpec/StatefulSet field order; messages follow this order.
const FOREIGN_FIELDS: [Foreign; 9] = [
    Foreign {
        field: "replicas",
        explanation: "a DaemonSet runs one pod on every eligible node, so it has no replica count; remove spec.replicas and choose the nodes with nodeSelector, affinity or tolerations",
    },
    Foreign {
        field: "strategy",
        explanation: "DaemonSets use spec.updateStrategy (type RollingUpdate or OnDelete; Recreate does not exist for DaemonSets); rename spec.strategy to spec.updateStrategy",
    },
    Foreign {
        field: "paused",
        explanation: "only a Deployment's rollout can be paused; remove spec.paused",
    },
    Foreign {
        field: "progressDeadlineSeconds",
        explanation: "only a Deployment has a progress deadline; remove spec.progressDeadlineSeconds and use spec.minReadySeconds or `kubectl rollout status --timeout` instead",
    },
    Foreign {
        field: "serviceName",
        explanation: "it names a StatefulSet's governing Service, which gives pods stable network identities a DaemonSet does not have; remove spec.serviceName",
    },
    Foreign {
        field: "volumeClaimTemplates",
        explanation: "only a StatefulSet creates a PersistentVolumeClaim per pod; remove spec.volumeClaimTemplates and mount volumes through spec.template.spec.volumes (for example hostPath or an existing claim)",
    },
    Foreign {
        field: "podManagementPolicy",
        explanation: "it orders a StatefulSet's pods, while a DaemonSet places one pod per node; remove spec.podManagementPolicy",
    },
    Foreign {
        field: "persistentVolumeClaimRetentionPolicy",
        explanation: "it governs claims made from a StatefulSet's volumeClaimTemplates; remove spec.persistentVolumeClaimRetentionPolicy",
    },
    Foreign {
        field: "ordinals",
        explanation: "it numbers a StatefulSet's pods, and DaemonSet pods have no ordinals; remove spec.ordinals",
    },
];

/// The spec fields this rule looks for, in message order.
pub fn foreign_field_names() -> impl Iterator<Item = &'static str> {
    FOREIGN_FIELDS.iter().map(|f| f.field)
}

/// Of the annotated manifest, only which foreign fields its spec has;
/// everything else is skipped unbuilt.
#[derive(Deserialize)]
struct LastApplied {
    #[serde(default)]
    spec: Option<ForeignKeys>,
}

/// Which of [`FOREIGN_FIELDS`] a spec map holds.
#[derive(Default)]
struct ForeignKeys([bool; FOREIGN_FIELDS.len()]);

impl ForeignKeys {
    fn contains(&self, field: &str) -> bool {
        FOREIGN_FIELDS
            .iter()
            .zip(self.0)
            .any(|(foreign, present)| present && foreign.field == field)
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
                    let found = FOREIGN_FIELDS.iter().position(|f| f.field == key);
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

pub fn check(daemonset: &Value, settings: &Settings) -> Findings {
    let mut findings = Findings::default();
    let mode = settings.daemon_set_fields;
    if mode == Mode::Off {
        return findings;
    }
    let spec = match lookup(daemonset, &["spec"]) {
        Ok(Some(Value::Object(spec))) => Some(spec),
        Ok(None) => None,
        Ok(Some(other)) => {
            findings.violations.push(format!(
                "spec must be a map, not {}",
                crate::findings::type_name(other)
            ));
            return findings;
        }
        Err(err) => {
            findings.violations.push(err.to_string());
            return findings;
        }
    };
    let last_applied = if settings.check_last_applied_configuration {
        last_applied_spec_keys(daemonset, &mut findings)
    } else {
        None
    };
    for foreign in &FOREIGN_FIELDS {
        let in_object = spec.is_some_and(|spec| spec.contains_key(foreign.field));
        let in_annotation = last_applied
            .as_ref()
            .is_some_and(|keys| keys.contains(foreign.field));
        let source = match (in_object, in_annotation) {
            (false, false) => continue,
            (true, false) => "in the object",
            (false, true) => "in the last-applied-configuration annotation",
            (true, true) => "in the object and in the last-applied-configuration annotation",
        };
        // `spec.<field> is not a DaemonSet field (<source>): <explanation>`,
        // assembled from constant parts (nine of these make a long message).
        let parts = [
            "spec.",
            foreign.field,
            " is not a DaemonSet field (",
            source,
            "): ",
            foreign.explanation,
        ];
        findings.report(mode, parts.concat());
    }
    findings
}

/// The keys of `spec` in the last-applied manifest. An annotation that cannot
/// be read is not a violation: it gets a warning and is skipped.
fn last_applied_spec_keys(daemonset: &Value, findings: &mut Findings) -> Option<ForeignKeys> {
    // Named only in warnings, so built only for one.
    let path = || format!("metadata.annotations[{LAST_APPLIED}]");
    let annotation = match lookup(daemonset, &["metadata", "annotations", LAST_APPLIED]) {
        Ok(Some(Value::String(text))) => text,
        Ok(None) => return None,
        Ok(Some(other)) => {
            findings.warnings.push(format!(
                "{} must be a string, not {}; it was not checked for Deployment or StatefulSet fields",
                path(),
                crate::findings::type_name(other)
            ));
            return None;
        }
        Err(err) => {
            findings.violations.push(err.to_string());
            return None;
        }
    };
    match serde_json::from_str::<LastApplied>(annotation) {
        Ok(manifest) => manifest.spec,
        Err(err) => {
            findings.warnings.push(format!(
                "{} is not a JSON manifest ({err}); it was not checked for Deployment or StatefulSet fields",
                path()
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_default(object: Value) -> Findings {
        check(&object, &Settings::default())
    }

    #[test]
    fn every_foreign_field_is_reported_in_order() {
        let spec: serde_json::Map<String, Value> = FOREIGN_FIELDS
            .iter()
            .rev()
            .map(|f| (f.field.to_string(), json!(1)))
            .collect();
        let findings = check_default(json!({ "spec": spec }));
        assert_eq!(findings.violations.len(), FOREIGN_FIELDS.len());
        for (violation, foreign) in findings.violations.iter().zip(&FOREIGN_FIELDS) {
            assert!(violation.starts_with(&format!(
                "spec.{} is not a DaemonSet field (in the object)",
                foreign.field
            )));
        }
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
                .contains("(in the object and in the last-applied-configuration annotation)")
        );
        assert!(findings.violations[1].contains(
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
        assert!(check(&object, &settings).is_empty());
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
            assert!(findings.warnings[0].contains("it was not checked"));
        }
    }

    #[test]
    fn warn_and_off_modes() {
        let object = json!({"spec": {"replicas": 1}});
        let warn = check(
            &object,
            &Settings {
                daemon_set_fields: Mode::Warn,
                ..Settings::default()
            },
        );
        assert!(warn.violations.is_empty());
        assert_eq!(warn.warnings.len(), 1);
        assert!(
            check(
                &object,
                &Settings {
                    daemon_set_fields: Mode::Off,
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
            findings.violations,
            vec!["spec must be a map, not a string"]
        );
    }
}
