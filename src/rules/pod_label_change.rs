//! `podLabelChange` (context-aware, UPDATE of a v1 Pod whose labels
//! change): warnings only, never a rejection or a patch.
//!
//! A pod whose labels stop matching its controller's selector is released
//! and replaced, and keeps running unmanaged; a pod whose labels stop (or
//! start) matching a Service's selector leaves (or joins) its endpoints
//! (pkg/controller/controller_ref_manager.go). Both are done on purpose, to debug a pod or to take it
//! out of rotation, so the user is told what follows, not refused.
//! Controllers of kinds this policy does not read (custom resources, Nodes
//! for static pods) are skipped without a word.

use super::{Defaults, EVERYWHERE, Kind, Operation, Rule, RuleMode, lookup, not_checked};
use crate::cluster::{self, Host};
use crate::cluster::{Controller, OwnerReference, Service};
use crate::findings::{Finding, Findings};
use crate::object::Object;
use crate::selector::{self, Labels, Selector};
use crate::settings::WarnMode;
use serde_json::Value;
use std::collections::BTreeSet;

/// What happened to the keys `selector` reads: `app removed (was rng)`,
/// `active changed from yes to no`, `canary=true added`.
fn changes(selector: &Selector, old: &Labels, new: &Labels) -> String {
    let Selector::All(requirements) = selector else {
        return String::new();
    };
    let mut keys = BTreeSet::new();
    keys.extend(requirements.iter().map(|r| r.key));
    let parts: Vec<String> = keys
        .into_iter()
        .filter_map(|key| match (old.get(key), new.get(key)) {
            (Some(was), None) => Some(format!("{key} removed (was {was})")),
            (None, Some(now)) => Some(format!("{key}={now} added")),
            (Some(was), Some(now)) if was != now => {
                Some(format!("{key} changed from {was} to {now}"))
            }
            _ => None,
        })
        .collect();
    parts.join(", ")
}

/// The warning when the pod's controller (`owner`, read as `controller`)
/// matched the old labels and does not match the new ones.
pub fn check_controller(
    old: &Labels,
    new: &Labels,
    owner: &OwnerReference,
    resource: Kind,
    controller: &Controller,
) -> Option<String> {
    let uid = controller.metadata.uid.as_str();
    if !owner.uid.is_empty() && !uid.is_empty() && owner.uid != uid {
        // Another object of that name: the reference is stale.
        return None;
    }
    let template_labels = selector::parse_labels(
        Some(&controller.spec.template.metadata.labels),
        "spec.template.metadata.labels",
    )
    .0;
    let selector = selector::of_controller(
        resource == Kind::ReplicationController,
        &controller.spec.selector,
        &template_labels,
    );
    if !selector.matches(old) || selector.matches(new) {
        return None;
    }
    let kind = resource.name();
    let restore: Vec<String> = selector
        .unsatisfied(new)
        .filter_map(|r| old.get(r.key).map(|value| format!("{}={value}", r.key)))
        .collect();
    Some(format!(
        "its new labels no longer match the selector {} of its controller {kind} {} ({}): \
         the {kind} releases this pod and creates a replacement, and this pod keeps running, \
         unmanaged; restore {} to keep it managed, or delete the pod when you are done with it",
        selector.kubectl(),
        owner.name,
        changes(&selector, old, new),
        restore.join(","),
    ))
}

/// One warning per Service (not ExternalName, with a non-empty selector)
/// that selected the pod before and no longer does, or the reverse.
pub fn check_services(old: &Labels, new: &Labels, services: &[Service]) -> Vec<String> {
    let mut warnings = Vec::new();
    for service in services {
        if service.spec.service_type == "ExternalName" {
            continue;
        }
        let labels = selector::parse_labels(Some(&service.spec.selector), "spec.selector").0;
        if labels.is_empty() {
            continue;
        }
        let selector = Selector::from_labels(&labels);
        let (before, after) = (selector.matches(old), selector.matches(new));
        let what = match (before, after) {
            (true, false) => "leaves",
            (false, true) => "joins",
            _ => continue,
        };
        let effect = if before {
            "it no longer receives the Service's traffic"
        } else {
            "it receives the Service's traffic once it is ready"
        };
        warnings.push(format!(
            "{what} the endpoints of Service {} (selector {}; {}): {effect}",
            service.metadata.name,
            selector.kubectl(),
            changes(&selector, old, new),
        ));
    }
    warnings
}

/// `podLabelChange`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "podLabelChange",
    summary: "a Pod UPDATE whose label change detaches it from its controller, or moves it into or out of a Service (warnings only)",
    kinds: &[Kind::Pod],
    operations: &[Operation::Update],
    unregistered: &[],
    modes: &[RuleMode::Warn, RuleMode::Off],
    default: Defaults {
        admission: RuleMode::Off,
        ci: RuleMode::Warn,
    },
    options: &[],
    reads: &[
        "metadata.labels",
        "metadata.ownerReferences",
        "oldObject.metadata.labels",
    ],
    cluster_reads: &[
        Kind::Service,
        Kind::ReplicaSet,
        Kind::DaemonSet,
        Kind::StatefulSet,
        Kind::ReplicationController,
        Kind::Job,
    ],
    reads_old_object: true,
    fires: &EVERYWHERE,
    enabled: |settings, _| settings.pod_label_change == WarnMode::Warn,
    check: |cx| match cx.request.old {
        Some(old) => run(cx.object, old, cx.request.namespace, cx.host),
        None => Findings::default(),
    },
    custom: None,
};

/// Gets the pod's controller (when it is of a kind this policy reads) and
/// lists the namespace's Services, only when the labels changed.
fn run(object: &Object, old: &Object, namespace: &str, host: &dyn Host) -> Findings {
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
    let mut warnings = Vec::new();
    let mut unread = Vec::new();
    // The controller, when it is of a kind this policy reads; owners of
    // other kinds (custom resources, a Node for a static pod) are skipped.
    let owner = object
        .value
        .get("metadata")
        .and_then(|metadata| cluster::from_value::<cluster::Metadata>(metadata).ok())
        .and_then(|m| m.controller().cloned())
        .and_then(|owner| {
            Kind::from_api_version(&owner.api_version, &owner.kind)
                .filter(|kind| kind.roles().pod_owner)
                .map(|resource| (owner, resource))
        });
    if let Some((owner, resource)) = owner {
        match cluster::get::<Controller>(host, resource, &owner.name, namespace) {
            Ok(controller) => {
                warnings.extend(check_controller(&old, &new, &owner, resource, &controller))
            }
            Err(err) => unread.push(err),
        }
    }
    match cluster::list::<Service>(host, Kind::Service, namespace) {
        Ok(services) => warnings.extend(check_services(&old, &new, &services)),
        Err(err) => unread.push(err),
    }
    let mut findings = Findings {
        warnings: warnings
            .into_iter()
            .map(|message| Finding::warn("metadata.labels", message))
            .collect(),
        ..Findings::default()
    };
    if !unread.is_empty() {
        findings.warnings.push(not_checked(RULE.id, &unread));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn labels(value: &Value) -> Labels<'_> {
        selector::parse_labels(Some(value), "metadata.labels").0
    }

    fn replicaset() -> Controller {
        serde_json::from_value(json!({
            "metadata": {"name": "rng-54f57d4d49", "uid": "r-1"},
            "spec": {"selector": {"matchLabels": {"app": "rng", "pod-template-hash": "54f57d4d49"}},
                     "template": {"metadata": {"labels": {"app": "rng", "pod-template-hash": "54f57d4d49"}}}}
        }))
        .expect("a ReplicaSet")
    }

    fn owner(uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "rng-54f57d4d49".into(),
            uid: uid.into(),
            controller: true,
        }
    }

    #[test]
    fn removing_the_app_label_detaches_the_pod() {
        let old = json!({"app": "rng", "pod-template-hash": "54f57d4d49"});
        let new = json!({"pod-template-hash": "54f57d4d49"});
        let warning = check_controller(
            &labels(&old),
            &labels(&new),
            &owner("r-1"),
            Kind::ReplicaSet,
            &replicaset(),
        );
        assert_eq!(
            warning.as_deref(),
            Some(
                "its new labels no longer match the selector app=rng,pod-template-hash=54f57d4d49 \
                 of its controller ReplicaSet rng-54f57d4d49 (app removed (was rng)): the ReplicaSet \
                 releases this pod and creates a replacement, and this pod keeps running, unmanaged; \
                 restore app=rng to keep it managed, or delete the pod when you are done with it"
            )
        );
        // A stale reference (another object of that name) says nothing.
        assert_eq!(
            check_controller(
                &labels(&old),
                &labels(&new),
                &owner("other"),
                Kind::ReplicaSet,
                &replicaset()
            ),
            None
        );
        // A change the selector does not read says nothing.
        let relabeled = json!({"app": "rng", "pod-template-hash": "54f57d4d49", "debug": "true"});
        assert_eq!(
            check_controller(
                &labels(&old),
                &labels(&relabeled),
                &owner("r-1"),
                Kind::ReplicaSet,
                &replicaset()
            ),
            None
        );
    }

    #[test]
    fn services_are_left_and_joined() {
        let services: Vec<Service> = serde_json::from_value(json!([
            {"metadata": {"name": "rng"}, "spec": {"selector": {"app": "rng", "active": "yes"}}},
            {"metadata": {"name": "debug"}, "spec": {"selector": {"debug": "true"}}},
            {"metadata": {"name": "all"}, "spec": {"selector": {"app": "rng"}}},
            {"metadata": {"name": "manual"}, "spec": {}},
            {"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "selector": {"debug": "true"}}},
        ]))
        .expect("services");
        let old = json!({"app": "rng", "active": "yes"});
        let new = json!({"app": "rng", "debug": "true"});
        assert_eq!(
            check_services(&labels(&old), &labels(&new), &services),
            [
                "leaves the endpoints of Service rng (selector active=yes,app=rng; active removed (was yes)): \
                 it no longer receives the Service's traffic",
                "joins the endpoints of Service debug (selector debug=true; debug=true added): \
                 it receives the Service's traffic once it is ready",
            ]
        );
    }
}
