//! The desired state: the objects of a folder of manifests (or of the
//! namespace a rule listed at admission), indexed so that the relation rules
//! ask "which pod sources does this selector select" and "which selectors
//! select these labels" without comparing every selector with every
//! template.
//!
//! "Pod sources" are Pods and the pod templates of Deployments, DaemonSets,
//! StatefulSets, ReplicaSets not owned by a Deployment,
//! ReplicationControllers, Jobs, CronJobs (`jobTemplate.spec.template`) and
//! the kinds of the `workloadKinds` setting. Matching is apimachinery's
//! (`k8s.io/apimachinery/pkg/labels/selector.go`) within one namespace:
//! [`crate::selector`].

use crate::kinds::Kind;
use crate::selector::{self, Labels, Operator, Selector};
use crate::settings::WorkloadKindRef;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One object of the desired state.
#[derive(Debug)]
pub struct Item<'v> {
    /// Its kind, as written (`Deployment`, `Rollout`).
    pub kind: &'v str,
    pub api_version: &'v str,
    pub name: &'v str,
    pub namespace: &'v str,
    pub value: &'v Value,
}

impl Item<'_> {
    /// `Deployment web`.
    pub fn title(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }
}

/// A pod source: a Pod, or the pod template of a workload.
#[derive(Debug)]
pub struct Source<'v> {
    /// Its object, in [`State::items`].
    pub item: usize,
    /// The labels its pods carry.
    pub labels: Labels<'v>,
    /// Where those labels are written: `metadata.labels` for a Pod,
    /// `spec.template.metadata.labels` for most workloads.
    pub labels_path: &'static str,
    /// The pods it runs where the manifest says so: `spec.replicas` (1
    /// where absent), 1 for a Pod; `None` for a DaemonSet, Job or CronJob,
    /// whose pod counts are not in the manifest.
    pub replicas: Option<i64>,
}

/// Label selectors, indexed by one `key=value` each of them requires, so
/// that the selectors a set of labels satisfies are found from the labels.
#[derive(Debug, Default)]
pub struct SelectorIndex<'v> {
    /// Each selector, with what it belongs to.
    pub selectors: Vec<(usize, Selector<'v>)>,
    by_pair: BTreeMap<&'v str, BTreeMap<Cow<'v, str>, Vec<usize>>>,
    /// Selectors with no single-valued `In` requirement: always candidates.
    unindexed: Vec<usize>,
}

/// A requirement `key=value` of `selector`, if it has one.
fn one_pair<'s, 'v>(selector: &'s Selector<'v>) -> Option<(&'v str, &'s Cow<'v, str>)> {
    let Selector::All(requirements) = selector else {
        return None;
    };
    requirements
        .iter()
        .find_map(|r| match (r.operator, r.values.as_slice()) {
            (Operator::In, [value]) => Some((r.key, value)),
            _ => None,
        })
}

impl<'v> SelectorIndex<'v> {
    pub fn push(&mut self, owner: usize, selector: Selector<'v>) {
        let at = self.selectors.len();
        match one_pair(&selector) {
            Some((key, value)) => {
                let value = value.clone();
                self.by_pair
                    .entry(key)
                    .or_default()
                    .entry(value)
                    .or_default()
                    .push(at)
            }
            // The nil selector selects nothing: never a candidate.
            None if matches!(selector, Selector::Nothing) => {}
            None => self.unindexed.push(at),
        }
        self.selectors.push((owner, selector));
    }

    /// The owners of the selectors `labels` satisfy, in the order pushed.
    pub fn matching(&self, labels: &Labels) -> Vec<usize> {
        let mut candidates: Vec<usize> = self.unindexed.clone();
        for (key, value) in labels {
            if let Some(list) = self.by_pair.get(key).and_then(|v| v.get(value.as_ref())) {
                candidates.extend(list);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter_map(|at| self.selectors.get(at))
            .filter(|(_, selector)| selector.matches(labels))
            .map(|(owner, _)| *owner)
            .collect()
    }
}

/// The objects of one namespace.
#[derive(Debug, Default)]
pub struct Namespace<'v> {
    /// Its pod sources, in input order.
    pub sources: Vec<Source<'v>>,
    /// Source indices by label key and value.
    by_label: BTreeMap<&'v str, BTreeMap<Cow<'v, str>, Vec<usize>>>,
    /// Objects by kind and name.
    by_name: BTreeMap<&'v str, BTreeMap<&'v str, Vec<usize>>>,
    /// Services by their selector, as `kubectl get -l` writes it.
    by_service_selector: BTreeMap<String, Vec<usize>>,
    /// PodDisruptionBudgets' selectors (owner: the budget's item).
    pub budgets: SelectorIndex<'v>,
    /// Selectors of the controllers (owner: the source).
    pub controllers: SelectorIndex<'v>,
    /// HorizontalPodAutoscalers by their target's kind and name.
    autoscalers: BTreeMap<&'v str, BTreeMap<&'v str, Vec<usize>>>,
}

impl<'v> Namespace<'v> {
    /// The sources `selector` selects, in input order.
    pub fn selected(&self, selector: &Selector) -> Vec<usize> {
        let candidates: Vec<usize> = match one_pair(selector) {
            Some((key, value)) => self
                .by_label
                .get(key)
                .and_then(|values| values.get(value.as_ref()))
                .cloned()
                .unwrap_or_default(),
            None if matches!(selector, Selector::Nothing) => Vec::new(),
            None => (0..self.sources.len()).collect(),
        };
        candidates
            .into_iter()
            .filter(|at| {
                self.sources
                    .get(*at)
                    .is_some_and(|source| selector.matches(&source.labels))
            })
            .collect()
    }

    /// The source whose labels satisfy the most of `requirements`'
    /// `key=value` pairs; ties go to the first in input order, and with no
    /// pair satisfied the first source is named. `None` without sources.
    pub fn closest(&self, selector: &Selector) -> Option<usize> {
        if self.sources.is_empty() {
            return None;
        }
        let Selector::All(requirements) = selector else {
            return Some(0);
        };
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for requirement in requirements {
            if let (Operator::In, [value]) = (requirement.operator, requirement.values.as_slice())
                && let Some(list) = self
                    .by_label
                    .get(requirement.key)
                    .and_then(|values| values.get(value.as_ref()))
            {
                for at in list {
                    *counts.entry(*at).or_default() += 1;
                }
            }
        }
        let best =
            counts.into_iter().fold(
                None,
                |best: Option<(usize, usize)>, (at, count)| match best {
                    Some((_, most)) if most >= count => best,
                    _ => Some((at, count)),
                },
            );
        Some(best.map_or(0, |(at, _)| at))
    }

    /// Items of `kind` named `name`.
    pub fn named(&self, kind: &str, name: &str) -> &[usize] {
        self.by_name
            .get(kind)
            .and_then(|names| names.get(name))
            .map_or(&[], Vec::as_slice)
    }

    /// Services whose selector is written `selector` (`kubectl get -l`).
    pub fn services_with(&self, selector: &str) -> &[usize] {
        self.by_service_selector
            .get(selector)
            .map_or(&[], Vec::as_slice)
    }

    /// HorizontalPodAutoscalers whose target is `kind` `name`.
    pub fn autoscalers_of(&self, kind: &str, name: &str) -> &[usize] {
        self.autoscalers
            .get(kind)
            .and_then(|names| names.get(name))
            .map_or(&[], Vec::as_slice)
    }
}

/// Every object of the inputs, and each namespace's indexes.
#[derive(Debug, Default)]
pub struct State<'v> {
    /// In input order.
    pub items: Vec<Item<'v>>,
    namespaces: BTreeMap<&'v str, Namespace<'v>>,
}

/// The string at `keys` under `value`; `""` when absent or not a string.
pub fn text<'v>(value: &'v Value, keys: &[&str]) -> &'v str {
    let mut current = value;
    for key in keys {
        match current.get(key) {
            Some(next) => current = next,
            None => return "",
        }
    }
    current.as_str().unwrap_or("")
}

fn at<'v>(value: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    let mut current = value;
    for key in keys {
        current = current.get(key)?;
    }
    (!current.is_null()).then_some(current)
}

/// The replica count a workload's manifest sets: `spec.replicas`, 1 where
/// absent (the API server's default).
fn replicas(value: &Value) -> Option<i64> {
    match at(value, &["spec", "replicas"]) {
        None => Some(1),
        Some(n) => n.as_i64(),
    }
}

/// Whether the object has a controller owner of `kind`.
fn owned_by(value: &Value, kind: &str) -> bool {
    at(value, &["metadata", "ownerReferences"])
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r.get("controller") == Some(&Value::Bool(true))
                    && r.get("kind").and_then(Value::as_str) == Some(kind)
            })
        })
}

impl<'v> State<'v> {
    /// The state of `objects` (each with its namespace: `metadata.namespace`,
    /// else the one the caller defaults to; `""` for cluster-scoped kinds),
    /// with `custom` naming the custom workload kinds.
    pub fn new(
        objects: impl IntoIterator<Item = (&'v str, &'v Value)>,
        custom: &[WorkloadKindRef],
    ) -> Self {
        let mut state = State::default();
        for (namespace, value) in objects {
            let item = Item {
                kind: text(value, &["kind"]),
                api_version: text(value, &["apiVersion"]),
                name: text(value, &["metadata", "name"]),
                namespace,
                value,
            };
            let index = state.items.len();
            let space = state.namespaces.entry(namespace).or_default();
            space
                .by_name
                .entry(item.kind)
                .or_default()
                .entry(item.name)
                .or_default()
                .push(index);
            add(space, index, &item, custom);
            state.items.push(item);
        }
        state
    }

    pub fn namespace(&self, namespace: &str) -> Option<&Namespace<'v>> {
        self.namespaces.get(namespace)
    }

    /// The item of a source.
    pub fn item(&self, at: usize) -> Option<&Item<'v>> {
        self.items.get(at)
    }
}

/// Files `item` in its namespace's indexes.
fn add<'v>(space: &mut Namespace<'v>, index: usize, item: &Item<'v>, custom: &[WorkloadKindRef]) {
    let value = item.value;
    let (group, version) = item
        .api_version
        .split_once('/')
        .unwrap_or(("", item.api_version));
    let kind = Kind::from_gvk(group, version, item.kind);
    let labels_at = |keys: &[&str]| selector::parse_labels(at(value, keys), "").0;
    let template = ["spec", "template", "metadata", "labels"];
    let source = match kind {
        Some(Kind::Pod) => Some((
            labels_at(&["metadata", "labels"]),
            "metadata.labels",
            Some(1),
        )),
        Some(Kind::ReplicaSet) if owned_by(value, "Deployment") => None,
        Some(
            Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet | Kind::ReplicationController,
        ) => Some((
            labels_at(&template),
            "spec.template.metadata.labels",
            replicas(value),
        )),
        Some(Kind::DaemonSet | Kind::Job) => {
            Some((labels_at(&template), "spec.template.metadata.labels", None))
        }
        Some(Kind::CronJob) => Some((
            labels_at(&[
                "spec",
                "jobTemplate",
                "spec",
                "template",
                "metadata",
                "labels",
            ]),
            "spec.jobTemplate.spec.template.metadata.labels",
            None,
        )),
        Some(Kind::Service) => {
            if let Some(Value::Object(map)) = at(value, &["spec", "selector"])
                && !map.is_empty()
            {
                let selector = Selector::from_labels(
                    &selector::parse_labels(at(value, &["spec", "selector"]), "").0,
                );
                space
                    .by_service_selector
                    .entry(selector.kubectl())
                    .or_default()
                    .push(index);
            }
            None
        }
        Some(Kind::PodDisruptionBudget) => {
            space.budgets.push(index, budget_selector(value));
            None
        }
        Some(Kind::HorizontalPodAutoscaler) => {
            let target = text(value, &["spec", "scaleTargetRef", "kind"]);
            let name = text(value, &["spec", "scaleTargetRef", "name"]);
            space
                .autoscalers
                .entry(target)
                .or_default()
                .entry(name)
                .or_default()
                .push(index);
            None
        }
        Some(Kind::NetworkPolicy) | None => {
            let is_custom = custom
                .iter()
                .any(|c| c.api_version == item.api_version && c.kind == item.kind);
            match at(value, &template) {
                Some(_) if is_custom => Some((
                    labels_at(&template),
                    "spec.template.metadata.labels",
                    replicas(value),
                )),
                _ => None,
            }
        }
    };
    let Some((labels, labels_path, replicas)) = source else {
        return;
    };
    let at_source = space.sources.len();
    for (key, value) in &labels {
        space
            .by_label
            .entry(key)
            .or_default()
            .entry(value.clone())
            .or_default()
            .push(at_source);
    }
    let is_controller = kind.is_some_and(|k| k.roles().controller);
    if is_controller {
        let plain = kind == Some(Kind::ReplicationController);
        let selector = selector::of_controller(
            plain,
            at(value, &["spec", "selector"]).unwrap_or(&Value::Null),
            &labels,
        );
        space.controllers.push(at_source, selector);
    }
    space.sources.push(Source {
        item: index,
        labels,
        labels_path,
        replicas,
    });
}

/// A PodDisruptionBudget's selector: policy/v1 reads `{}` as every pod of
/// the namespace; policy/v1beta1 read it as none.
pub fn budget_selector(value: &Value) -> Selector<'_> {
    let selector = at(value, &["spec", "selector"]);
    let parsed = selector::parse(selector, "spec.selector").0;
    if text(value, &["apiVersion"]) == "policy/v1beta1" && parsed.is_empty() {
        return Selector::Nothing;
    }
    parsed
}

/// Whether two objects of one kind and namespace are the same object: the
/// same `metadata.uid` when both have one (a listed object, an UPDATE),
/// else the same name (a CREATE, a manifest).
pub fn same_object(uid: &str, name: &str, other_uid: &str, other_name: &str) -> bool {
    if !uid.is_empty() && !other_uid.is_empty() {
        uid == other_uid
    } else {
        name == other_name
    }
}

/// How a source is named in messages: `DaemonSet rng's template`, `Pod p`.
pub fn source_title(item: &Item, source: &Source) -> String {
    if source.labels_path == "metadata.labels" {
        format!("{} {}", item.kind, item.name)
    } else {
        format!("{} {}'s template", item.kind, item.name)
    }
}

/// `<what> <selector> selects no pod; ` and what the closest pod source of
/// the namespace lacks, with the fix in both directions, or that the
/// namespace has no pod source at all.
pub fn selects_no_pod(
    state: &State,
    space: Option<&Namespace>,
    namespace: &str,
    what: &str,
    selector: &Selector,
) -> String {
    let head = format!("{what} {} selects no pod", selector.kubectl());
    let closest = space.and_then(|space| {
        let at = space.closest(selector)?;
        let source = space.sources.get(at)?;
        Some((state.item(source.item)?, source))
    });
    let Some((item, source)) = closest else {
        return format!(
            "{head}: namespace {namespace} has no pod, and no workload with a pod template, among the inputs; add what it should select, or remove the selector's owner"
        );
    };
    let Selector::All(requirements) = selector else {
        return head;
    };
    let title = source_title(item, source);
    let (met, unmet): (Vec<_>, Vec<_>) =
        requirements.iter().partition(|r| r.matches(&source.labels));
    let has = if met.is_empty() {
        "has none of these labels".to_string()
    } else {
        let met: Vec<String> = met.iter().map(|r| r.kubectl()).collect();
        format!("has {}", met.join(","))
    };
    let lacks: Vec<String> = unmet
        .iter()
        .map(|r| match source.labels.get(r.key) {
            Some(value) => format!("{} (it has {}={value})", r.kubectl(), r.key),
            None => r.key.to_string(),
        })
        .collect();
    let fixes: Vec<String> = unmet
        .iter()
        .map(|r| match (r.operator, r.values.as_slice()) {
            (Operator::In, [value]) if source.labels.contains_key(r.key) => {
                format!("set {}: {}", r.key, crate::labels::json_quoted(value))
            }
            (Operator::In, [value]) => {
                format!("add {}: {}", r.key, crate::labels::json_quoted(value))
            }
            _ => format!("make its labels satisfy {}", r.kubectl()),
        })
        .collect();
    let keys: Vec<&str> = unmet.iter().map(|r| r.key).collect();
    let connector = if met.is_empty() {
        "; it lacks"
    } else {
        " but not"
    };
    let preposition = if fixes.iter().all(|f| f.starts_with("add ")) {
        "to"
    } else {
        "in"
    };
    // Dropping every key would leave no selector at all, which means
    // something else (no pods, or endpoints managed by hand).
    let or_else = if unmet.len() < requirements.len() {
        format!("or drop {} from the selector", keys.join(", "))
    } else {
        "or correct the selector".to_string()
    };
    format!(
        "{head}; {title} {has}{connector} {}: {} {preposition} its {} (and label the running pods first), {or_else}",
        lacks.join(", "),
        fixes.join(" and "),
        source.labels_path,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
               "spec": {"selector": {"matchLabels": labels.clone()},
                        "template": {"metadata": {"labels": labels}}}})
    }

    #[test]
    fn selectors_find_their_sources_by_index() {
        let objects = [
            deployment("a", json!({"app": "a", "tier": "web"})),
            deployment("b", json!({"app": "b", "tier": "web"})),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "a"}}}),
        ];
        let state = State::new(objects.iter().map(|o| ("default", o)), &[]);
        let space = state.namespace("default").expect("namespace");
        let by_app = json!({"matchLabels": {"app": "a"}});
        let selector = selector::parse(Some(&by_app), "").0;
        assert_eq!(space.selected(&selector), vec![0, 2]);
        let by_tier = json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}]});
        assert_eq!(
            space.selected(&selector::parse(Some(&by_tier), "").0),
            vec![0, 1]
        );
        assert!(space.selected(&Selector::Nothing).is_empty());
        let missing = json!({"app": "b", "tier": "db"});
        let wanted = Selector::from_labels(&selector::parse_labels(Some(&missing), "").0);
        assert_eq!(space.closest(&wanted), Some(1), "b satisfies one pair");
        let none = json!({"app": "z"});
        let wanted = Selector::from_labels(&selector::parse_labels(Some(&none), "").0);
        assert_eq!(
            space.closest(&wanted),
            Some(0),
            "the first when none is close"
        );
        let template = json!({"app": "a", "tier": "web"});
        let labels = selector::parse_labels(Some(&template), "").0;
        assert_eq!(space.controllers.matching(&labels), vec![0]);
    }

    #[test]
    fn owned_replica_sets_and_other_namespaces_are_not_sources() {
        let mut rs = deployment("rs", json!({"app": "a"}));
        rs["kind"] = json!("ReplicaSet");
        rs["metadata"]["ownerReferences"] =
            json!([{"kind": "Deployment", "name": "d", "controller": true}]);
        let other = deployment("x", json!({"app": "a"}));
        let state = State::new([("default", &rs), ("other", &other)], &[]);
        assert!(state.namespace("default").expect("ns").sources.is_empty());
        assert_eq!(state.namespace("other").expect("ns").sources.len(), 1);
    }

    #[test]
    fn custom_workloads_are_sources() {
        let rollout = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
            "spec": {"replicas": 4, "template": {"metadata": {"labels": {"app": "r"}}}}});
        let custom = [WorkloadKindRef {
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Rollout".into(),
        }];
        let state = State::new([("default", &rollout)], &custom);
        let space = state.namespace("default").expect("ns");
        assert_eq!(space.sources.len(), 1);
        assert_eq!(space.sources[0].replicas, Some(4));
        assert!(
            State::new([("default", &rollout)], &[])
                .namespace("default")
                .expect("ns")
                .sources
                .is_empty()
        );
    }

    #[test]
    fn v1beta1_budgets_with_an_empty_selector_select_nothing() {
        let v1 = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "spec": {"selector": {}}});
        let mut beta = v1.clone();
        beta["apiVersion"] = json!("policy/v1beta1");
        assert!(budget_selector(&v1).is_empty());
        assert_eq!(budget_selector(&beta), Selector::Nothing);
    }
}
