//! `serviceSelectorUnique` (off by default): two Services of one namespace
//! with the same selector.
//!
//! Not a mistake Kubernetes knows of, but an organisation's choice: two
//! Services that select the same pods are usually one copied from the
//! other. A Service is never compared with itself (same `metadata.uid`,
//! else same name, on UPDATE too); Services without a selector are exempt;
//! a headless Service (`clusterIP: None`) beside a non-headless one with the
//! same selector is the StatefulSet pattern (its governing Service), not a
//! clash. At admission it lists the namespace's Services; in CI it reads
//! the folder.

use super::{
    CHECK_MODES, CREATE_AND_UPDATE, Defaults, EVERYWHERE, Kind, Rule, RuleMode, lookup, not_checked,
};
use crate::cluster;
use crate::findings::Findings;
use crate::relations;
use crate::selector::{self, Selector};
use crate::settings::Mode;
use serde_json::Value;

/// `serviceSelectorUnique`, as the registry lists it.
pub const RULE: Rule = Rule {
    id: "serviceSelectorUnique",
    summary: "two Services of one namespace with the same selector (a headless Service beside a normal one is not a clash)",
    kinds: &[Kind::Service],
    operations: &CREATE_AND_UPDATE,
    unregistered: &[],
    modes: &CHECK_MODES,
    default: Defaults {
        admission: RuleMode::Off,
        ci: RuleMode::Off,
    },
    options: &[],
    reads: &[
        "metadata.name",
        "metadata.uid",
        "spec.selector",
        "spec.clusterIP",
    ],
    cluster_reads: &[Kind::Service],
    reads_old_object: true,
    fires: &EVERYWHERE,
    enabled: |settings, _| settings.service_selector_unique != Mode::Off,
    check: run,
    custom: None,
};

/// A Service as this rule compares it.
struct Compared<'a> {
    name: &'a str,
    uid: &'a str,
    headless: bool,
}

fn headless(cluster_ip: Option<&Value>) -> bool {
    cluster_ip.and_then(Value::as_str) == Some("None")
}

fn run(cx: &super::Context) -> Findings {
    let mut findings = Findings::default();
    let Some(map) = super::service_selector_change::service_selector(cx.object) else {
        return findings;
    };
    let labels = selector::parse_labels(Some(&map), "spec.selector").0;
    if labels.is_empty() {
        return findings;
    }
    let written = Selector::from_labels(&labels).kubectl();
    // On UPDATE only a new selector can clash anew: nothing is read otherwise.
    if cx.host.desired().is_none()
        && cx.request.old.is_some_and(|old| {
            super::service_selector_change::service_selector(old).as_ref() == Some(&map)
        })
    {
        return findings;
    }
    let this = Compared {
        name: relations::text(&cx.object.value, &["metadata", "name"]),
        uid: relations::text(&cx.object.value, &["metadata", "uid"]),
        headless: headless(
            lookup(&cx.object.value, &["spec", "clusterIP"])
                .ok()
                .flatten(),
        ),
    };
    let mut clashes: Vec<String> = Vec::new();
    let mut consider = |other: Compared| {
        let itself = relations::same_object(this.uid, this.name, other.uid, other.name);
        if !itself && other.headless == this.headless {
            clashes.push(other.name.to_string());
        }
    };
    match cx.host.desired() {
        Some(state) => {
            let Some(space) = state.namespace(cx.request.namespace) else {
                return findings;
            };
            for at in space.services_with(&written) {
                let Some(item) = state.item(*at) else {
                    continue;
                };
                consider(Compared {
                    name: item.name,
                    uid: "",
                    headless: headless(item.value.get("spec").and_then(|s| s.get("clusterIP"))),
                });
            }
        }
        None => {
            match cluster::list::<cluster::Service>(cx.host, Kind::Service, cx.request.namespace) {
                Ok(services) => {
                    for service in &services {
                        let theirs = selector::parse_labels(Some(&service.spec.selector), "").0;
                        if theirs.is_empty() || Selector::from_labels(&theirs).kubectl() != written
                        {
                            continue;
                        }
                        consider(Compared {
                            name: &service.metadata.name,
                            uid: &service.metadata.uid,
                            headless: service.spec.cluster_ip == "None",
                        });
                    }
                }
                Err(unread) => {
                    findings.warnings.push(not_checked(RULE.id, &[unread]));
                    return findings;
                }
            }
        }
    }
    if !clashes.is_empty() {
        let others: Vec<String> = clashes.iter().map(|n| format!("Service {n}")).collect();
        findings.report(
            cx.settings.service_selector_unique,
            "spec.selector",
            format!(
                "selector {written} is also the selector of {} in namespace {}: two Services that select the same pods are usually one copied from the other; give each its own selector, or delete the duplicate",
                others.join(", "),
                cx.request.namespace
            ),
        );
    }
    findings
}
