//! The only place that reads other objects of the cluster.
//!
//! Every read is a waPC host call `kubewarden/kubernetes/<operation>` with
//! the SDK's request types (REFERENCE §9), through the [`Host`] trait so
//! that native tests can answer at this boundary. The queries are constant
//! per (kind, namespace): no `label_selector`, because policy-server keeps
//! one LIST+WATCH cache per distinct query, forever. Matching happens in the
//! policy ([`crate::selector`]). `field_masks` name what the rules read;
//! hosts that prune (policy-server >= 1.33) send less, the others send whole
//! objects, and both read the same.
//!
//! A failed read is never an error of the request: it is an [`Unread`],
//! which the rules turn into a warning that names what could not be checked.

use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    GetResourceRequest, ListResourcesByNamespaceRequest,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// Answers `kubewarden/kubernetes/<operation>` calls: `Ok` with the JSON
/// answer, `Err` with the host's error text (not granted, no RBAC, not
/// found, API error).
pub trait Host {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;
}

/// The waPC host the policy runs in (policy-server, kwctl).
pub struct Wapc;

impl Host for Wapc {
    #[cfg(target_arch = "wasm32")]
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        wapc_guest::host_call("kubewarden", "kubernetes", operation, payload).map_err(|err| {
            let text = err.to_string();
            text.strip_prefix("Host error: ")
                .map_or_else(|| text.clone(), str::to_string)
        })
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn call(&self, operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!(
            "kubernetes/{operation}: host calls are only answered inside a waPC host"
        ))
    }
}

/// A read that failed: `cannot <what>: <why>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unread {
    /// The read, e.g. `list v1/Pod in namespace default`.
    pub what: String,
    /// The host's error, or why its answer could not be read.
    pub why: String,
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {}: {}", self.what, self.why)
    }
}

/// The kinds this policy reads, each declared in `policy-metadata.yml`'s
/// `contextAwareResources` (the host refuses any other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    Pod,
    Service,
    DaemonSet,
    Deployment,
    ReplicaSet,
    StatefulSet,
    ReplicationController,
    Job,
}

impl Resource {
    /// Every kind this policy reads: `policy-metadata.yml` grants exactly
    /// these (a test checks).
    pub const ALL: [Resource; 8] = [
        Resource::Pod,
        Resource::Service,
        Resource::DaemonSet,
        Resource::Deployment,
        Resource::ReplicaSet,
        Resource::StatefulSet,
        Resource::ReplicationController,
        Resource::Job,
    ];

    /// The kinds that own pods through a selector, listed by `controllerOverlap`.
    pub const CONTROLLERS: [Resource; 5] = [
        Resource::DaemonSet,
        Resource::Deployment,
        Resource::ReplicaSet,
        Resource::StatefulSet,
        Resource::ReplicationController,
    ];

    pub fn api_version(self) -> &'static str {
        match self {
            Resource::Pod | Resource::Service | Resource::ReplicationController => "v1",
            Resource::Job => "batch/v1",
            _ => "apps/v1",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Resource::Pod => "Pod",
            Resource::Service => "Service",
            Resource::DaemonSet => "DaemonSet",
            Resource::Deployment => "Deployment",
            Resource::ReplicaSet => "ReplicaSet",
            Resource::StatefulSet => "StatefulSet",
            Resource::ReplicationController => "ReplicationController",
            Resource::Job => "Job",
        }
    }

    /// The pod owner an owner reference names, when this policy reads that
    /// kind; `None` for custom resources, Nodes (static pods) and the rest.
    pub fn pod_owner(api_version: &str, kind: &str) -> Option<Resource> {
        [
            Resource::ReplicaSet,
            Resource::DaemonSet,
            Resource::StatefulSet,
            Resource::ReplicationController,
            Resource::Job,
        ]
        .into_iter()
        .find(|r| r.api_version() == api_version && r.kind() == kind)
    }

    /// What the rules read of this kind; `metadata` is always sent whole.
    pub fn field_masks(self) -> &'static [&'static str] {
        match self {
            Resource::Pod => &[
                "metadata.deletionTimestamp",
                "metadata.labels",
                "metadata.name",
                "metadata.uid",
                "status.phase",
            ],
            Resource::Service => &[
                "metadata.name",
                "metadata.uid",
                "spec.selector",
                "spec.type",
            ],
            _ => &[
                "metadata.name",
                "metadata.ownerReferences",
                "metadata.uid",
                "spec.selector",
                "spec.template.metadata.labels",
            ],
        }
    }

    fn masks(self) -> Option<BTreeSet<String>> {
        Some(self.field_masks().iter().map(|m| m.to_string()).collect())
    }
}

/// Reads `null` as the default, as the API server does for omitted fields.
fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `metadata.ownerReferences[*]`, as far as the rules read it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerReference {
    #[serde(deserialize_with = "null_as_default")]
    pub api_version: String,
    #[serde(deserialize_with = "null_as_default")]
    pub kind: String,
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub uid: String,
    #[serde(deserialize_with = "null_as_default")]
    pub controller: bool,
}

/// The part of `metadata` the rules read.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Metadata {
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub uid: String,
    /// A map of label keys to values (`null` when there are none).
    pub labels: Value,
    pub deletion_timestamp: Value,
    #[serde(deserialize_with = "null_as_default")]
    pub owner_references: Vec<OwnerReference>,
}

impl Metadata {
    /// The owner reference with `controller: true`, if any.
    pub fn controller(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|o| o.controller)
    }
}

/// A Pod of a `list v1/Pod` answer.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Pod {
    #[serde(deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    #[serde(deserialize_with = "null_as_default")]
    pub status: PodStatus,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PodStatus {
    #[serde(deserialize_with = "null_as_default")]
    pub phase: String,
}

impl Pod {
    /// Not `Succeeded` or `Failed`, and not being deleted: a pod a Service
    /// sends traffic to once it is ready.
    pub fn is_live(&self) -> bool {
        !matches!(self.status.phase.as_str(), "Succeeded" | "Failed")
            && self.metadata.deletion_timestamp.is_null()
    }
}

/// A Service of a `list v1/Service` answer.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Service {
    #[serde(deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    #[serde(deserialize_with = "null_as_default")]
    pub spec: ServiceSpec,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServiceSpec {
    /// A plain map of label keys to values, or `null`.
    pub selector: Value,
    #[serde(rename = "type", deserialize_with = "null_as_default")]
    pub service_type: String,
}

/// A DaemonSet, Deployment, ReplicaSet, StatefulSet, ReplicationController
/// or Job, as far as its selector and pod template labels go.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Controller {
    #[serde(deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    #[serde(deserialize_with = "null_as_default")]
    pub spec: ControllerSpec,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ControllerSpec {
    /// A `LabelSelector`, or a plain map for a ReplicationController.
    pub selector: Value,
    #[serde(deserialize_with = "null_as_default")]
    pub template: Template,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Template {
    #[serde(deserialize_with = "null_as_default")]
    pub metadata: TemplateMetadata,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TemplateMetadata {
    pub labels: Value,
}

/// A Kubernetes List answer; only `items` is read, whatever the list's `kind`.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de> + Default"))]
struct List<T> {
    #[serde(default = "Vec::new", deserialize_with = "null_as_default")]
    items: Vec<T>,
}

/// Lists every `resource` in `namespace` with one constant query.
pub fn list<T: DeserializeOwned + Default>(
    host: &dyn Host,
    resource: Resource,
    namespace: &str,
) -> Result<Vec<T>, Unread> {
    let what = || {
        format!(
            "list {}/{} in namespace {namespace}",
            resource.api_version(),
            resource.kind()
        )
    };
    let request = ListResourcesByNamespaceRequest {
        api_version: resource.api_version().to_string(),
        kind: resource.kind().to_string(),
        namespace: namespace.to_string(),
        label_selector: None,
        field_selector: None,
        field_masks: resource.masks(),
    };
    let answer = call(host, "list_resources_by_namespace", &request)
        .map_err(|why| Unread { what: what(), why })?;
    serde_json::from_slice::<List<T>>(&answer)
        .map(|list| list.items)
        .map_err(|err| Unread {
            what: what(),
            why: format!("the answer is not a list of {}: {err}", resource.kind()),
        })
}

/// Gets the `resource` named `name` in `namespace`.
pub fn get<T: DeserializeOwned>(
    host: &dyn Host,
    resource: Resource,
    name: &str,
    namespace: &str,
) -> Result<T, Unread> {
    let what = || {
        format!(
            "get {}/{} {namespace}/{name}",
            resource.api_version(),
            resource.kind()
        )
    };
    let request = GetResourceRequest {
        api_version: resource.api_version().to_string(),
        kind: resource.kind().to_string(),
        name: name.to_string(),
        namespace: Some(namespace.to_string()),
        disable_cache: false,
        field_masks: resource.masks(),
    };
    let answer =
        call(host, "get_resource", &request).map_err(|why| Unread { what: what(), why })?;
    serde_json::from_slice(&answer).map_err(|err| Unread {
        what: what(),
        why: format!("the answer is not a {}: {err}", resource.kind()),
    })
}

fn call(
    host: &dyn Host,
    operation: &str,
    request: &impl serde::Serialize,
) -> Result<Vec<u8>, String> {
    let payload = serde_json::to_vec(request).map_err(|err| err.to_string())?;
    host.call(operation, &payload).map_err(|why| one_line(&why))
}

/// Host errors as one line: messages end up in one warning.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Records every call and answers with a fixed text.
    struct Recorder {
        calls: RefCell<Vec<(String, Value)>>,
        answer: Result<&'static str, &'static str>,
    }

    impl Host for Recorder {
        fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
            let payload = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
            self.calls
                .borrow_mut()
                .push((operation.to_string(), payload));
            self.answer
                .map(|a| a.as_bytes().to_vec())
                .map_err(str::to_string)
        }
    }

    fn recorder(answer: Result<&'static str, &'static str>) -> Recorder {
        Recorder {
            calls: RefCell::new(Vec::new()),
            answer,
        }
    }

    #[test]
    fn a_list_is_one_constant_query_with_field_masks() {
        let host = recorder(Ok(
            r#"{"kind":"List","items":[{"metadata":{"name":"a","labels":{"app":"x"}},"status":{"phase":"Running"}},
                {"metadata":{"name":"b","deletionTimestamp":"2026-01-01T00:00:00Z"}},
                {"metadata":{"name":"c"},"status":{"phase":"Succeeded"}}, {}]}"#,
        ));
        let pods: Vec<Pod> = list(&host, Resource::Pod, "default").expect("read");
        let live: Vec<&str> = pods
            .iter()
            .filter(|p| p.is_live())
            .map(|p| p.metadata.name.as_str())
            .collect();
        assert_eq!(live, ["a", ""]);
        let calls = host.calls.borrow();
        assert_eq!(
            *calls,
            [(
                "list_resources_by_namespace".to_string(),
                serde_json::json!({"api_version": "v1", "kind": "Pod", "namespace": "default",
                    "label_selector": null, "field_selector": null,
                    "field_masks": ["metadata.deletionTimestamp", "metadata.labels",
                                    "metadata.name", "metadata.uid", "status.phase"]})
            )]
        );
    }

    #[test]
    fn failures_and_bad_answers_are_unread_not_errors() {
        let refused = recorder(Err(
            "Policy has not been granted access to Kubernetes v1/Pod resources.\n more",
        ));
        let err = list::<Pod>(&refused, Resource::Pod, "ns").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "cannot list v1/Pod in namespace ns: Policy has not been granted access to Kubernetes v1/Pod resources. more"
        );
        let garbage = recorder(Ok(r#"{"items": 3}"#));
        let err = list::<Controller>(&garbage, Resource::Deployment, "ns").expect_err("bad");
        assert!(
            err.to_string()
                .starts_with("cannot list apps/v1/Deployment in namespace ns: the answer is not a list of Deployment"),
            "{err}"
        );
        let not_an_object = recorder(Ok(r#""text""#));
        let err =
            get::<Controller>(&not_an_object, Resource::ReplicaSet, "rs", "ns").expect_err("bad");
        assert!(
            err.to_string()
                .starts_with("cannot get apps/v1/ReplicaSet ns/rs"),
            "{err}"
        );
    }

    #[test]
    fn nulls_read_as_absent() {
        let controller: Controller = serde_json::from_str(
            r#"{"metadata": {"name": null, "ownerReferences": null, "labels": null},
                "spec": {"selector": null, "template": null}}"#,
        )
        .expect("reads");
        assert_eq!(controller, Controller::default());
        let owner: Metadata = serde_json::from_str(
            r#"{"ownerReferences": [{"kind": "ReplicaSet", "name": "a", "controller": false},
                                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "u", "controller": true}]}"#,
        )
        .expect("reads");
        assert_eq!(owner.controller().map(|o| o.name.as_str()), Some("b"));
    }

    #[test]
    fn pod_owners_are_the_kinds_this_policy_reads() {
        assert_eq!(
            Resource::pod_owner("apps/v1", "ReplicaSet"),
            Some(Resource::ReplicaSet)
        );
        assert_eq!(Resource::pod_owner("batch/v1", "Job"), Some(Resource::Job));
        assert_eq!(Resource::pod_owner("v1", "Node"), None);
        assert_eq!(Resource::pod_owner("argoproj.io/v1alpha1", "Rollout"), None);
        assert_eq!(
            Resource::pod_owner("extensions/v1beta1", "ReplicaSet"),
            None
        );
        for resource in Resource::CONTROLLERS {
            let masks = resource.field_masks();
            assert!(masks.windows(2).all(|w| w[0] < w[1]), "{resource:?} sorted");
        }
    }
}
