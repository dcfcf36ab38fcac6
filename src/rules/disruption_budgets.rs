//! `disruptionBudgets`: PodDisruptionBudgets that select nothing, that
//! share pods with another budget, or that no eviction can ever satisfy.
//!
//! - **Selects no pod source** (CI only): the budget protects nothing. At
//!   admission Helm creates budgets before the workloads they select
//!   (`pkg/releaseutil/kind_sorter.go`), so this is judged only where the
//!   folder is the whole desired state.
//! - **A pod selected by two budgets**: the eviction API refuses to evict
//!   it ("This pod has more than one PodDisruptionBudget, which the eviction
//!   subresource does not support", pkg/registry/core/pod/storage/eviction.go),
//!   an HTTP 500 on which `kubectl drain` gives up on the pod
//!   (staging/src/k8s.io/kubectl/pkg/drain/drain.go retries only 429s). At admission, on a budget's CREATE
//!   and UPDATE (it lists the namespace's budgets and pods); in CI for every
//!   pod source the budget selects.
//! - **A budget no eviction can satisfy** (CI only, always a warning):
//!   `minAvailable` at least the replicas of what it selects, or
//!   `maxUnavailable` 0 or `0%`. Replicas are summed over the sources it
//!   selects (`spec.replicas`, 1 where absent, 1 for a Pod); a budget that
//!   selects a DaemonSet, Job, CronJob or an autoscaler's target is not
//!   judged this way: their pod counts are not in the manifest.
//!
//! policy/v1 reads `spec.selector: {}` as every pod of the namespace;
//! policy/v1beta1 read it as none ([`relations::budget_selector`]).

use super::{
    CHECK_MODES, CREATE_AND_UPDATE, Defaults, EVERYWHERE, Kind, Rule, RuleMode, not_checked,
};
use crate::cluster::{self, Budget, Pod};
use crate::findings::Findings;
use crate::relations::{self, Namespace, SelectorIndex, State};
use crate::selector::{self, Selector};
use crate::settings::Mode;
use serde_json::Value;
use std::collections::BTreeSet;

/// `disruptionBudgets`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "disruptionBudgets",
    summary: "a PodDisruptionBudget that selects no pod (CI), shares pods with another budget (eviction refuses them), or can never allow an eviction (CI, a warning)",
    kinds: &[Kind::PodDisruptionBudget],
    operations: &CREATE_AND_UPDATE,
    unregistered: &[],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Off,
        ci: RuleMode::Reject,
    },
    options: &["workloadKinds"],
    reads: &[
        "apiVersion",
        "spec.selector",
        "spec.minAvailable",
        "spec.maxUnavailable",
        "oldObject.spec.selector (on UPDATE, to read only when it changed)",
    ],
    cluster_reads: &[Kind::PodDisruptionBudget, Kind::Pod],
    reads_old_object: true,
    fires: &EVERYWHERE,
    enabled: |settings, _| settings.disruption_budgets != Mode::Off,
    check: |cx| {
        let value = &cx.object.value;
        let selector = relations::budget_selector(value);
        let mode = cx.settings.disruption_budgets;
        let name = relations::text(value, &["metadata", "name"]);
        match cx.host.desired() {
            Some(state) => in_ci(state, cx.request.namespace, value, name, &selector, mode),
            // On UPDATE only a new selector can make a new overlap: the
            // namespace is listed only then.
            None if cx
                .request
                .old
                .is_some_and(|old| relations::budget_selector(&old.value) == selector) =>
            {
                Findings::default()
            }
            None => at_admission(cx, value, &selector, mode),
        }
    },
    custom: None,
};

const OVERLAP: &str = "the eviction API refuses to evict a pod selected by more than one budget (\"This pod has more than one PodDisruptionBudget, which the eviction subresource does not support\"), so `kubectl drain` fails on them and the node stays cordoned; make the budgets' selectors select different pods, or keep one budget";

fn overlap_message(pods: &[String], budgets: &BTreeSet<String>) -> String {
    let budgets: Vec<String> = budgets
        .iter()
        .map(|b| format!("PodDisruptionBudget {b}"))
        .collect();
    format!(
        "the pods of {} are also selected by {}: {OVERLAP}",
        pods.join(", "),
        budgets.join(", ")
    )
}

fn in_ci(
    state: &State,
    namespace: &str,
    value: &Value,
    name: &str,
    selector: &Selector,
    mode: Mode,
) -> Findings {
    let mut findings = Findings::default();
    let space = state.namespace(namespace);
    let selected = space.map(|s| s.selected(selector)).unwrap_or_default();
    let Some(space) = space.filter(|_| !selected.is_empty()) else {
        let message = match (selector, value.get("apiVersion").and_then(Value::as_str)) {
            (Selector::Nothing, Some("policy/v1beta1")) if value.pointer("/spec/selector").is_some_and(|s| !s.is_null()) => {
                "policy/v1beta1 reads an empty selector as selecting no pod, so this budget protects nothing; use apiVersion policy/v1, where {} selects every pod of the namespace, or select the pods with matchLabels".to_string()
            }
            (Selector::Nothing, _) => {
                "spec.selector is not set, so the budget selects no pod and protects nothing; select the pods it protects with matchLabels".to_string()
            }
            _ => relations::selects_no_pod(state, space, namespace, "selector", selector),
        };
        findings.report(mode, "spec.selector", message);
        return findings;
    };
    // Budgets that share a source with this one.
    let mut shared_by = BTreeSet::new();
    let mut shared = Vec::new();
    for at in &selected {
        let Some(source) = space.sources.get(*at) else {
            continue;
        };
        let mut others = false;
        for owner in space.budgets.matching(&source.labels) {
            let Some(other) = state.item(owner) else {
                continue;
            };
            if other.name != name {
                shared_by.insert(other.name.to_string());
                others = true;
            }
        }
        if others && let Some(item) = state.item(source.item) {
            shared.push(item.title());
        }
    }
    if !shared.is_empty() {
        findings.report(mode, "spec.selector", overlap_message(&shared, &shared_by));
    }
    if mode != Mode::Off {
        findings
            .warnings
            .extend(unsatisfiable(state, space, &selected, value));
    }
    findings
}

/// The warning for a budget that can never allow an eviction, if it is one.
fn unsatisfiable(
    state: &State,
    space: &Namespace,
    selected: &[usize],
    value: &Value,
) -> Option<crate::findings::Finding> {
    let mut total = 0i64;
    let mut parts = Vec::new();
    for at in selected {
        let source = space.sources.get(*at)?;
        let item = state.item(source.item)?;
        let replicas = source.replicas?;
        if !space.autoscalers_of(item.kind, item.name).is_empty() {
            return None;
        }
        total = total.saturating_add(replicas);
        parts.push(if item.kind == "Pod" {
            format!("Pod {}", item.name)
        } else {
            format!("{} {}: {replicas}", item.kind, item.name)
        });
    }
    let spec = value.get("spec")?;
    let what = format!("{total} pods ({})", parts.join(", "));
    let (path, why) = match (spec.get("minAvailable"), spec.get("maxUnavailable")) {
        (Some(min), _) if !min.is_null() => {
            let needed = match min {
                Value::Number(n) => n.as_i64()?,
                Value::String(s) => {
                    let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
                    // Rounded up, as the disruption controller rounds it
                    // (pkg/controller/disruption, GetScaledValueFromIntOrPercent).
                    percent.saturating_mul(total).saturating_add(99) / 100
                }
                _ => return None,
            };
            if needed < total {
                return None;
            }
            (
                "spec.minAvailable",
                format!("minAvailable {min} keeps all {what} up"),
            )
        }
        (_, Some(max)) if max == &Value::from(0) || max == &Value::from("0%") => (
            "spec.maxUnavailable",
            format!("maxUnavailable {max} of {what}"),
        ),
        _ => return None,
    };
    Some(crate::findings::Finding::warn(
        path,
        format!(
            "{why}, so no voluntary eviction is ever allowed and `kubectl drain` blocks on these pods; allow at least one disruption (a lower minAvailable, or maxUnavailable: 1)"
        ),
    ))
}

fn at_admission(cx: &super::Context, value: &Value, selector: &Selector, mode: Mode) -> Findings {
    let mut findings = Findings::default();
    if matches!(selector, Selector::Nothing) {
        return findings;
    }
    let namespace = cx.request.namespace;
    let (budgets, pods) = match (
        cluster::list::<Budget>(cx.host, Kind::PodDisruptionBudget, namespace),
        cluster::list::<Pod>(cx.host, Kind::Pod, namespace),
    ) {
        (Ok(budgets), Ok(pods)) => (budgets, pods),
        (budgets, pods) => {
            let unread: Vec<_> = [budgets.err(), pods.err()].into_iter().flatten().collect();
            findings.warnings.push(not_checked(RULE.id, &unread));
            return findings;
        }
    };
    let uid = relations::text(value, &["metadata", "uid"]);
    let name = relations::text(value, &["metadata", "name"]);
    let mut index = SelectorIndex::default();
    for (at, budget) in budgets.iter().enumerate() {
        if !relations::same_object(uid, name, &budget.metadata.uid, &budget.metadata.name) {
            index.push(at, selector::parse(Some(&budget.spec.selector), "").0);
        }
    }
    let mut shared = Vec::new();
    let mut shared_by = BTreeSet::new();
    for pod in pods.iter().filter(|p| p.is_live()) {
        let labels = selector::parse_labels(Some(&pod.metadata.labels), "").0;
        if !selector.matches(&labels) {
            continue;
        }
        let others = index.matching(&labels);
        if others.is_empty() {
            continue;
        }
        for at in others {
            if let Some(budget) = budgets.get(at) {
                shared_by.insert(budget.metadata.name.clone());
            }
        }
        shared.push(format!("Pod {}", pod.metadata.name));
    }
    if !shared.is_empty() {
        // A few pods name the problem; all of them would flood the message.
        let more = shared.len().saturating_sub(3);
        shared.truncate(3);
        if more > 0 {
            shared.push(format!("{more} more"));
        }
        findings.report(mode, "spec.selector", overlap_message(&shared, &shared_by));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn budget(spec: Value) -> Value {
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": "b"}, "spec": spec})
    }

    /// Huge and odd values are judged without overflow or panic.
    #[test]
    fn extreme_budgets_are_judged_without_panicking() {
        let workload = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "w"},
            "spec": {"replicas": i64::MAX, "selector": {"matchLabels": {"app": "w"}},
                     "template": {"metadata": {"labels": {"app": "w"}}}}});
        let selector = json!({"matchLabels": {"app": "w"}});
        for spec in [
            json!({"minAvailable": "9223372036854775807%", "selector": selector}),
            json!({"minAvailable": i64::MAX, "selector": selector}),
            json!({"minAvailable": "-5%", "selector": selector}),
            json!({"maxUnavailable": "0%", "selector": selector}),
            json!({"minAvailable": {"x": 1}, "selector": selector}),
            json!({"selector": "not a selector"}),
            json!("not a spec"),
        ] {
            let pdb = budget(spec);
            let objects = [workload.clone(), workload.clone(), pdb.clone()];
            let state = State::new(objects.iter().map(|o| ("default", o)), &[]);
            let selector = relations::budget_selector(&pdb);
            let _ = in_ci(&state, "default", &pdb, "b", &selector, Mode::Reject);
        }
    }

    #[test]
    fn a_budget_over_every_replica_is_never_satisfiable() {
        let workload = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}}}}});
        let cases = [
            (json!({"minAvailable": 3}), true),
            (json!({"minAvailable": 2}), false),
            (json!({"minAvailable": "100%"}), true),
            // ceil(0.67 * 3) = 3: no pod may go.
            (json!({"minAvailable": "67%"}), true),
            (json!({"minAvailable": "66%"}), false),
            (json!({"maxUnavailable": 0}), true),
            (json!({"maxUnavailable": "0%"}), true),
            (json!({"maxUnavailable": 1}), false),
        ];
        for (mut spec, never) in cases {
            spec["selector"] = json!({"matchLabels": {"app": "db"}});
            let pdb = budget(spec.clone());
            let objects = [workload.clone(), pdb.clone()];
            let state = State::new(objects.iter().map(|o| ("default", o)), &[]);
            let selector = relations::budget_selector(&pdb);
            let found = in_ci(&state, "default", &pdb, "b", &selector, Mode::Reject);
            assert_eq!(found.warnings.len(), usize::from(never), "{spec}");
            assert!(found.violations.is_empty(), "{spec}");
        }
    }
}
