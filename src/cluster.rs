//! The only place that reads other objects of the cluster.
//!
//! Every read is a waPC host call `kubewarden/kubernetes/<operation>` with
//! the SDK's request types (kubewarden-policy-sdk, `host_capabilities::kubernetes`), through the [`Host`] trait so
//! that native tests can answer at this boundary. The queries are constant
//! per (kind, namespace): no `label_selector`, because policy-server keeps
//! one LIST+WATCH cache per distinct query, forever. Matching happens in the
//! policy ([`crate::selector`]). `field_masks` name what the rules read;
//! hosts that prune (policy-server >= 1.33) send less, the others send whole
//! objects, and both read the same.
//!
//! A failed read is never an error of the request: it is an [`Unread`],
//! which the rules turn into a warning that names what could not be checked.

use crate::kinds::Kind;
use crate::object::Key;
use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    GetResourceRequest, ListResourcesByNamespaceRequest,
};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// Answers `kubewarden/kubernetes/<operation>` calls: `Ok` with the JSON
/// answer, `Err` with the host's error text (not granted, no RBAC, not
/// found, API error).
pub trait Host {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;

    /// The whole desired state, when the host holds it (`selector-guard
    /// check` over a folder): the relation rules then read it, indexed,
    /// instead of listing a namespace. `None` under policy-server and kwctl.
    fn desired(&self) -> Option<&crate::relations::State<'_>> {
        None
    }
}

/// The waPC host the policy runs in (policy-server, kwctl).
pub struct Wapc;

impl Host for Wapc {
    #[cfg(target_arch = "wasm32")]
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        wapc_guest::host_call("kubewarden", "kubernetes", operation, payload)
            .map_err(|err| err.to_string())
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

/// What the rules read of a kind of the cluster; `metadata` is always sent
/// whole.
pub fn field_masks(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Pod => &[
            "metadata.deletionTimestamp",
            "metadata.labels",
            "metadata.name",
            "metadata.uid",
            "status.phase",
        ],
        Kind::PodDisruptionBudget => &["metadata.name", "metadata.uid", "spec.selector"],
        Kind::Service => &[
            "metadata.name",
            "metadata.uid",
            "spec.clusterIP",
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

fn masks(kind: Kind) -> Option<BTreeSet<String>> {
    // Inserted one by one: collecting into a BTreeSet sorts, and each
    // sort is its own copy of the standard library's sort in the module.
    let mut masks = BTreeSet::new();
    for mask in field_masks(kind) {
        masks.insert(mask.to_string());
    }
    Some(masks)
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

/// How a field of an answer is read: the table a [`FromAnswer`] type
/// declares, which one decoder ([`FieldSeed`]) follows for every type.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    /// A string; `null` reads as "".
    Str,
    /// A boolean; `null` reads as false.
    Bool,
    /// Any JSON value, built whole (a labels map, a selector).
    Any,
    /// An object, by its fields; every other key is skipped unbuilt.
    Record(&'static [(&'static str, Field)]),
    /// A list of such objects.
    Records(&'static [(&'static str, Field)]),
}

/// What was read of a [`Field`], before it is moved into its struct.
#[derive(Debug)]
pub enum Slot {
    /// Missing, or `null`.
    Absent,
    Str(String),
    Bool(bool),
    Any(Value),
    /// A [`Field::Record`]'s fields, in the table's order.
    Record(Vec<Slot>),
    /// A [`Field::Records`]' items, each a [`Slot::Record`] (or not, when
    /// the item has another type).
    Records(Vec<Slot>),
    /// Another JSON type than the field's, by its name in messages.
    Wrong(&'static str),
}

/// An object of a cluster answer.
///
/// A missing field and `null` read as the default, as the API server treats
/// omitted fields; unknown fields are skipped without being built; a field
/// of the wrong type is an error that names its path. The answer is decoded
/// in one pass by one table-driven decoder into [`Slot`]s, which are moved
/// into the structs: serde's derived decoders, one per type and field, were
/// a tenth of `policy.wasm`, and building `serde_json` maps first doubled
/// the time and memory of a 10,000-pod list.
pub trait FromAnswer: Sized {
    /// The fields read, by key, in the order [`FromAnswer::from_slots`]
    /// takes them.
    const FIELDS: &'static [(&'static str, Field)];

    /// Builds the struct from its fields' slots, taking them (fewer slots:
    /// the rest are absent), found at `at`.
    ///
    /// # Errors
    /// `<path>: expected <type>, found <type>` for the first field of the
    /// wrong type.
    fn from_slots(slots: &mut [Slot], at: &At) -> Result<Self, String>;
}

fn wrong_type(at: &At, expected: &str, found: &str) -> String {
    format!("{at}: expected {expected}, found {found}")
}

/// The slot's type, for a field that expected another.
fn found(slot: &Slot) -> &'static str {
    match slot {
        Slot::Absent => "null",
        Slot::Str(_) => "a string",
        Slot::Bool(_) => "a boolean",
        Slot::Any(value) => crate::findings::type_name(value),
        Slot::Record(_) => "a map",
        Slot::Records(_) => "a list",
        Slot::Wrong(name) => name,
    }
}

fn string(slot: Slot, at: &At) -> Result<String, String> {
    match slot {
        Slot::Str(s) => Ok(s),
        Slot::Absent => Ok(String::new()),
        other => Err(wrong_type(at, "a string", found(&other))),
    }
}

fn boolean(slot: Slot, at: &At) -> Result<bool, String> {
    match slot {
        Slot::Bool(b) => Ok(b),
        Slot::Absent => Ok(false),
        other => Err(wrong_type(at, "a boolean", found(&other))),
    }
}

/// Any JSON value, kept as it is (`null` when missing).
fn any(slot: Slot, at: &At) -> Result<Value, String> {
    match slot {
        Slot::Any(value) => Ok(value),
        Slot::Absent => Ok(Value::Null),
        other => Err(wrong_type(at, "any JSON value", found(&other))),
    }
}

/// Takes the slot at `*next` (absent past the end) and moves `next` on: one
/// function for every field of every type, so that each `from_slots` is a
/// row of calls.
#[inline(never)]
fn next_slot(slots: &mut [Slot], next: &mut usize) -> Slot {
    let slot = slots
        .get_mut(*next)
        .map_or(Slot::Absent, |slot| std::mem::replace(slot, Slot::Absent));
    *next += 1;
    slot
}

fn record<T: FromAnswer>(slot: Slot, at: &At) -> Result<T, String> {
    match slot {
        Slot::Record(mut slots) => T::from_slots(&mut slots, at),
        Slot::Absent => T::from_slots(&mut [], at),
        other => Err(wrong_type(at, "a map", found(&other))),
    }
}

fn items<T: FromAnswer>(slot: Slot, at: &At) -> Result<Vec<T>, String> {
    match slot {
        Slot::Records(slots) => {
            let mut read = Vec::with_capacity(slots.len());
            for (index, slot) in slots.into_iter().enumerate() {
                read.push(record(slot, &At::Index(at, index))?);
            }
            Ok(read)
        }
        Slot::Absent => Ok(Vec::new()),
        other => Err(wrong_type(at, "a list", found(&other))),
    }
}

/// Reads `T` from a JSON value the request already holds (a pod's own
/// `metadata`), with the same tables and errors as an answer.
///
/// # Errors
/// As [`FromAnswer::from_slots`].
pub fn from_value<T: FromAnswer>(value: &Value) -> Result<T, String> {
    record(slot_of(value, Field::Record(T::FIELDS)), &At::Root)
}

/// What [`FieldSeed`] would read of `value`'s text.
fn slot_of(value: &Value, field: Field) -> Slot {
    match (field, value) {
        (_, Value::Null) => Slot::Absent,
        (Field::Any, value) => Slot::Any(value.clone()),
        (Field::Str, Value::String(s)) => Slot::Str(s.clone()),
        (Field::Bool, Value::Bool(b)) => Slot::Bool(*b),
        (Field::Record(fields), Value::Object(map)) => Slot::Record(
            fields
                .iter()
                .map(|(key, field)| map.get(*key).map_or(Slot::Absent, |v| slot_of(v, *field)))
                .collect(),
        ),
        (Field::Records(fields), Value::Array(items)) => Slot::Records(
            items
                .iter()
                .map(|item| slot_of(item, Field::Record(fields)))
                .collect(),
        ),
        (_, other) => Slot::Wrong(crate::findings::type_name(other)),
    }
}

/// Decodes one [`Field`] into a [`Slot`].
struct FieldSeed(Field);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Slot;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Slot, D::Error> {
        match self.0 {
            Field::Any => Value::deserialize(deserializer).map(|value| match value {
                Value::Null => Slot::Absent,
                value => Slot::Any(value),
            }),
            field => deserializer.deserialize_any(FieldVisitor(field)),
        }
    }
}

struct FieldVisitor(Field);

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Slot;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Slot, A::Error> {
        let Field::Record(fields) = self.0 else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Slot::Wrong("a map"));
        };
        let mut slots: Vec<Slot> = fields.iter().map(|_| Slot::Absent).collect();
        while let Some(Key(key)) = map.next_key()? {
            let found = fields.iter().position(|(name, _)| *name == key);
            match (
                found.and_then(|i| slots.get_mut(i)),
                found.and_then(|i| fields.get(i)),
            ) {
                // A repeated key keeps its last value, as in a JSON map.
                (Some(slot), Some(&(_, field))) => *slot = map.next_value_seed(FieldSeed(field))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Slot::Record(slots))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Slot, A::Error> {
        let Field::Records(fields) = self.0 else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Slot::Wrong("a list"));
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(FieldSeed(Field::Record(fields)))? {
            items.push(item);
        }
        Ok(Slot::Records(items))
    }

    fn visit_str<E>(self, v: &str) -> Result<Slot, E> {
        Ok(match self.0 {
            Field::Str => Slot::Str(v.to_owned()),
            _ => Slot::Wrong("a string"),
        })
    }

    fn visit_string<E>(self, v: String) -> Result<Slot, E> {
        Ok(match self.0 {
            Field::Str => Slot::Str(v),
            _ => Slot::Wrong("a string"),
        })
    }

    fn visit_bool<E>(self, v: bool) -> Result<Slot, E> {
        Ok(match self.0 {
            Field::Bool => Slot::Bool(v),
            _ => Slot::Wrong("a boolean"),
        })
    }

    fn visit_i64<E>(self, _: i64) -> Result<Slot, E> {
        Ok(Slot::Wrong("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Slot, E> {
        Ok(Slot::Wrong("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Slot, E> {
        Ok(Slot::Wrong("a number"))
    }

    fn visit_unit<E>(self) -> Result<Slot, E> {
        Ok(Slot::Absent)
    }
}

/// Implements [`FromAnswer`] for a struct, field by field (its reader, its
/// key, and how its value is decoded), and `Deserialize` through it (native
/// tests build these types from JSON).
macro_rules! from_answer {
    ($type:ident { $($field:ident: $read:ident => $key:literal as $shape:expr),* $(,)? }) => {
        impl FromAnswer for $type {
            const FIELDS: &'static [(&'static str, Field)] = &[$(($key, $shape)),*];

            fn from_slots(slots: &mut [Slot], at: &At) -> Result<Self, String> {
                let mut next = 0;
                Ok($type {
                    $($field: $read(next_slot(slots, &mut next), &At::Key(at, $key))?,)*
                })
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let slot = FieldSeed(Field::Record(Self::FIELDS)).deserialize(deserializer)?;
                record(slot, &At::Root).map_err(serde::de::Error::custom)
            }
        }
    };
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
    api_version: string => "apiVersion" as Field::Str,
    kind: string => "kind" as Field::Str,
    name: string => "name" as Field::Str,
    uid: string => "uid" as Field::Str,
    controller: boolean => "controller" as Field::Bool,
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
    name: string => "name" as Field::Str,
    uid: string => "uid" as Field::Str,
    labels: any => "labels" as Field::Any,
    deletion_timestamp: any => "deletionTimestamp" as Field::Any,
    owner_references: items => "ownerReferences" as Field::Records(OwnerReference::FIELDS),
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
    metadata: record => "metadata" as Field::Record(Metadata::FIELDS),
    status: record => "status" as Field::Record(PodStatus::FIELDS),
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodStatus {
    pub phase: String,
}

from_answer!(PodStatus { phase: string => "phase" as Field::Str});

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
    metadata: record => "metadata" as Field::Record(Metadata::FIELDS),
    spec: record => "spec" as Field::Record(ServiceSpec::FIELDS),
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceSpec {
    /// A plain map of label keys to values, or `null`.
    pub selector: Value,
    pub service_type: String,
    /// `None` for a headless Service.
    pub cluster_ip: String,
}

from_answer!(ServiceSpec {
    selector: any => "selector" as Field::Any,
    service_type: string => "type" as Field::Str,
    cluster_ip: string => "clusterIP" as Field::Str,
});

/// A PodDisruptionBudget of a `list policy/v1/PodDisruptionBudget` answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Budget {
    pub metadata: Metadata,
    pub spec: BudgetSpec,
}

from_answer!(Budget {
    metadata: record => "metadata" as Field::Record(Metadata::FIELDS),
    spec: record => "spec" as Field::Record(BudgetSpec::FIELDS),
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct BudgetSpec {
    /// A `LabelSelector`.
    pub selector: Value,
}

from_answer!(BudgetSpec { selector: any => "selector" as Field::Any});

/// A DaemonSet, Deployment, ReplicaSet, StatefulSet, ReplicationController
/// or Job, as far as its selector and pod template labels go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Controller {
    pub metadata: Metadata,
    pub spec: ControllerSpec,
}

from_answer!(Controller {
    metadata: record => "metadata" as Field::Record(Metadata::FIELDS),
    spec: record => "spec" as Field::Record(ControllerSpec::FIELDS),
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControllerSpec {
    /// A `LabelSelector`, or a plain map for a ReplicationController.
    pub selector: Value,
    pub template: Template,
}

from_answer!(ControllerSpec {
    selector: any => "selector" as Field::Any,
    template: record => "template" as Field::Record(Template::FIELDS),
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    pub metadata: TemplateMetadata,
}

from_answer!(Template {
    metadata: record => "metadata" as Field::Record(TemplateMetadata::FIELDS),
});

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TemplateMetadata {
    pub labels: Value,
}

from_answer!(TemplateMetadata { labels: any => "labels" as Field::Any});

/// The answer's text decoded to `field`. From text, not bytes: the request
/// is decoded from text too, so the module carries one JSON reader. Not
/// generic, and not inlined: every list and get shares it.
#[inline(never)]
fn decode(answer: &[u8], field: Field) -> Result<Slot, String> {
    let text = std::str::from_utf8(answer).map_err(|err| format!("it is not UTF-8 text: {err}"))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    FieldSeed(field)
        .deserialize(&mut deserializer)
        .and_then(|slot| deserializer.end().map(|()| slot))
        .map_err(|err| err.to_string())
}

/// The `items` of a Kubernetes List, whatever the list's `kind`.
#[inline(never)]
fn list_items(slot: Slot) -> Result<(Slot, At<'static>), String> {
    match slot {
        Slot::Record(slots) => Ok((
            slots.into_iter().next().unwrap_or(Slot::Absent),
            At::Key(&At::Root, "items"),
        )),
        Slot::Absent => Ok((Slot::Absent, At::Root)),
        other => Err(wrong_type(&At::Root, "a map", found(&other))),
    }
}

/// Lists every `resource` in `namespace` with one constant query.
pub fn list<T: FromAnswer>(
    host: &dyn Host,
    resource: Kind,
    namespace: &str,
) -> Result<Vec<T>, Unread> {
    let what = || {
        format!(
            "list {}/{} in namespace {namespace}",
            resource.api_version(),
            resource.name()
        )
    };
    let request = ListResourcesByNamespaceRequest {
        api_version: resource.api_version().to_string(),
        kind: resource.name().to_string(),
        namespace: namespace.to_string(),
        label_selector: None,
        field_selector: None,
        field_masks: masks(resource),
    };
    let answer = call(host, "list_resources_by_namespace", &request)
        .map_err(|why| Unread { what: what(), why })?;
    let list = const { Field::Record(&[("items", Field::Records(T::FIELDS))]) };
    decode(&answer, list)
        .and_then(list_items)
        .and_then(|(slot, at)| items(slot, &at))
        .map_err(|err| Unread {
            what: what(),
            why: format!("the answer is not a list of {}: {err}", resource.name()),
        })
}

/// Gets the `resource` named `name` in `namespace`.
pub fn get<T: FromAnswer>(
    host: &dyn Host,
    resource: Kind,
    name: &str,
    namespace: &str,
) -> Result<T, Unread> {
    let what = || {
        format!(
            "get {}/{} {namespace}/{name}",
            resource.api_version(),
            resource.name()
        )
    };
    let request = GetResourceRequest {
        api_version: resource.api_version().to_string(),
        kind: resource.name().to_string(),
        name: name.to_string(),
        namespace: Some(namespace.to_string()),
        disable_cache: false,
        field_masks: masks(resource),
    };
    let answer =
        call(host, "get_resource", &request).map_err(|why| Unread { what: what(), why })?;
    decode(&answer, Field::Record(T::FIELDS))
        .and_then(|slot| record(slot, &At::Root))
        .map_err(|err| Unread {
            what: what(),
            why: format!("the answer is not a {}: {err}", resource.name()),
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

/// A host's error without what the hosts put before the API server's
/// words: the waPC guest's `Host error: `, kwctl's and policy-server's
/// `Callback evaluation failure: ` (policy-evaluator's callback channel),
/// and kube-rs's `ApiError: ` (its `Error::Api`, on a live API error).
fn host_words(text: &str) -> &str {
    // One string split at `|`: a loop over an array of prefixes is
    // unrolled, a few hundred bytes more in the module.
    let mut text = text;
    for prefix in "Host error: |Callback evaluation failure: |ApiError: ".split('|') {
        text = text.strip_prefix(prefix).unwrap_or(text);
    }
    text
}

/// Host errors as one line, in the API server's words: messages end up in
/// one warning.
fn one_line(text: &str) -> String {
    host_words(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
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
        let pods: Vec<Pod> = list(&host, Kind::Pod, "default").expect("read");
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
        let err = list::<Pod>(&refused, Kind::Pod, "ns").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "cannot list v1/Pod in namespace ns: Policy has not been granted access to Kubernetes v1/Pod resources. more"
        );
        let garbage = recorder(Ok(r#"{"items": 3}"#));
        let err = list::<Controller>(&garbage, Kind::Deployment, "ns").expect_err("bad");
        assert!(
            err.to_string()
                .starts_with("cannot list apps/v1/Deployment in namespace ns: the answer is not a list of Deployment"),
            "{err}"
        );
        let wrong_type = recorder(Ok(r#"{"items": [{}, {"metadata": {"name": 5}}]}"#));
        let err = list::<Pod>(&wrong_type, Kind::Pod, "ns").expect_err("bad");
        assert_eq!(
            err.to_string(),
            "cannot list v1/Pod in namespace ns: the answer is not a list of Pod: items[1].metadata.name: expected a string, found a number"
        );
        let not_an_object = recorder(Ok(r#""text""#));
        let err = get::<Controller>(&not_an_object, Kind::ReplicaSet, "rs", "ns").expect_err("bad");
        assert!(
            err.to_string()
                .starts_with("cannot get apps/v1/ReplicaSet ns/rs"),
            "{err}"
        );
    }

    #[test]
    fn host_errors_show_the_api_servers_words_without_host_prefixes() {
        let forbidden = r#"pods is forbidden: User "system:serviceaccount:kubewarden:policy-server-default" cannot list resource "pods" in API group "" in the namespace "default""#;
        let expected = format!("cannot list v1/Pod in namespace default: {forbidden}");
        for answer in [
            // This project's runner and kwctl, natively and in wasm.
            format!("Callback evaluation failure: {forbidden}"),
            format!("Host error: Callback evaluation failure: {forbidden}"),
            // policy-server, on an API error from kube-rs.
            format!("Host error: Callback evaluation failure: ApiError: {forbidden}"),
            forbidden.to_string(),
        ] {
            let host = recorder(Err(answer.leak()));
            let err = list::<Pod>(&host, Kind::Pod, "default").expect_err("refused");
            assert_eq!(err.to_string(), expected);
        }
        // Only a leading prefix goes: the same words later are the server's.
        assert_eq!(
            host_words("Host error: ApiError: x: Callback evaluation failure: y"),
            "x: Callback evaluation failure: y"
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
    fn a_value_reads_as_its_text_does() {
        let text = r#"{"name": "p", "uid": null, "labels": {"app": "x"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "controller": true}, null],
            "deletionTimestamp": null, "unknown": [1, 2]}"#;
        let value: Value = serde_json::from_str(text).expect("JSON");
        let from_text: Metadata = serde_json::from_str(text).expect("reads");
        assert_eq!(from_value::<Metadata>(&value), Ok(from_text));
        let wrong: Value = serde_json::json!({"ownerReferences": [{"controller": "yes"}]});
        assert_eq!(
            from_value::<Metadata>(&wrong),
            Err("ownerReferences[0].controller: expected a boolean, found a string".to_string())
        );
    }

    #[test]
    fn field_masks_are_sorted() {
        for resource in Kind::with(|r| r.read) {
            let masks = field_masks(resource);
            assert!(masks.windows(2).all(|w| w[0] < w[1]), "{resource:?} sorted");
        }
    }
}
