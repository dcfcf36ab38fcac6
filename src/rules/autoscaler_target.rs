//! `autoscalerTarget`: a HorizontalPodAutoscaler whose `scaleTargetRef`
//! cannot work, and a target whose manifest fights its autoscaler.
//!
//! - **Everywhere, from the object alone**: a `scaleTargetRef.kind`
//!   misspelled for its `apiVersion` (kinds are case-sensitive: `Statefulset`
//!   names nothing), or a kind without a `/scale` subresource (a DaemonSet,
//!   Job, CronJob or Pod), which the autoscaler can never scale.
//! - **CI only**: the target is not among the inputs of the autoscaler's
//!   namespace. At admission Helm creates HorizontalPodAutoscalers before
//!   StatefulSets (`pkg/releaseutil/kind_sorter.go`), so a missing target is
//!   normal there.
//! - **CI only, a warning on the target**: a Deployment, ReplicaSet,
//!   StatefulSet or ReplicationController that sets `spec.replicas` while an
//!   autoscaler manages it: every apply of the manifest resets the replica
//!   count the autoscaler chose.
//!
//! Every `autoscaling/*` version is read: v2, v2beta2, v2beta1 and v1 share
//! `scaleTargetRef`.

use super::{CHECK_MODES, CREATE_AND_UPDATE, Defaults, EVERYWHERE, KINDS, Kind, Rule, RuleMode};
use crate::findings::Findings;
use crate::relations::text;
use crate::settings::Mode;
use serde_json::Value;

/// `autoscalerTarget`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "autoscalerTarget",
    summary: "a HorizontalPodAutoscaler whose scaleTargetRef is misspelled, unscalable or (CI) missing, or (CI, a warning) a target that sets spec.replicas",
    kinds: &[
        Kind::HorizontalPodAutoscaler,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::ReplicationController,
    ],
    operations: &CREATE_AND_UPDATE,
    unregistered: &[
        (Kind::Deployment, super::Operation::Create),
        (Kind::Deployment, super::Operation::Update),
        (Kind::ReplicaSet, super::Operation::Create),
        (Kind::ReplicaSet, super::Operation::Update),
        (Kind::StatefulSet, super::Operation::Create),
        (Kind::StatefulSet, super::Operation::Update),
        (Kind::ReplicationController, super::Operation::Create),
        (Kind::ReplicationController, super::Operation::Update),
    ],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Reject,
        ci: RuleMode::Reject,
    },
    options: &["workloadKinds"],
    reads: &[
        "spec.scaleTargetRef (HorizontalPodAutoscaler)",
        "spec.replicas (its target, in CI)",
    ],
    cluster_reads: &[],
    reads_old_object: false,
    fires: &EVERYWHERE,
    enabled: |settings, _| settings.autoscaler_target != Mode::Off,
    check: |cx| {
        let mode = cx.settings.autoscaler_target;
        if cx.kind == Kind::HorizontalPodAutoscaler {
            return autoscaler(cx, mode);
        }
        // A target: only in CI, where the folder says who scales it.
        let mut findings = Findings::default();
        let Some(state) = cx.host.desired() else {
            return findings;
        };
        let Some(space) = state.namespace(cx.request.namespace) else {
            return findings;
        };
        let sets_replicas = cx
            .object
            .value
            .get("spec")
            .and_then(Value::as_object)
            .is_some_and(|spec| spec.contains_key("replicas"));
        let name = text(&cx.object.value, &["metadata", "name"]);
        let scalers = space.autoscalers_of(cx.kind.name(), name);
        if sets_replicas && mode != Mode::Off {
            let names: Vec<String> = scalers
                .iter()
                .filter_map(|at| state.item(*at))
                .map(|item| format!("HorizontalPodAutoscaler {}", item.name))
                .collect();
            if !names.is_empty() {
                findings.warn(
                    "spec.replicas",
                    format!(
                        "spec.replicas is set while {} scales this {}: every apply of this manifest resets the replica count the autoscaler chose; remove spec.replicas from the manifest and let the autoscaler set it",
                        names.join(", "),
                        cx.kind.name()
                    ),
                );
            }
        }
        findings
    },
    custom: None,
};

fn autoscaler(cx: &super::Context, mode: Mode) -> Findings {
    let mut findings = Findings::default();
    let value = &cx.object.value;
    let api_version = text(value, &["spec", "scaleTargetRef", "apiVersion"]);
    let kind = text(value, &["spec", "scaleTargetRef", "kind"]);
    let name = text(value, &["spec", "scaleTargetRef", "name"]);
    let rows: Vec<_> = KINDS
        .iter()
        .filter(|row| row.api_version == api_version)
        .collect();
    if let Some(row) = rows.iter().find(|row| row.name == kind) {
        if !row.roles.scalable {
            findings.report(
                mode,
                "spec.scaleTargetRef.kind",
                format!(
                    "scaleTargetRef names {} {name}, which has no scale subresource, so the autoscaler can never scale it; target a Deployment, ReplicaSet, StatefulSet or ReplicationController (or a custom resource with a scale subresource), or remove the HorizontalPodAutoscaler",
                    row.name
                ),
            );
            return findings;
        }
    } else if let Some(row) = rows.iter().find(|row| row.name.eq_ignore_ascii_case(kind)) {
        findings.report(
            mode,
            "spec.scaleTargetRef.kind",
            format!(
                "scaleTargetRef.kind {} is not a kind of {api_version} (kinds are case-sensitive), so the autoscaler finds no target; write kind: {}",
                crate::labels::json_quoted(kind),
                row.name
            ),
        );
        return findings;
    }
    let Some(state) = cx.host.desired() else {
        return findings;
    };
    let space = state.namespace(cx.request.namespace);
    if kind.is_empty() || name.is_empty() {
        return findings;
    }
    if space.is_none_or(|space| space.named(kind, name).is_empty()) {
        findings.report(
            mode,
            "spec.scaleTargetRef",
            format!(
                "scaleTargetRef names {kind} {name}, which is not among the inputs of namespace {}, so the autoscaler has nothing to scale; add the {kind}, or correct the name",
                cx.request.namespace
            ),
        );
    }
    findings
}
