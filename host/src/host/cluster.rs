//! A cluster made of manifests: answers the Kubernetes host capability's
//! read calls the way policy-server's reflector-backed host does, so
//! session fixtures can be recorded instead of written by hand.
//!
//! - `list_resources_by_namespace`: the objects with that `apiVersion` and
//!   `kind` whose `metadata.namespace` (default `default`) is the one asked;
//!   `list_resources_all`: the same in every namespace. Answered as
//!   `{"apiVersion":"v1","kind":"<Kind>List","metadata":{"resourceVersion":""},"items":[...]}`,
//!   items sorted by namespace then name, as the API server lists them.
//! - `get_resource`: the object by name (and namespace, if given); when
//!   there is none, kwctl's error text
//!   `Cannot find apps/v1/ReplicaSet named 'x' inside of namespace 'Some("default")'`.
//! - `label_selector`: equality-based terms (`k=v`, `k==v`, `k!=v`, `k`,
//!   `!k`, comma-separated); `field_selector`: `metadata.name` and
//!   `metadata.namespace` with `=`, `==`, `!=`. Anything else is an error
//!   that says the selector cannot be evaluated here, never a guess.
//! - `field_masks` prune each object to the listed dotted paths (lists are
//!   traversed implicitly); `apiVersion`, `kind` and the whole `metadata`
//!   are always kept, as policy-server keeps them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use crate::manifests::parse_manifests;

/// Objects read from manifests, queried like an API server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FakeCluster {
    objects: Vec<Value>,
}

impl FakeCluster {
    /// The objects of a multi-document YAML (or JSON) file, read by YAML 1.1
    /// rules as kubectl reads them; `kind: List` documents are flattened.
    pub fn load(path: &Path) -> Result<FakeCluster> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read cluster state {}", path.display()))?;
        FakeCluster::parse(&text).with_context(|| format!("cluster state {}", path.display()))
    }

    /// See [`FakeCluster::load`].
    pub fn parse(text: &str) -> Result<FakeCluster> {
        Ok(FakeCluster::from_objects(parse_manifests(text)?))
    }

    /// A cluster holding exactly `objects`.
    pub fn from_objects(objects: Vec<Value>) -> FakeCluster {
        FakeCluster { objects }
    }

    /// The objects, in the order they were read.
    pub fn objects(&self) -> &[Value] {
        &self.objects
    }

    /// Answers a `kubernetes/<operation>` call whose JSON payload is `request`.
    pub fn answer(&self, operation: &str, request: &Value) -> Result<Vec<u8>, String> {
        let text = |name: &str| request.get(name).and_then(Value::as_str);
        let required = |name: &str| {
            text(name).ok_or_else(|| {
                format!("kubernetes/{operation}: the request has no string `{name}`")
            })
        };
        let api_version = required("api_version")?;
        let kind = required("kind")?;
        let masks = field_masks(request).map_err(|e| format!("kubernetes/{operation}: {e}"))?;
        let answer = match operation {
            "list_resources_by_namespace" => {
                let namespace = required("namespace")?;
                self.list(
                    api_version,
                    kind,
                    Some(namespace),
                    request,
                    masks.as_deref(),
                )?
            }
            "list_resources_all" => {
                self.list(api_version, kind, None, request, masks.as_deref())?
            }
            "get_resource" => {
                let name = required("name")?;
                let namespace = text("namespace");
                let found = self
                    .of_kind(api_version, kind)
                    .find(|o| {
                        meta(o, "name") == Some(name)
                            && namespace.is_none_or(|ns| namespace_of(o) == ns)
                    })
                    .ok_or_else(|| {
                        format!(
                            "Cannot find {api_version}/{kind} named '{name}' inside of namespace '{namespace:?}'"
                        )
                    })?;
                masked(found, masks.as_deref())
            }
            other => {
                return Err(format!(
                    "kubernetes/{other}: this fake cluster answers list_resources_by_namespace, list_resources_all and get_resource only"
                ));
            }
        };
        serde_json::to_vec(&answer).map_err(|e| format!("kubernetes/{operation}: {e}"))
    }

    fn of_kind<'a>(
        &'a self,
        api_version: &'a str,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a Value> {
        self.objects.iter().filter(move |o| {
            o.get("apiVersion").and_then(Value::as_str) == Some(api_version)
                && o.get("kind").and_then(Value::as_str) == Some(kind)
        })
    }

    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        request: &Value,
        masks: Option<&[String]>,
    ) -> Result<Value, String> {
        let labels = match request.get("label_selector") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => parse_label_selector(s)?,
            Some(other) => return Err(format!("label_selector must be a string, got {other}")),
        };
        let fields = match request.get("field_selector") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => parse_field_selector(s)?,
            Some(other) => return Err(format!("field_selector must be a string, got {other}")),
        };
        let mut items: BTreeMap<(String, String, usize), Value> = BTreeMap::new();
        for (i, object) in self.of_kind(api_version, kind).enumerate() {
            let ns = namespace_of(object);
            if namespace.is_some_and(|wanted| wanted != ns) {
                continue;
            }
            if !labels.iter().all(|term| term.matches(object)) {
                continue;
            }
            if !fields.iter().all(|term| term.matches(object)) {
                continue;
            }
            let name = meta(object, "name").unwrap_or_default().to_owned();
            items.insert((ns.to_owned(), name, i), masked(object, masks));
        }
        Ok(json!({
            "apiVersion": "v1",
            "kind": format!("{kind}List"),
            "metadata": {"resourceVersion": ""},
            "items": items.into_values().collect::<Vec<_>>(),
        }))
    }
}

fn meta<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get("metadata")?.get(key)?.as_str()
}

/// `metadata.namespace`, `default` when absent (as `kubectl apply` would create it).
fn namespace_of(object: &Value) -> &str {
    meta(object, "namespace").unwrap_or("default")
}

fn field_masks(request: &Value) -> Result<Option<Vec<String>>, String> {
    match request.get("field_masks") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|m| {
                m.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("field_masks must be strings, got {m}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!("field_masks must be a list, got {other}")),
    }
}

/// A tree of mask paths: a key with an empty subtree keeps its whole value.
#[derive(Default)]
struct MaskTree(BTreeMap<String, MaskTree>);

impl MaskTree {
    fn new(masks: &[String]) -> MaskTree {
        let mut root = MaskTree::default();
        for mask in masks {
            let mut node = &mut root;
            let mut whole = false;
            for segment in mask.split('.') {
                if whole {
                    break;
                }
                let child = node.0.entry(segment.to_owned());
                // An existing leaf already keeps the whole value.
                whole = matches!(&child, std::collections::btree_map::Entry::Occupied(e) if e.get().0.is_empty());
                node = child.or_default();
            }
            if !whole {
                node.0.clear();
            }
        }
        root
    }

    fn prune(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().map(|i| self.prune(i)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter_map(|(key, v)| {
                        let child = self.0.get(key)?;
                        Some((
                            key.clone(),
                            if child.0.is_empty() {
                                v.clone()
                            } else {
                                child.prune(v)
                            },
                        ))
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// `object` pruned to `masks` (whole when there are none).
fn masked(object: &Value, masks: Option<&[String]>) -> Value {
    let Some(masks) = masks else {
        return object.clone();
    };
    let mut all: Vec<String> = masks.to_vec();
    all.extend(["apiVersion", "kind", "metadata"].map(String::from));
    MaskTree::new(&all).prune(object)
}

/// One equality-based label requirement.
#[derive(Debug, PartialEq)]
enum LabelTerm {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    DoesNotExist(String),
}

impl LabelTerm {
    fn matches(&self, object: &Value) -> bool {
        let labels: Option<&Map<String, Value>> = object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        match self {
            LabelTerm::Equals(k, v) => get(k) == Some(v.as_str()),
            LabelTerm::NotEquals(k, v) => get(k) != Some(v.as_str()),
            LabelTerm::Exists(k) => get(k).is_some(),
            LabelTerm::DoesNotExist(k) => get(k).is_none(),
        }
    }
}

fn cannot_evaluate(what: &str, selector: &str, why: &str) -> String {
    format!("this fake cluster cannot evaluate the {what} {selector:?}: {why}")
}

fn plain_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn parse_label_selector(selector: &str) -> Result<Vec<LabelTerm>, String> {
    if selector.contains('(') || selector.contains(" in ") || selector.contains(" notin ") {
        return Err(cannot_evaluate(
            "label_selector",
            selector,
            "set-based requirements (in, notin) are not supported; use k=v, k!=v, k or !k",
        ));
    }
    let mut terms = Vec::new();
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (key, value, negated) = if let Some((k, v)) = term.split_once("!=") {
            (k, Some(v), true)
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            (k, Some(v), false)
        } else if let Some(k) = term.strip_prefix('!') {
            (k, None, true)
        } else {
            (term, None, false)
        };
        let (key, value) = (key.trim(), value.map(str::trim));
        let value_ok = value.is_none_or(|v| v.is_empty() || plain_token(v));
        if !plain_token(key) || !value_ok {
            return Err(cannot_evaluate(
                "label_selector",
                selector,
                &format!("term {term:?} is not k=v, k!=v, k or !k"),
            ));
        }
        terms.push(match (value, negated) {
            (Some(v), false) => LabelTerm::Equals(key.to_owned(), v.to_owned()),
            (Some(v), true) => LabelTerm::NotEquals(key.to_owned(), v.to_owned()),
            (None, false) => LabelTerm::Exists(key.to_owned()),
            (None, true) => LabelTerm::DoesNotExist(key.to_owned()),
        });
    }
    Ok(terms)
}

/// One field requirement on `metadata.name` or `metadata.namespace`.
#[derive(Debug, PartialEq)]
struct FieldTerm {
    field: &'static str,
    value: String,
    negated: bool,
}

impl FieldTerm {
    fn matches(&self, object: &Value) -> bool {
        let actual = match self.field {
            "namespace" => Some(namespace_of(object)),
            field => meta(object, field),
        };
        (actual == Some(self.value.as_str())) != self.negated
    }
}

fn parse_field_selector(selector: &str) -> Result<Vec<FieldTerm>, String> {
    let mut terms = Vec::new();
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (path, value, negated) = if let Some((k, v)) = term.split_once("!=") {
            (k, v, true)
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            (k, v, false)
        } else {
            return Err(cannot_evaluate(
                "field_selector",
                selector,
                &format!("term {term:?} has no operator"),
            ));
        };
        let field = match path.trim() {
            "metadata.name" => "name",
            "metadata.namespace" => "namespace",
            other => {
                return Err(cannot_evaluate(
                    "field_selector",
                    selector,
                    &format!(
                        "only metadata.name and metadata.namespace are supported, not {other}"
                    ),
                ));
            }
        };
        terms.push(FieldTerm {
            field,
            value: value.trim().to_owned(),
            negated,
        });
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: rng-b
    namespace: default
    uid: 2
    labels: {app: rng, tier: backend}
    ownerReferences:
    - {apiVersion: apps/v1, kind: ReplicaSet, name: rng-54f57d4d49, uid: rs-1, controller: true}
  spec:
    containers:
    - {name: rng, image: "dockercoins/rng:v0.1", ports: [{containerPort: 80}]}
  status: {phase: Running}
- apiVersion: v1
  kind: Pod
  metadata: {name: rng-a, labels: {app: rng, active: yes}}
  spec: {containers: [{name: rng, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: prod, labels: {app: rng}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rng-54f57d4d49, namespace: default}
spec: {selector: {matchLabels: {app: rng}}}
"#;

    fn cluster() -> FakeCluster {
        FakeCluster::parse(STATE).expect("parses")
    }

    fn ask(operation: &str, request: Value) -> Result<Value, String> {
        cluster()
            .answer(operation, &request)
            .map(|bytes| serde_json::from_slice(&bytes).expect("JSON"))
    }

    fn names(list: &Value) -> Vec<&str> {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["metadata"]["name"].as_str().expect("name"))
            .collect()
    }

    #[test]
    fn lists_by_namespace_sorted_with_default_namespace_and_yaml11() {
        let list = ask(
            "list_resources_by_namespace",
            json!({"api_version": "v1", "kind": "Pod", "namespace": "default", "label_selector": null, "field_selector": null}),
        )
        .expect("lists");
        assert_eq!(list["kind"], "PodList");
        assert_eq!(list["apiVersion"], "v1");
        assert_eq!(list["metadata"], json!({"resourceVersion": ""}));
        assert_eq!(names(&list), ["rng-a", "rng-b"]);
        // Read as kubectl reads it: `yes` is a boolean.
        assert_eq!(list["items"][0]["metadata"]["labels"]["active"], true);
        let all = ask(
            "list_resources_all",
            json!({"api_version": "v1", "kind": "Pod"}),
        )
        .expect("lists");
        assert_eq!(names(&all), ["rng-a", "rng-b", "other"]);
        let none = ask(
            "list_resources_by_namespace",
            json!({"api_version": "apps/v1", "kind": "Pod", "namespace": "default"}),
        )
        .expect("lists");
        assert_eq!(names(&none), Vec::<&str>::new());
    }

    #[test]
    fn field_masks_prune_all_but_metadata_through_lists() {
        let list = ask(
            "list_resources_by_namespace",
            json!({"api_version": "v1", "kind": "Pod", "namespace": "default",
                   "field_masks": ["spec.containers.image", "status.phase"]}),
        )
        .expect("lists");
        let rng_b = &list["items"][1];
        assert_eq!(
            rng_b["spec"],
            json!({"containers": [{"image": "dockercoins/rng:v0.1"}]})
        );
        assert_eq!(rng_b["status"], json!({"phase": "Running"}));
        assert_eq!(
            rng_b["metadata"]["ownerReferences"][0]["name"],
            "rng-54f57d4d49"
        );
        assert_eq!(rng_b["kind"], "Pod");
        let rng_a = &list["items"][0];
        assert_eq!(rng_a.get("status"), None);
    }

    #[test]
    fn get_finds_by_name_and_namespace_or_says_what_is_missing() {
        let rs = ask(
            "get_resource",
            json!({"api_version": "apps/v1", "kind": "ReplicaSet", "name": "rng-54f57d4d49", "namespace": "default", "disable_cache": false}),
        )
        .expect("found");
        assert_eq!(rs["spec"]["selector"]["matchLabels"]["app"], "rng");
        let err = ask(
            "get_resource",
            json!({"api_version": "apps/v1", "kind": "ReplicaSet", "name": "x", "namespace": "default", "disable_cache": false}),
        )
        .expect_err("missing");
        assert_eq!(
            err,
            r#"Cannot find apps/v1/ReplicaSet named 'x' inside of namespace 'Some("default")'"#
        );
    }

    #[test]
    fn selectors_are_evaluated_or_refused() {
        let list = |label: Value, field: Value| {
            ask(
                "list_resources_all",
                json!({"api_version": "v1", "kind": "Pod", "label_selector": label, "field_selector": field}),
            )
        };
        let got = list(json!("app=rng,tier!=backend"), Value::Null).expect("lists");
        assert_eq!(names(&got), ["rng-a", "other"]);
        let got = list(json!("tier"), json!("metadata.namespace=default")).expect("lists");
        assert_eq!(names(&got), ["rng-b"]);
        let got = list(json!("!tier"), json!("metadata.name!=other")).expect("lists");
        assert_eq!(names(&got), ["rng-a"]);
        let err = list(json!("app in (rng)"), Value::Null).expect_err("set-based");
        assert!(err.contains("cannot evaluate the label_selector"), "{err}");
        let err = list(Value::Null, json!("status.phase=Running")).expect_err("field");
        assert!(err.contains("cannot evaluate the field_selector"), "{err}");
    }
}
