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

use crate::object::{Object, Shape};
use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    GetResourceRequest, ListResourcesByNamespaceRequest,
};
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
        // Inserted one by one: collecting into a BTreeSet sorts, and each
        // sort is its own copy of the standard library's sort in the module.
        let mut masks = BTreeSet::new();
        for mask in self.field_masks() {
            masks.insert(mask.to_string());
        }
        Some(masks)
    }
}

/// Where a field sits in an answer, for errors: `items[3].metadata.name`.
/// Built on the stack as the reader descends, and formatted only when a
/// field has the wrong type.
#[derive(Clone, Copy)]
pub enum At<'a> {
    /// The answer itself.
    Root,
    Key(&'a At<'a>, &'static str),
    Index(&'a At<'a>, usize),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Root => f.write_str("the answer"),
            At::Key(At::Root, key) => f.write_str(key),
            At::Key(parent, key) => write!(f, "{parent}.{key}"),
            At::Index(At::Root, index) => write!(f, "[{index}]"),
            At::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// An object of a cluster answer, read from its JSON value.
///
/// A missing field and `null` read as the default, as the API server treats
/// omitted fields; unknown fields are ignored; a field of the wrong type is
/// an error that names its path. The answer is decoded by the decoder the
/// request's object goes through ([`Object::decode`]) to [`FromAnswer::SHAPE`],
/// so that only the fields read are built, and those are moved out, not
/// copied: derived decoders for each of these types made up a tenth of
/// `policy.wasm`.
pub trait FromAnswer: Sized {
    /// What of the answer to decode: the fields read, each to its own
    /// shape; every other field is skipped as it is read, not built.
    const SHAPE: Shape;

    /// Reads `value` (found at `at`).
    ///
    /// # Errors
    /// `<path>: expected <type>, found <type>` for the first field of the
    /// wrong type.
    fn from_answer(value: Value, at: &At) -> Result<Self, String>;
}

/// `value` as an object's fields; `null` as none.
fn fields(value: Value, at: &At) -> Result<serde_json::Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(serde_json::Map::new()),
        other => Err(wrong_type(at, "a map", &other)),
    }
}

fn wrong_type(at: &At, expected: &str, found: &Value) -> String {
    format!(
        "{at}: expected {expected}, found {}",
        crate::findings::type_name(found)
    )
}

/// The field `key` (`null` when missing).
fn take(map: &mut serde_json::Map<String, Value>, key: &str) -> Value {
    map.remove(key).unwrap_or(Value::Null)
}

fn string(value: Value, at: &At) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        Value::Null => Ok(String::new()),
        other => Err(wrong_type(at, "a string", &other)),
    }
}

fn boolean(value: Value, at: &At) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(false),
        other => Err(wrong_type(at, "a boolean", &other)),
    }
}

fn items<T: FromAnswer>(value: Value, at: &At) -> Result<Vec<T>, String> {
    match value {
        Value::Array(values) => {
            let mut read = Vec::with_capacity(values.len());
            for (index, value) in values.into_iter().enumerate() {
                read.push(T::from_answer(value, &At::Index(at, index))?);
            }
            Ok(read)
        }
        Value::Null => Ok(Vec::new()),
        other => Err(wrong_type(at, "a list", &other)),
    }
}

/// Implements [`FromAnswer`] for a struct, field by field (its reader, its
/// key, and the shape its value is decoded to), and `Deserialize` through it
/// (native tests build these types from JSON).
macro_rules! from_answer {
    ($type:ident { $($field:ident: $read:expr => $key:literal as $shape:expr),* $(,)? }) => {
        impl FromAnswer for $type {
            const SHAPE: Shape = Shape::Fields(&[$(($key, $shape)),*]);

            fn from_answer(value: Value, at: &At) -> Result<Self, String> {
                let mut map = fields(value, at)?;
                Ok($type {
                    $($field: $read(take(&mut map, $key), &At::Key(at, $key))?,)*
                })
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(deserializer)?;
                $type::from_answer(value, &At::Root).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Any JSON value, kept as it is (`null` when missing).
fn any(value: Value, _: &At) -> Result<Value, String> {
    Ok(value)
}

/// `metadata.ownerReferences[*]`, as far as the rules read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub controller: bool,
}

from_answer!(OwnerReference {
    api_version: string => "apiVersion" as Shape::All,
    kind: string => "kind" as Shape::All,
    name: string => "name" as Shape::All,
    uid: string => "uid" as Shape::All,
    controller: boolean => "controller" as Shape::All,
});

/// The part of `metadata` the rules read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    pub name: String,
    pub uid: String,
    /// A map of label keys to values (`null` when there are none).
    pub labels: Value,
    pub deletion_timestamp: Value,
    pub owner_references: Vec<OwnerReference>,
}

from_answer!(Metadata {
    name: string => "name" as Shape::All,
    uid: string => "uid" as Shape::All,
    labels: any => "labels" as Shape::All,
    deletion_timestamp: any => "deletionTimestamp" as Shape::All,
    owner_references: items => "ownerReferences" as Shape::Items(&OwnerReference::SHAPE),
});

impl Metadata {
    /// The owner reference with `controller: true`, if any.
    pub fn controller(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|o| o.controller)
    }
}

/// A Pod of a `list v1/Pod` answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pod {
    pub metadata: Metadata,
    pub status: PodStatus,
}

from_answer!(Pod {
    metadata: Metadata::from_answer => "metadata" as Metadata::SHAPE,
    status: PodStatus::from_answer => "status" as PodStatus::SHAPE,
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodStatus {
    pub phase: String,
}

from_answer!(PodStatus { phase: string => "phase" as Shape::All });

impl Pod {
    /// Not `Succeeded` or `Failed`, and not being deleted: a pod a Service
    /// sends traffic to once it is ready.
    pub fn is_live(&self) -> bool {
        !matches!(self.status.phase.as_str(), "Succeeded" | "Failed")
            && self.metadata.deletion_timestamp.is_null()
    }
}

/// A Service of a `list v1/Service` answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Service {
    pub metadata: Metadata,
    pub spec: ServiceSpec,
}

from_answer!(Service {
    metadata: Metadata::from_answer => "metadata" as Metadata::SHAPE,
    spec: ServiceSpec::from_answer => "spec" as ServiceSpec::SHAPE,
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceSpec {
    /// A plain map of label keys to values, or `null`.
    pub selector: Value,
    pub service_type: String,
}

from_answer!(ServiceSpec {
    selector: any => "selector" as Shape::All,
    service_type: string => "type" as Shape::All,
});

/// A DaemonSet, Deployment, ReplicaSet, StatefulSet, ReplicationController
/// or Job, as far as its selector and pod template labels go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Controller {
    pub metadata: Metadata,
    pub spec: ControllerSpec,
}

from_answer!(Controller {
    metadata: Metadata::from_answer => "metadata" as Metadata::SHAPE,
    spec: ControllerSpec::from_answer => "spec" as ControllerSpec::SHAPE,
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControllerSpec {
    /// A `LabelSelector`, or a plain map for a ReplicationController.
    pub selector: Value,
    pub template: Template,
}

from_answer!(ControllerSpec {
    selector: any => "selector" as Shape::All,
    template: Template::from_answer => "template" as Template::SHAPE,
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    pub metadata: TemplateMetadata,
}

from_answer!(Template {
    metadata: TemplateMetadata::from_answer => "metadata" as TemplateMetadata::SHAPE,
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TemplateMetadata {
    pub labels: Value,
}

from_answer!(TemplateMetadata { labels: any => "labels" as Shape::All });

/// The answer's text decoded to `shape`. From text, not bytes: the request
/// is decoded from text too, so the module carries one JSON reader.
fn decode(answer: &[u8], shape: Shape) -> Result<Value, String> {
    let text = std::str::from_utf8(answer).map_err(|err| format!("it is not UTF-8 text: {err}"))?;
    Object::decode(text, shape)
        .map(|object| object.value)
        .map_err(|err| err.to_string())
}

/// Lists every `resource` in `namespace` with one constant query.
pub fn list<T: FromAnswer>(
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
    // A Kubernetes List: only `items` is read, whatever the list's `kind`.
    let shape = const { Shape::Fields(&[("items", Shape::Items(&T::SHAPE))]) };
    decode(&answer, shape)
        .and_then(|list| {
            let mut list = fields(list, &At::Root)?;
            items(take(&mut list, "items"), &At::Key(&At::Root, "items"))
        })
        .map_err(|err| Unread {
            what: what(),
            why: format!("the answer is not a list of {}: {err}", resource.kind()),
        })
}

/// Gets the `resource` named `name` in `namespace`.
pub fn get<T: FromAnswer>(
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
    decode(&answer, T::SHAPE)
        .and_then(|object| T::from_answer(object, &At::Root))
        .map_err(|err| Unread {
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
        let wrong_type = recorder(Ok(r#"{"items": [{}, {"metadata": {"name": 5}}]}"#));
        let err = list::<Pod>(&wrong_type, Resource::Pod, "ns").expect_err("bad");
        assert_eq!(
            err.to_string(),
            "cannot list v1/Pod in namespace ns: the answer is not a list of Pod: items[1].metadata.name: expected a string, found a number"
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
