//! `controllerOverlap` (context-aware, CREATE and UPDATE of a DaemonSet,
//! Deployment, ReplicaSet, StatefulSet or ReplicationController): another
//! controller of the namespace whose pods this one's selector matches, or
//! whose selector matches this one's pods.
//!
//! That is the Deployment controller's historic `overlapsWith` test
//! (pkg/controller/controller_ref_manager.go). Kubernetes' docs say controllers must not overlap and
//! nothing stops it: orphans are adopted by whichever controller syncs
//! first, and Services, PodDisruptionBudgets and `kubectl get -l` span both
//! sets of pods. Not reported:
//! - the object itself (same `metadata.uid`, else same kind and name);
//! - a controller that this one owns (a Deployment's own ReplicaSets);
//! - on UPDATE, a controller the old object already overlapped: that is
//!   not news, and refusing it would block every later update;
//! - anything when this object has a controller owner (a ReplicaSet made by
//!   a Deployment): its owner was judged when it was written, and refusing
//!   it would stall the owner's rollout.
//!
//! A listed controller with a controller owner is reported as its owner,
//! once: a Deployment, not each of its ReplicaSets. Canaries do not
//! overlap: `track: stable` and `track: canary` in both selectors and
//! templates keep the two sets apart.

use super::{
    CHECK_MODES, CONTROLLER_KINDS, CREATE_AND_UPDATE, Defaults, EVERYWHERE, Kind, Place, Rule,
    RuleMode, not_checked,
};
use crate::cluster::Controller;
use crate::cluster::{self as cluster_reads, Host};
use crate::findings::Findings;
use crate::selector::{self, Labels, Selector};
use crate::settings::Mode;

use serde_json::Value;
use std::collections::BTreeSet;

/// The controller under review, as far as this rule reads it.
#[derive(Debug)]
pub struct Subject<'a> {
    pub resource: Kind,
    pub name: &'a str,
    pub uid: &'a str,
    pub selector: Selector<'a>,
    pub template_labels: Labels<'a>,
}

/// The object under review as a [`Subject`]; `None` when the rule does not
/// judge it: it has a controller owner, or a nil or empty selector (which
/// `templateLabels` and the API server refuse anyway).
pub fn subject(resource: Kind, object: &Value) -> Option<Subject<'_>> {
    fn text(value: Option<&Value>) -> &str {
        value.and_then(Value::as_str).unwrap_or("")
    }
    let metadata = object.get("metadata");
    let owned = metadata
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("controller") == Some(&Value::Bool(true)))
        });
    if owned {
        return None;
    }
    let spec = object.get("spec");
    let labels = spec
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"));
    let template_labels = selector::parse_labels(labels, "spec.template.metadata.labels").0;
    let selector = selector::of_controller(
        resource == Kind::ReplicationController,
        spec.and_then(|s| s.get("selector")).unwrap_or(&Value::Null),
        &template_labels,
    );
    if matches!(selector, Selector::Nothing) || selector.is_empty() {
        return None;
    }
    Some(Subject {
        resource,
        name: text(metadata.and_then(|m| m.get("name"))),
        uid: text(metadata.and_then(|m| m.get("uid"))),
        selector,
        template_labels,
    })
}

/// How two controllers overlap: which selector matches which pods.
#[derive(Debug, PartialEq)]
struct Overlap {
    /// This selector matches the other's template labels.
    ours: bool,
    /// The other's selector matches this template's labels.
    theirs: bool,
}

/// The listed controllers, each with its kind, in listing order.
pub type Listed<'a> = [(Kind, &'a [Controller])];

/// Every other controller `subject` overlaps and `old` (the object before an
/// UPDATE) did not, reported by `mode`, one finding per controller.
pub fn check(
    subject: &Subject,
    old: Option<&Subject>,
    listed: &Listed,
    mode: Mode,
    place: Place,
) -> Findings {
    let mut findings = Findings::default();
    let mut reported = BTreeSet::new();
    for &(resource, controllers) in listed {
        for other in controllers {
            if is_itself_or_its_own(subject, resource, other) {
                continue;
            }
            let template_labels = selector::parse_labels(
                Some(&other.spec.template.metadata.labels),
                "spec.template.metadata.labels",
            )
            .0;
            let selector = selector::of_controller(
                resource == Kind::ReplicationController,
                &other.spec.selector,
                &template_labels,
            );
            let Some(overlap) = overlap_of(subject, &selector, &template_labels) else {
                continue;
            };
            if old.is_some_and(|old| overlap_of(old, &selector, &template_labels).is_some()) {
                continue;
            }
            let name = match other.metadata.controller() {
                Some(owner) => format!("{} {}", owner.kind, owner.name),
                None => format!("{} {}", resource.name(), other.metadata.name),
            };
            if !reported.insert(name.clone()) {
                continue;
            }
            findings.report(
                mode,
                "spec.selector",
                message(subject, &name, &overlap, &selector, &template_labels, place),
            );
        }
    }
    findings
}

fn is_itself_or_its_own(subject: &Subject, resource: Kind, other: &Controller) -> bool {
    let same = |uid: &str, kind: &str, name: &str| {
        if !subject.uid.is_empty() && !uid.is_empty() {
            uid == subject.uid
        } else {
            kind == subject.resource.name() && name == subject.name
        }
    };
    let meta = &other.metadata;
    same(&meta.uid, resource.name(), &meta.name)
        || meta
            .controller()
            .is_some_and(|owner| same(&owner.uid, &owner.kind, &owner.name))
}

fn overlap_of(subject: &Subject, selector: &Selector, template_labels: &Labels) -> Option<Overlap> {
    let overlap = Overlap {
        ours: subject.selector.matches(template_labels),
        theirs: selector.matches(&subject.template_labels),
    };
    (overlap.ours || overlap.theirs).then_some(overlap)
}

/// `labels` restricted to the keys `selector` names, as `key=value`: the
/// labels that make the selector match.
fn matching_labels(selector: &Selector, labels: &Labels) -> String {
    let Selector::All(requirements) = selector else {
        return String::new();
    };
    let mut keys = BTreeSet::new();
    keys.extend(requirements.iter().map(|r| r.key));
    let parts: Vec<String> = keys
        .into_iter()
        .filter_map(|key| labels.get(key).map(|value| format!("{key}={value}")))
        .collect();
    if parts.is_empty() {
        "none of its keys".to_string()
    } else {
        parts.join(",")
    }
}

fn message(
    subject: &Subject,
    other: &str,
    overlap: &Overlap,
    selector: &Selector,
    template_labels: &Labels,
    place: Place,
) -> String {
    let kind = subject.resource.name();
    let mut clauses = Vec::with_capacity(2);
    if overlap.ours {
        clauses.push(format!(
            "its selector {} matches the pods of {other} (template labels {})",
            subject.selector.kubectl(),
            matching_labels(&subject.selector, template_labels),
        ));
    }
    if overlap.theirs {
        clauses.push(format!(
            "the selector of {other}, {}, matches this {kind}'s pods (template labels {})",
            selector.kubectl(),
            matching_labels(selector, &subject.template_labels),
        ));
    }
    let selector_path = if subject.resource == Kind::ReplicationController {
        "spec.selector"
    } else {
        "spec.selector.matchLabels"
    };
    // While the other's selector matches this one's pods, a label added to
    // this one alone does not separate them: its pods must fail that
    // selector, by another value for one of its keys.
    let fix = if overlap.theirs {
        format!(
            "give this {kind}'s pods labels that the selector of {other} does not match (another value for one of its keys, {}), in both {selector_path} and spec.template.metadata.labels",
            matching_labels(selector, &subject.template_labels),
        )
    } else {
        format!(
            "give this {kind} a label that the pods of {other} lack, in both {selector_path} and spec.template.metadata.labels"
        )
    };
    let why_this_one = match place {
        Place::Ci => String::new(),
        _ => format!(
            " (a selector cannot change once created, so {other} cannot be the one to change)"
        ),
    };
    format!(
        "{}: controllers whose selectors overlap adopt each other's orphaned pods, and a \
         Service or PodDisruptionBudget over them spans both; {fix}{why_this_one}",
        clauses.join(", and "),
    )
}

/// `controllerOverlap`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "controllerOverlap",
    summary: "a controller whose selector matches another controller's pods, or whose pods another controller's selector matches",
    kinds: &CONTROLLER_KINDS,
    operations: &CREATE_AND_UPDATE,
    unregistered: &[],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Off,
        ci: RuleMode::Warn,
    },
    options: &[],
    reads: &[
        "metadata.uid",
        "metadata.ownerReferences",
        "spec.selector",
        "spec.template.metadata.labels",
        "oldObject (on UPDATE, to report only new overlaps)",
    ],
    cluster_reads: &CONTROLLER_KINDS,
    reads_old_object: true,
    fires: &EVERYWHERE,
    enabled: |settings, _| settings.controller_overlap != Mode::Off,
    check: |cx| {
        let resource = cx.kind;
        if !resource.roles().controller {
            return Findings::default();
        }
        let old = cx.request.old.and_then(|old| subject(resource, &old.value));
        match subject(resource, &cx.object.value) {
            Some(subject) => run(
                &subject,
                old.as_ref(),
                cx.request.namespace,
                cx.settings.controller_overlap,
                cx.host,
            ),
            None => Findings::default(),
        }
    },
    custom: None,
};

/// The controllers of the desired state (CI) that may overlap `subject`,
/// found by index (its selector selects their templates, or theirs selects
/// its template), judged by [`check`] as a listed namespace would be.
fn in_desired_state(
    subject: &Subject,
    old: Option<&Subject>,
    state: &crate::relations::State,
    namespace: &str,
    mode: Mode,
) -> Findings {
    let Some(space) = state.namespace(namespace) else {
        return Findings::default();
    };
    let mut candidates = space.selected(&subject.selector);
    candidates.extend(space.controllers.matching(&subject.template_labels));
    candidates.sort_unstable();
    candidates.dedup();
    let mut lists: Vec<(Kind, Vec<Controller>)> = Vec::new();
    for at in candidates {
        let Some(item) = space.sources.get(at).and_then(|s| state.item(s.item)) else {
            continue;
        };
        let Some(kind) = CONTROLLER_KINDS.into_iter().find(|k| k.name() == item.kind) else {
            continue;
        };
        let Ok(controller) = cluster_reads::from_value::<Controller>(item.value) else {
            continue;
        };
        match lists.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, list)) => list.push(controller),
            None => lists.push((kind, vec![controller])),
        }
    }
    let listed: Vec<(Kind, &[Controller])> = lists
        .iter()
        .map(|(kind, list)| (*kind, list.as_slice()))
        .collect();
    check(subject, old, &listed, mode, Place::Ci)
}

/// Lists the namespace's controllers, one list per kind.
fn run(
    subject: &Subject,
    old: Option<&Subject>,
    namespace: &str,
    mode: Mode,
    host: &dyn Host,
) -> Findings {
    if let Some(state) = host.desired() {
        return in_desired_state(subject, old, state, namespace, mode);
    }
    let mut lists: Vec<(Kind, Vec<Controller>)> = Vec::with_capacity(CONTROLLER_KINDS.len());
    let mut unread = Vec::new();
    for resource in CONTROLLER_KINDS {
        match cluster_reads::list(host, resource, namespace) {
            Ok(list) => lists.push((resource, list)),
            Err(err) => unread.push(err),
        }
    }
    let listed: Vec<(Kind, &[Controller])> = lists
        .iter()
        .map(|(r, list)| (*r, list.as_slice()))
        .collect();
    let mut findings = check(subject, old, &listed, mode, Place::Admission);
    if !unread.is_empty() {
        findings.warnings.push(not_checked(RULE.id, &unread));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn controller(value: Value) -> Controller {
        serde_json::from_value(value).expect("a controller")
    }

    fn workload(name: &str, labels: Value, uid: &str) -> Value {
        json!({"metadata": {"name": name, "uid": uid},
               "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}}})
    }

    /// The seed's pair: `kubectl create deployment rng` and the DaemonSet
    /// made from it, after its fix.
    #[test]
    fn the_seeds_daemonset_beside_its_deployment() {
        let daemonset = workload("rng", json!({"app": "rng"}), "");
        let subject = subject(Kind::DaemonSet, &daemonset).expect("judged");
        let deployments = [controller(workload("rng", json!({"app": "rng"}), "d-1"))];
        let replicasets = [controller(json!({
            "metadata": {"name": "rng-54f57d4d49", "uid": "r-1",
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "rng", "uid": "d-1", "controller": true}]},
            "spec": {"selector": {"matchLabels": {"app": "rng", "pod-template-hash": "54f57d4d49"}},
                     "template": {"metadata": {"labels": {"app": "rng", "pod-template-hash": "54f57d4d49"}}}}}))];
        let listed: Vec<(Kind, &[Controller])> = vec![
            (Kind::DaemonSet, &[]),
            (Kind::Deployment, &deployments),
            (Kind::ReplicaSet, &replicasets),
        ];
        let findings = check(&subject, None, &listed, Mode::Reject, Place::Admission);
        assert_eq!(findings.violations.len(), 1, "{findings:?}");
        assert_eq!(
            findings.violations[0].message,
            "its selector app=rng matches the pods of Deployment rng (template labels app=rng), \
             and the selector of Deployment rng, app=rng, matches this DaemonSet's pods (template labels app=rng): \
             controllers whose selectors overlap adopt each other's orphaned pods, and a Service or \
             PodDisruptionBudget over them spans both; give this DaemonSet's pods labels that the \
             selector of Deployment rng does not match (another value for one of its keys, app=rng), \
             in both spec.selector.matchLabels and spec.template.metadata.labels \
             (a selector cannot change once created, so Deployment rng cannot be the one to change)"
        );
    }

    #[test]
    fn canaries_do_not_overlap() {
        let canary = workload("web-canary", json!({"app": "web", "track": "canary"}), "c");
        let subject = subject(Kind::Deployment, &canary).expect("judged");
        let stable = [controller(workload(
            "web",
            json!({"app": "web", "track": "stable"}),
            "s",
        ))];
        let listed: Vec<(Kind, &[Controller])> = vec![(Kind::Deployment, &stable)];
        assert!(check(&subject, None, &listed, Mode::Reject, Place::Admission).is_empty());
        // Without `track` in the stable selector, its selector takes the canary's pods.
        let loose = [controller(json!({"metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "track": "stable"}}}}}))];
        let listed: Vec<(Kind, &[Controller])> = vec![(Kind::Deployment, &loose)];
        let findings = check(&subject, None, &listed, Mode::Warn, Place::Admission);
        assert_eq!(findings.warnings.len(), 1);
        assert!(findings.warnings[0].message.starts_with(
            "the selector of Deployment web, app=web, matches this Deployment's pods (template labels app=web): "
        ), "{}", findings.warnings[0].message);
    }

    #[test]
    fn itself_its_own_replicasets_and_owned_subjects_are_skipped() {
        let deployment = workload("rng", json!({"app": "rng"}), "d-1");
        let subject = subject(Kind::Deployment, &deployment).expect("judged");
        let same_uid = [controller(workload(
            "renamed",
            json!({"app": "rng"}),
            "d-1",
        ))];
        let own_rs = [controller(json!({
            "metadata": {"name": "rng-1", "ownerReferences": [{"kind": "Deployment", "name": "rng", "uid": "d-1", "controller": true}]},
            "spec": {"selector": {"matchLabels": {"app": "rng"}}, "template": {"metadata": {"labels": {"app": "rng"}}}}}))];
        let listed: Vec<(Kind, &[Controller])> =
            vec![(Kind::Deployment, &same_uid), (Kind::ReplicaSet, &own_rs)];
        assert!(check(&subject, None, &listed, Mode::Reject, Place::Admission).is_empty());
        // Without uids (a CREATE), kind and name identify it.
        let created = workload("rng", json!({"app": "rng"}), "");
        let subject = super::subject(Kind::Deployment, &created).expect("judged");
        let listed_self = [controller(workload("rng", json!({"app": "rng"}), ""))];
        let listed: Vec<(Kind, &[Controller])> = vec![(Kind::Deployment, &listed_self)];
        assert!(check(&subject, None, &listed, Mode::Reject, Place::Admission).is_empty());
        let mut owned = workload("rng-1", json!({"app": "rng"}), "r");
        owned["metadata"]["ownerReferences"] =
            json!([{"kind": "Deployment", "name": "rng", "controller": true}]);
        assert!(super::subject(Kind::ReplicaSet, &owned).is_none());
        let nil = json!({"metadata": {"name": "x"}, "spec": {}});
        assert!(super::subject(Kind::Deployment, &nil).is_none());
        let empty = json!({"metadata": {"name": "x"}, "spec": {"selector": {}}});
        assert!(super::subject(Kind::Deployment, &empty).is_none());
    }

    #[test]
    fn an_update_reports_only_new_overlaps() {
        let before = workload("a", json!({"app": "a"}), "u");
        let after = json!({"metadata": {"name": "a", "uid": "u"},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "a", "tier": "web"}}}}});
        let (old, new) = (
            subject(Kind::Deployment, &before).expect("judged"),
            subject(Kind::Deployment, &after).expect("judged"),
        );
        let by_tier = [controller(json!({"metadata": {"name": "web", "uid": "w"},
            "spec": {"selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]},
                     "template": {"metadata": {"labels": {"tier": "web", "app": "web"}}}}}))];
        let listed: Vec<(Kind, &[Controller])> = vec![(Kind::Deployment, &by_tier)];
        let findings = check(&new, Some(&old), &listed, Mode::Reject, Place::Admission);
        assert_eq!(findings.violations.len(), 1);
        assert!(findings.violations[0].message.starts_with(
            "the selector of Deployment web, tier in (api,web), matches this Deployment's pods (template labels tier=web)"
        ), "{}", findings.violations[0].message);
        // The same overlap already there before the update is not reported.
        assert!(check(&new, Some(&new), &listed, Mode::Reject, Place::Admission).is_empty());
    }

    #[test]
    fn a_replicationcontroller_without_selector_uses_its_template_labels() {
        let rc = json!({"metadata": {"name": "echo"},
            "spec": {"template": {"metadata": {"labels": {"app": "echo"}}}}});
        let subject = subject(Kind::ReplicationController, &rc).expect("judged");
        let others = [controller(json!({"metadata": {"name": "echo2"},
            "spec": {"selector": {"app": "echo"}, "template": {"metadata": {"labels": {"app": "echo", "v": "2"}}}}}))];
        let listed: Vec<(Kind, &[Controller])> = vec![(Kind::ReplicationController, &others)];
        let findings = check(&subject, None, &listed, Mode::Warn, Place::Admission);
        assert_eq!(findings.warnings.len(), 1);
        assert!(
            findings.warnings[0]
                .message
                .contains("in both spec.selector and spec.template.metadata.labels")
        );
    }
}
