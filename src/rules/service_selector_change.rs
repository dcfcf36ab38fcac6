//! `serviceSelectorChange` (context-aware, UPDATE of a v1 Service): a new
//! selector that matches none of the live pods the old one matched.
//!
//! Endpoints follow a Service's selector at once (pkg/controller/endpointslice): such a
//! change leaves the Service with no endpoints until the pods carry the new
//! labels. The safe order is to label the pods first, then change the
//! selector; the finding says so, with the commands. A Service created
//! before its pods (CREATE), one with an empty or absent selector (manual
//! Endpoints) and an ExternalName Service are not checked, and their pods
//! are not listed.

use super::{
    CHECK_MODES, Defaults, EVERYWHERE, Kind, Operation, Rule, RuleMode, lookup, not_checked,
};
use crate::cluster;
use crate::cluster::Pod;
use crate::findings::Findings;
use crate::object::Object;
use crate::selector::{self, Labels, Selector};
use crate::settings::Mode;
use serde_json::Value;
use std::collections::BTreeSet;

/// A selector change worth checking against the pods.
#[derive(Debug)]
pub struct Change<'a> {
    pub old: Labels<'a>,
    pub new: Labels<'a>,
}

/// The change, when there is one to check: both selectors are non-empty maps
/// that differ (as strings, which is what non-string values become), and the
/// Service is not of `type: ExternalName`.
pub fn change<'a>(
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    service_type: Option<&str>,
) -> Option<Change<'a>> {
    if service_type == Some("ExternalName") {
        return None;
    }
    let labels = |selector: Option<&'a Value>| match selector {
        Some(map @ Value::Object(_)) => {
            Some(selector::parse_labels(Some(map), "spec.selector").0).filter(|l| !l.is_empty())
        }
        _ => None,
    };
    let (old, new) = (labels(old)?, labels(new)?);
    (old != new).then_some(Change { old, new })
}

/// The finding for `change` given the namespace's pods: the old selector
/// matched at least one live pod and the new one matches none.
pub fn check(change: &Change, pods: &[Pod], namespace: &str, mode: Mode) -> Findings {
    let mut findings = Findings::default();
    let old = Selector::from_labels(&change.old);
    let new = Selector::from_labels(&change.new);
    let mut old_matched = 0usize;
    // The requirements of the new selector that some pod of the old one fails.
    let mut missing = BTreeSet::new();
    for pod in pods.iter().filter(|p| p.is_live()) {
        let labels = selector::parse_labels(Some(&pod.metadata.labels), "metadata.labels").0;
        if new.matches(&labels) {
            return findings;
        }
        if old.matches(&labels) {
            old_matched += 1;
            missing.extend(new.unsatisfied(&labels).map(|r| r.kubectl()));
        }
    }
    if old_matched == 0 {
        return findings;
    }
    let missing: Vec<String> = missing.into_iter().collect();
    let namespace_flag = if namespace == "default" {
        String::new()
    } else {
        format!(" -n {namespace}")
    };
    findings.report(
        mode,
        "spec.selector",
        format!(
            "the new selector {} matches no pod (the old selector {} matched {old_matched}); \
             its endpoints would be empty until pods carry {}: label them first \
             (kubectl label pods{namespace_flag} -l {} {}, with --overwrite where a pod has \
             another value), then change the selector",
            new.kubectl(),
            old.kubectl(),
            missing.join(","),
            old.kubectl(),
            missing.join(" "),
        ),
    );
    findings
}

/// `serviceSelectorChange`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "serviceSelectorChange",
    summary: "a Service UPDATE whose new selector matches none of the live pods the old one matched (its endpoints would be empty)",
    kinds: &[Kind::Service],
    operations: &[Operation::Update],
    unregistered: &[],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Off,
        ci: RuleMode::Warn,
    },
    options: &[],
    reads: &["spec.selector", "spec.type", "oldObject.spec.selector"],
    cluster_reads: &[Kind::Pod],
    reads_old_object: true,
    fires: &EVERYWHERE,
    enabled: |settings, _| settings.service_selector_change != Mode::Off,
    check: |cx| match cx.request.old {
        Some(old) => run(
            cx.object,
            old,
            cx.request.namespace,
            cx.settings.service_selector_change,
            cx.host,
        ),
        None => Findings::default(),
    },
    custom: None,
};

/// A Service's `spec.selector`, built from the text its shape captured.
pub fn service_selector(object: &Object) -> Option<Value> {
    object
        .captured_at("spec.selector")
        .and_then(|found| found.to_value())
}

/// Lists the namespace's Pods only when the selector changed.
fn run(
    object: &Object,
    old: &Object,
    namespace: &str,
    mode: Mode,
    host: &dyn cluster::Host,
) -> Findings {
    let (new_selector, old_selector) = (service_selector(object), service_selector(old));
    let service_type = lookup(&object.value, &["spec", "type"])
        .ok()
        .flatten()
        .and_then(Value::as_str);
    let Some(change) = change(old_selector.as_ref(), new_selector.as_ref(), service_type) else {
        return Findings::default();
    };
    match cluster::list(host, Kind::Pod, namespace) {
        Ok(pods) => check(&change, &pods, namespace, mode),
        Err(unread) => Findings {
            warnings: vec![not_checked(RULE.id, &[unread])],
            ..Findings::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods(list: Value) -> Vec<Pod> {
        serde_json::from_value(list).expect("pods")
    }

    fn rng_pods(count: usize, labels: Value) -> Vec<Pod> {
        pods(Value::Array(
            (0..count)
                .map(|i| {
                    json!({"metadata": {"name": format!("rng-{i}"), "labels": labels},
                                "status": {"phase": "Running"}})
                })
                .collect(),
        ))
    }

    #[test]
    fn the_swap_in_the_wrong_order_empties_the_service() {
        let (old, new) = (
            json!({"app": "rng"}),
            json!({"app": "rng", "active": "yes"}),
        );
        let change = change(Some(&old), Some(&new), None).expect("a change");
        let findings = check(
            &change,
            &rng_pods(3, json!({"app": "rng"})),
            "default",
            Mode::Warn,
        );
        assert_eq!(
            findings.warning_messages(),
            [
                "the new selector active=yes,app=rng matches no pod (the old selector app=rng matched 3); \
              its endpoints would be empty until pods carry active=yes: label them first \
              (kubectl label pods -l app=rng active=yes, with --overwrite where a pod has another value), \
              then change the selector"
            ]
        );
        let findings = check(
            &change,
            &rng_pods(1, json!({"app": "rng", "active": "no"})),
            "blue",
            Mode::Reject,
        );
        assert_eq!(findings.violations.len(), 1);
        assert!(findings.violations[0].message.contains("matched 1)"));
        assert!(
            findings.violations[0]
                .message
                .contains("kubectl label pods -n blue -l app=rng active=yes")
        );
    }

    #[test]
    fn the_swap_in_the_right_order_is_quiet() {
        let (old, new) = (
            json!({"app": "rng"}),
            json!({"app": "rng", "active": "yes"}),
        );
        let change = change(Some(&old), Some(&new), None).expect("a change");
        let mut list = rng_pods(2, json!({"app": "rng"}));
        list.extend(rng_pods(1, json!({"app": "rng", "active": "yes"})));
        assert!(check(&change, &list, "default", Mode::Reject).is_empty());
    }

    #[test]
    fn only_live_pods_count() {
        let (old, new) = (json!({"app": "a"}), json!({"app": "b"}));
        let change = change(Some(&old), Some(&new), None).expect("a change");
        let list = pods(json!([
            {"metadata": {"labels": {"app": "b"}}, "status": {"phase": "Succeeded"}},
            {"metadata": {"labels": {"app": "b"}, "deletionTimestamp": "2026-01-01T00:00:00Z"}},
            {"metadata": {"labels": {"app": "a"}}, "status": {"phase": "Pending"}},
            {"metadata": {"labels": {"app": "a"}}, "status": {"phase": "Failed"}},
        ]));
        let findings = check(&change, &list, "default", Mode::Warn);
        assert_eq!(findings.warnings.len(), 1);
        assert!(
            findings.warnings[0]
                .message
                .contains("(the old selector app=a matched 1)")
        );
        // No pod at all before: nothing to lose.
        assert!(check(&change, &list[..2], "default", Mode::Warn).is_empty());
    }

    #[test]
    fn what_is_not_a_change_lists_nothing() {
        let sel = json!({"app": "a"});
        let other = json!({"app": "b"});
        let yaml11 = json!({"on": true});
        let as_string = json!({"on": "true"});
        assert!(change(Some(&sel), Some(&sel), None).is_none());
        assert!(change(Some(&yaml11), Some(&as_string), None).is_none());
        assert!(change(Some(&sel), Some(&other), Some("ExternalName")).is_none());
        assert!(change(None, Some(&other), None).is_none());
        assert!(change(Some(&sel), None, None).is_none());
        assert!(change(Some(&sel), Some(&json!({})), None).is_none());
        assert!(change(Some(&sel), Some(&json!("x")), None).is_none());
        assert!(change(Some(&sel), Some(&other), Some("ClusterIP")).is_some());
    }
}
