//! `networkPolicyTargets` (CI only): a NetworkPolicy whose `podSelector`
//! selects no pod source of its namespace, and an ingress or egress peer
//! whose `podSelector` (without a `namespaceSelector`) selects none.
//!
//! `spec.podSelector` chooses the pods of the policy's namespace it applies
//! to; a peer with only a `podSelector` means pods of that same namespace
//! (networking.k8s.io/v1 `NetworkPolicyPeer`). A selector that selects
//! nothing protects nothing, or allows traffic from nothing. `{}` selects
//! every pod and is never dangling; peers with a `namespaceSelector` name
//! other namespaces, which a folder cannot judge. Peers are judged whatever
//! `policyTypes` says. At admission the policy usually arrives before the
//! pods it selects (Helm installs NetworkPolicies first), so the rule reads
//! nothing there.

use super::{CHECK_MODES, CREATE_AND_UPDATE, Defaults, Kind, Place, Rule, RuleMode};
use crate::findings::Findings;
use crate::relations::{self, Namespace, State};
use crate::selector;
use crate::settings::Mode;
use serde_json::Value;

/// `networkPolicyTargets`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "networkPolicyTargets",
    summary: "a NetworkPolicy podSelector, or a peer's podSelector, that selects no pod source of its namespace (CI only)",
    kinds: &[Kind::NetworkPolicy],
    operations: &CREATE_AND_UPDATE,
    // Judged only where the folder is the desired state.
    unregistered: &[
        (Kind::NetworkPolicy, super::Operation::Create),
        (Kind::NetworkPolicy, super::Operation::Update),
    ],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Warn,
        ci: RuleMode::Warn,
    },
    options: &["workloadKinds"],
    reads: &[
        "spec.podSelector",
        "spec.ingress[*].from[*].podSelector",
        "spec.egress[*].to[*].podSelector",
    ],
    cluster_reads: &[],
    reads_old_object: false,
    fires: &[Place::Ci],
    enabled: |settings, _| settings.network_policy_targets != Mode::Off,
    check: |cx| {
        let Some(state) = cx.host.desired() else {
            return Findings::default();
        };
        let space = state.namespace(cx.request.namespace);
        let mut findings = Findings::default();
        let spec = cx.object.value.get("spec").unwrap_or(&Value::Null);
        let mut judge = |selector: Option<&Value>, path: String, what: &str| {
            judge_one(
                state,
                space,
                cx.request.namespace,
                selector,
                &path,
                what,
                cx.settings.network_policy_targets,
                &mut findings,
            );
        };
        judge(
            spec.get("podSelector"),
            "spec.podSelector".to_string(),
            "podSelector",
        );
        for (direction, peers_key) in [("ingress", "from"), ("egress", "to")] {
            let rules = spec.get(direction).and_then(Value::as_array);
            for (i, rule) in rules.into_iter().flatten().enumerate() {
                let peers = rule.get(peers_key).and_then(Value::as_array);
                for (j, peer) in peers.into_iter().flatten().enumerate() {
                    if peer.get("namespaceSelector").is_some_and(|n| !n.is_null()) {
                        continue;
                    }
                    judge(
                        peer.get("podSelector"),
                        format!("spec.{direction}[{i}].{peers_key}[{j}].podSelector"),
                        "the peer's podSelector",
                    );
                }
            }
        }
        findings
    },
    custom: None,
};

/// One selector: absent, `{}` or selecting a pod source is fine.
#[allow(clippy::too_many_arguments)]
fn judge_one(
    state: &State,
    space: Option<&Namespace>,
    namespace: &str,
    selector: Option<&Value>,
    path: &str,
    what: &str,
    mode: Mode,
    findings: &mut Findings,
) {
    let Some(value) = selector.filter(|v| !v.is_null()) else {
        return;
    };
    let parsed = selector::parse(Some(value), path).0;
    if parsed.is_empty() {
        return;
    }
    if space.is_some_and(|space| !space.selected(&parsed).is_empty()) {
        return;
    }
    let message = relations::selects_no_pod(state, space, namespace, what, &parsed);
    findings.report(mode, path.to_string(), message);
}
