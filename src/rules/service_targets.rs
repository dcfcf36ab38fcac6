//! `serviceTargets` (CI only): a Service whose selector selects no pod
//! source of its namespace.
//!
//! A Service's endpoints are the ready pods its selector matches
//! (pkg/controller/endpointslice): with none, every connection to it fails.
//! Exempt, as the API treats them: a Service with no selector or `{}`
//! (its endpoints are managed by hand) and `type: ExternalName` (the
//! selector is ignored). At admission an object arrives alone and in
//! install order (Helm creates Services before the workloads they select,
//! `pkg/releaseutil/kind_sorter.go`), so "selects nothing" there is the
//! normal state of an install: the rule reads nothing and fires only where
//! the folder is the whole desired state.

use super::{CHECK_MODES, CREATE_AND_UPDATE, Defaults, Kind, Rule, RuleMode, lookup};
use crate::findings::Findings;
use crate::relations;
use crate::rules::Place;
use crate::selector::{self, Selector};
use crate::settings::Mode;
use serde_json::Value;

/// `serviceTargets`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "serviceTargets",
    summary: "a Service whose selector selects no pod source of its namespace (CI only)",
    kinds: &[Kind::Service],
    operations: &CREATE_AND_UPDATE,
    // Judged only where the folder is the desired state.
    unregistered: &[
        (Kind::Service, super::Operation::Create),
        (Kind::Service, super::Operation::Update),
    ],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Reject,
        ci: RuleMode::Reject,
    },
    options: &["workloadKinds"],
    reads: &["spec.selector", "spec.type"],
    cluster_reads: &[],
    reads_old_object: false,
    fires: &[Place::Ci],
    enabled: |settings, _| settings.service_targets != Mode::Off,
    check: |cx| {
        let Some(state) = cx.host.desired() else {
            return Findings::default();
        };
        let space = state.namespace(cx.request.namespace);
        let service_type = lookup(&cx.object.value, &["spec", "type"])
            .ok()
            .flatten()
            .and_then(Value::as_str);
        if service_type == Some("ExternalName") {
            return Findings::default();
        }
        let Some(map) = super::service_selector_change::service_selector(cx.object) else {
            return Findings::default();
        };
        let labels = selector::parse_labels(Some(&map), "spec.selector").0;
        if labels.is_empty() {
            return Findings::default();
        }
        let selector = Selector::from_labels(&labels);
        let mut findings = Findings::default();
        if space.is_none_or(|space| space.selected(&selector).is_empty()) {
            let message = relations::selects_no_pod(
                state,
                space,
                cx.request.namespace,
                "selector",
                &selector,
            );
            findings.report(cx.settings.service_targets, "spec.selector", message);
        }
        findings
    },
    custom: None,
};
