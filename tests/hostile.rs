//! Hostile input (issue 7): structured fuzzing of `validate` and
//! `validate_settings`, natively and through `policy.wasm`.
//!
//! Generated AdmissionRequests start from a plausible object of a random kind
//! (the seven handled ones and some that are not) and are then damaged at
//! random: wrong types at every level (a string `spec`, a list selector,
//! numbers, null anywhere), removed and extra fields (numeric and unicode
//! keys), deep nesting, very long strings, and last-applied annotations that
//! are invalid, truncated, nested (JSON in a JSON string) or huge. Natively
//! the payload bytes may also be cut or corrupted.
//!
//! For every case: `validate` answers `Ok`, the answer parses as a
//! ValidationResponse, the same bytes come back for the same input, a
//! rejection has a message and code 400, a mutation only replaces
//! `/spec/selector/<key>` values of a Service or ReplicationController, and a
//! well-formed request for an unhandled kind, a DELETE, or with invalid
//! settings gets the documented answer. Through wasm (a fresh instance per
//! call, as policy-server evaluates), no call traps and the answer equals the
//! native one. Each run prints a tally of the outcomes and fails when one of
//! them falls under 1% of the cases, so the generator keeps reaching every
//! path (quiet accept, warnings, mutation, rule rejection, undecodable
//! envelope, invalid settings).
//!
//! Settings: random JSON and random bytes always get an answer from
//! `validate_settings`; settings made of valid entries and one invalid entry
//! (unknown key, bad mode, bad kind, wrong type) are refused with the key,
//! and a string value, named; `{}`, `null` and nothing are valid and mean the
//! documented defaults.
//!
//! `tests/limits.rs` covers the size and depth limits, `tests/properties.rs`
//! the mutation's exactness.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

mod wasm;

use kubewarden_policy_sdk::response::ValidationResponse;
use proptest::prelude::*;
use proptest::sample::Index;
use selector_guard::kinds::{APPS_KINDS, WORKLOAD_KINDS};
use selector_guard::settings::{Mode, MutateMode, Settings, WarnMode};
use serde_json::{Map, Value, json};

/// At least 10,000 native cases per run (issue 7).
const NATIVE_CASES: u32 = 10_000;
/// At least 1,000 cases through `policy.wasm` (issue 7).
const WASM_CASES: u32 = 1_000;
/// Random settings documents.
const SETTINGS_CASES: u32 = 5_000;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        // Failures print the minimal input; no regression files are written.
        failure_persistence: None,
        // A failing 10,000-case run should not spend minutes shrinking.
        max_shrink_iters: 2_000,
        ..ProptestConfig::with_cases(cases)
    }
}

// ---------------------------------------------------------------------------
// Kinds and base objects

struct KindInfo {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    resource: &'static str,
    handled: bool,
}

const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    resource: &'static str,
    handled: bool,
) -> KindInfo {
    KindInfo {
        group,
        version,
        kind,
        resource,
        handled,
    }
}

/// The handled kinds come first in [`KINDS`].
const HANDLED: usize = 9;

const KINDS: [KindInfo; 12] = [
    kind("apps", "v1", "DaemonSet", "daemonsets", true),
    kind("apps", "v1", "Deployment", "deployments", true),
    kind("apps", "v1", "ReplicaSet", "replicasets", true),
    kind("apps", "v1", "StatefulSet", "statefulsets", true),
    kind(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        true,
    ),
    kind("", "v1", "Service", "services", true),
    kind("batch", "v1", "Job", "jobs", true),
    kind("batch", "v1", "CronJob", "cronjobs", true),
    kind("", "v1", "Pod", "pods", true),
    kind("extensions", "v1beta1", "DaemonSet", "daemonsets", false),
    kind("apps", "v1beta2", "Deployment", "deployments", false),
    kind("", "v1", "ConfigMap", "configmaps", false),
];

/// The JSON Pointers of the maps whose values the policy may convert.
const LABEL_MAPS: [&str; 13] = [
    "/metadata/labels",
    "/metadata/annotations",
    "/spec/selector/matchLabels",
    "/spec/selector",
    "/spec/nodeSelector",
    "/spec/template/metadata/labels",
    "/spec/template/metadata/annotations",
    "/spec/template/spec/nodeSelector",
    "/spec/jobTemplate/metadata/labels",
    "/spec/jobTemplate/metadata/annotations",
    "/spec/jobTemplate/spec/template/metadata/labels",
    "/spec/jobTemplate/spec/template/metadata/annotations",
    "/spec/jobTemplate/spec/template/spec/nodeSelector",
];

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A plausible object of `info`'s kind; its selector holds mixed scalars.
fn base_object(info: &KindInfo, selector_value: &Value) -> Value {
    let labels = json!({"app": "web", "tier": "front"});
    let template = json!({
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
    });
    let spec = match info.kind {
        "Service" => json!({
            "selector": {"app": "web", "active": selector_value, "tier": 42},
            "ports": [{"port": 80, "targetPort": 8080}],
            "type": "ClusterIP",
        }),
        "ReplicationController" => json!({
            "replicas": 2,
            "selector": {"app": "web", "tier": selector_value},
            "template": template,
        }),
        "Job" => json!({
            "manualSelector": true,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template,
        }),
        "CronJob" => json!({
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"manualSelector": false, "template": template}},
        }),
        "Pod" | "ConfigMap" => json!({"containers": [{"name": "x"}]}),
        _ => json!({
            "replicas": 3,
            "strategy": {},
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["front", selector_value]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            "template": template,
        }),
    };
    let api_version = if info.group.is_empty() {
        info.version.to_string()
    } else {
        format!("{}/{}", info.group, info.version)
    };
    json!({
        "apiVersion": api_version,
        "kind": info.kind,
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": labels,
            "annotations": {"team": "a"},
        },
        "spec": spec,
        "status": {"observedGeneration": 1},
    })
}

// ---------------------------------------------------------------------------
// Values that do not belong

/// Any JSON, with dyadic floats so that a JSON round trip is exact.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1_000_000i32..1_000_000).prop_map(|k| Value::from(f64::from(k) / 64.0)),
        "\\PC{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Map keys: names, numbers, unicode, label-like, empty.
fn key() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9]{0,10}",
        any::<i32>().prop_map(|n| n.to_string()),
        "\\PC{0,12}",
        "([a-z0-9.-]{1,20}/)?[A-Za-z0-9._-]{1,20}",
        Just(String::new()),
    ]
    .boxed()
}

/// A string nobody expects: unicode, YAML 1.1 words, very long, JSON text.
fn odd_string() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "\\PC{0,40}",
        2 => prop_oneof![
            Just("yes"), Just("on"), Just("y"), Just("true"), Just("null"), Just("~"),
            Just(""), Just("In"), Just("Exists"), Just("DoesNotExist"), Just("in"),
            Just("0x2A"), Just("1e+21"), Just("app.kubernetes.io/name"), Just("-a-"),
        ].prop_map(str::to_string),
        1 => (any::<char>(), 0usize..20_000).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => ("[a-z]", 64usize..300).prop_map(|(c, n)| c.repeat(n)),
        1 => any_json().prop_map(|v| v.to_string()),
    ]
    .boxed()
}

/// A replacement value of any type. Floats are ones serde_json parses back
/// exactly (its default float parsing is best-effort), so that comparing a
/// mutated object with the original shows only real changes.
fn hostile_value() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => Just(Value::Null),
        2 => any::<bool>().prop_map(Value::Bool),
        2 => prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            Just(json!(-1)),
            Just(json!(0)),
            prop::sample::select(vec![1e308, -1e308, 1e-7, 0.5, -0.0, 1e21, 2.5e-5])
                .prop_map(Value::from),
        ],
        3 => odd_string().prop_map(Value::String),
        2 => any_json(),
        1 => Just(json!([])),
        1 => Just(json!({})),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Damage

/// Where a damage applies: a well-known field, or a random walk.
#[derive(Clone, Debug)]
enum Target {
    Pointer(&'static str),
    Walk(Vec<Index>),
}

const POINTERS: [&str; 22] = [
    "",
    "/metadata",
    "/metadata/name",
    "/metadata/namespace",
    "/metadata/labels",
    "/metadata/annotations",
    "/spec",
    "/spec/selector",
    "/spec/selector/app",
    "/spec/selector/matchLabels",
    "/spec/selector/matchLabels/app",
    "/spec/selector/matchExpressions",
    "/spec/selector/matchExpressions/0",
    "/spec/selector/matchExpressions/0/key",
    "/spec/selector/matchExpressions/0/operator",
    "/spec/selector/matchExpressions/0/values",
    "/spec/template",
    "/spec/template/metadata",
    "/spec/template/metadata/labels",
    "/spec/template/metadata/labels/app",
    "/spec/manualSelector",
    "/spec/replicas",
];

#[derive(Clone, Debug)]
enum Damage {
    /// Put a value of a random type there.
    Replace(Target, Value),
    /// Remove the field (or list element).
    Remove(Target),
    /// Add a field to a map, or an element to a list.
    Insert(Target, String, Value),
    /// Wrap the value in `depth` lists or maps.
    Nest(Target, usize, bool),
    /// Replace the value by its JSON text.
    Stringify(Target),
    /// Cut a string (or the JSON text of anything else) short.
    Truncate(Target, Index),
}

fn target() -> BoxedStrategy<Target> {
    prop_oneof![
        prop::sample::select(POINTERS.to_vec()).prop_map(Target::Pointer),
        prop::collection::vec(any::<Index>(), 0..7).prop_map(Target::Walk),
    ]
    .boxed()
}

fn damage() -> BoxedStrategy<Damage> {
    prop_oneof![
        5 => (target(), hostile_value()).prop_map(|(t, v)| Damage::Replace(t, v)),
        2 => target().prop_map(Damage::Remove),
        3 => (target(), key(), hostile_value()).prop_map(|(t, k, v)| Damage::Insert(t, k, v)),
        1 => (target(), prop_oneof![1usize..20, 100usize..140], any::<bool>())
            .prop_map(|(t, d, list)| Damage::Nest(t, d, list)),
        1 => target().prop_map(Damage::Stringify),
        1 => (target(), any::<Index>()).prop_map(|(t, i)| Damage::Truncate(t, i)),
    ]
    .boxed()
}

/// The JSON pointer of the value `target` designates (a walk stops early at
/// a scalar or an empty map or list).
fn pointer_of(object: &Value, target: &Target) -> String {
    let steps = match target {
        Target::Pointer(pointer) => return pointer.to_string(),
        Target::Walk(steps) => steps,
    };
    let mut pointer = String::new();
    let mut node = object;
    for step in steps {
        let (token, next) = match node {
            Value::Object(map) if !map.is_empty() => {
                let (k, v) = map.iter().nth(step.index(map.len())).unwrap();
                (k.replace('~', "~0").replace('/', "~1"), v)
            }
            Value::Array(list) if !list.is_empty() => {
                let i = step.index(list.len());
                (i.to_string(), &list[i])
            }
            _ => break,
        };
        pointer.push('/');
        pointer.push_str(&token);
        node = next;
    }
    pointer
}

/// The value `target` designates, if any.
fn resolve<'a>(object: &'a mut Value, target: &Target) -> Option<&'a mut Value> {
    let pointer = pointer_of(object, target);
    object.pointer_mut(&pointer)
}

/// Removes the value `target` designates from its parent.
fn remove(object: &mut Value, target: &Target) {
    let pointer = pointer_of(object, target);
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return; // the root stays
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match object.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(list)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < list.len()
            {
                list.remove(i);
            }
        }
        _ => {}
    }
}

fn apply(object: &mut Value, damage: &Damage) {
    match damage {
        Damage::Replace(target, value) => {
            if let Some(node) = resolve(object, target) {
                *node = value.clone();
            }
        }
        Damage::Remove(target) => remove(object, target),
        Damage::Insert(target, key, value) => match resolve(object, target) {
            Some(Value::Object(map)) => {
                map.insert(key.clone(), value.clone());
            }
            Some(Value::Array(list)) => list.push(value.clone()),
            _ => {}
        },
        Damage::Nest(target, depth, list) => {
            if let Some(node) = resolve(object, target) {
                let mut value = node.take();
                for _ in 0..*depth {
                    value = if *list {
                        Value::Array(vec![value])
                    } else {
                        json!({ "x": value })
                    };
                }
                *node = value;
            }
        }
        Damage::Stringify(target) => {
            if let Some(node) = resolve(object, target) {
                *node = Value::String(node.to_string());
            }
        }
        Damage::Truncate(target, at) => {
            if let Some(node) = resolve(object, target) {
                let text = match &*node {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let chars = text.chars().count();
                let cut: String = text.chars().take(at.index(chars + 1)).collect();
                *node = Value::String(cut);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Last-applied annotations

#[derive(Clone, Debug)]
enum LastApplied {
    Absent,
    /// The object itself, as `kubectl apply` stores it.
    Manifest,
    /// The manifest cut after `Index` characters.
    Truncated(Index),
    /// The manifest encoded as a JSON string `levels` times more.
    Nested(usize),
    /// The manifest with a field of this many bytes.
    Huge(usize),
    /// Any text, or JSON of the wrong shape.
    Text(String),
    /// Not a string at all.
    NotAString(Value),
    /// `{"spec": [[[...]]]}` nested this deep.
    Deep(usize),
}

fn last_applied() -> BoxedStrategy<LastApplied> {
    prop_oneof![
        6 => Just(LastApplied::Absent),
        3 => Just(LastApplied::Manifest),
        2 => any::<Index>().prop_map(LastApplied::Truncated),
        1 => (1usize..4).prop_map(LastApplied::Nested),
        1 => (10_000usize..200_000).prop_map(LastApplied::Huge),
        2 => prop_oneof![
            odd_string(),
            prop::sample::select(vec![
                "", "{", "null", "[]", "42", "\"spec\"", "{\"spec\": \"x\"}",
                "{\"spec\": []}", "{\"spec\": null}", "{\"spec\": {\"replicas\": }",
                "{\"spec\": {\"replicas\": 1, \"replicas\": 2}}", "{\"spec\": {}} trailing",
            ]).prop_map(str::to_string),
        ].prop_map(LastApplied::Text),
        1 => hostile_value().prop_map(LastApplied::NotAString),
        1 => prop_oneof![100usize..140, 1_000usize..5_000].prop_map(LastApplied::Deep),
    ]
    .boxed()
}

fn annotation(last_applied: &LastApplied, object: &Value) -> Option<Value> {
    let manifest = || {
        let mut manifest = object.clone();
        if let Some(metadata) = manifest.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("annotations");
        }
        manifest
    };
    let text = match last_applied {
        LastApplied::Absent => return None,
        LastApplied::Manifest => manifest().to_string(),
        LastApplied::Truncated(at) => {
            let text = manifest().to_string();
            text.chars().take(at.index(text.len())).collect()
        }
        LastApplied::Nested(levels) => {
            let mut text = manifest().to_string();
            for _ in 0..*levels {
                text = Value::String(text).to_string();
            }
            text
        }
        LastApplied::Huge(bytes) => {
            let mut manifest = manifest();
            manifest["padding"] = Value::String("x".repeat(*bytes));
            manifest.to_string()
        }
        LastApplied::Text(text) => text.clone(),
        LastApplied::NotAString(value) => return Some(value.clone()),
        LastApplied::Deep(depth) => format!(
            "{{\"spec\": {{\"replicas\": {}1{}}}}}",
            "[".repeat(*depth),
            "]".repeat(*depth)
        ),
    };
    Some(Value::String(text))
}

/// `validate` natively, with host calls answered as the wasm suite's host
/// answers them without a grant (every Kubernetes call refused), so that
/// the two answers compare byte for byte.
fn native_validate(payload: &[u8]) -> wapc_guest::CallResult {
    struct NoGrant(selector_guard_host::host::KubernetesHost);
    impl selector_guard::cluster::Host for NoGrant {
        fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
            self.0.answer(operation, payload)
        }
    }
    selector_guard::validate_with(
        payload,
        &NoGrant(selector_guard_host::host::KubernetesHost::default()),
    )
}

// ---------------------------------------------------------------------------
// Settings sent with requests

fn mode() -> BoxedStrategy<Mode> {
    prop::sample::select(vec![Mode::Reject, Mode::Warn, Mode::Off]).boxed()
}

fn mutate_mode() -> BoxedStrategy<MutateMode> {
    prop::sample::select(vec![
        MutateMode::Mutate,
        MutateMode::Reject,
        MutateMode::Warn,
        MutateMode::Off,
    ])
    .boxed()
}

fn valid_settings() -> BoxedStrategy<Settings> {
    (
        mode(),
        any::<bool>(),
        mode(),
        prop::sample::subsequence(WORKLOAD_KINDS.to_vec(), 0..=WORKLOAD_KINDS.len()),
        mutate_mode(),
        (
            mode(),
            mode(),
            prop::sample::select(vec![WarnMode::Warn, WarnMode::Off]),
            mutate_mode(),
        ),
        (mode(), mode()),
    )
        .prop_map(
            |(ds, last, tl, kinds, svc, (change, overlap, pods, maps), (budgets, unique))| {
                Settings {
                    spec_fields: ds,
                    spec_fields_kinds: APPS_KINDS.to_vec(),
                    check_last_applied_configuration: last,
                    template_labels: tl,
                    template_labels_kinds: kinds,
                    service_selector_values: svc,
                    label_map_values: maps,
                    immutable_selector: change,
                    volatile_selector_labels: vec!["helm.sh/chart".to_string()],
                    service_selector_change: change,
                    controller_overlap: overlap,
                    pod_label_change: pods,
                    disruption_budgets: budgets,
                    service_selector_unique: unique,
                    ..Settings::default()
                }
            },
        )
        .boxed()
}

#[derive(Clone, Debug)]
enum SettingsChoice {
    Absent,
    Null,
    Empty,
    Valid(Settings),
    /// Refused by `Settings::from_json`: the request must be rejected.
    Invalid(Value),
}

impl SettingsChoice {
    fn json(&self) -> Option<Value> {
        match self {
            SettingsChoice::Absent => None,
            SettingsChoice::Null => Some(Value::Null),
            SettingsChoice::Empty => Some(json!({})),
            SettingsChoice::Valid(settings) => Some(serde_json::to_value(settings).unwrap()),
            SettingsChoice::Invalid(value) => Some(value.clone()),
        }
    }
}

fn settings_choice() -> BoxedStrategy<SettingsChoice> {
    prop_oneof![
        2 => Just(SettingsChoice::Absent),
        1 => Just(SettingsChoice::Null),
        2 => Just(SettingsChoice::Empty),
        6 => valid_settings().prop_map(SettingsChoice::Valid),
        1 => prop_oneof![
            Just(json!({"replicas": "reject"})),
            Just(json!({"daemonSetFields": "block"})),
            Just(json!({"templateLabelsKinds": ["Pod"]})),
            Just(json!([])),
            Just(json!("mutate")),
            any_json().prop_filter("must be refused", |v| {
                Settings::from_json(v.to_string().as_bytes()).is_err()
            }),
        ]
        .prop_map(SettingsChoice::Invalid),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Requests

/// Damage to the AdmissionRequest around the object.
#[derive(Clone, Debug)]
enum Envelope {
    Intact,
    /// `request.<field>` replaced (`kind`, `operation`, `object`, ...).
    Field(&'static str, Value),
    /// A field removed from `request`.
    Missing(&'static str),
    /// `request` is not a map.
    Request(Value),
    /// The whole payload is this.
    Payload(Value),
    /// The payload gets an extra top-level field.
    Extra(String, Value),
}

fn envelope() -> BoxedStrategy<Envelope> {
    let field = prop::sample::select(vec![
        "kind",
        "operation",
        "object",
        "name",
        "namespace",
        "uid",
        "userInfo",
        "oldObject",
    ]);
    prop_oneof![
        30 => Just(Envelope::Intact),
        2 => (field.clone(), hostile_value()).prop_map(|(f, v)| Envelope::Field(f, v)),
        1 => field.prop_map(Envelope::Missing),
        1 => hostile_value().prop_map(Envelope::Request),
        1 => hostile_value().prop_map(Envelope::Payload),
        1 => (key(), hostile_value()).prop_map(|(k, v)| Envelope::Extra(k, v)),
    ]
    .boxed()
}

/// Damage to the payload's bytes (native only: the host sends JSON values).
#[derive(Clone, Debug)]
enum Bytes {
    Intact,
    Truncate(Index),
    Overwrite(Index, u8),
    Insert(Index, Vec<u8>),
}

fn bytes() -> BoxedStrategy<Bytes> {
    prop_oneof![
        24 => Just(Bytes::Intact),
        1 => any::<Index>().prop_map(Bytes::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Bytes::Overwrite(i, b)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Bytes::Insert(i, b)),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
struct Case {
    kind: usize,
    operation: &'static str,
    object: Value,
    settings: SettingsChoice,
    envelope: Envelope,
}

impl Case {
    fn info(&self) -> &'static KindInfo {
        &KINDS[self.kind]
    }

    fn request(&self) -> Value {
        let info = self.info();
        let mut request = json!({
            "uid": "hostile",
            "kind": {"group": info.group, "version": info.version, "kind": info.kind},
            "resource": {"group": info.group, "version": info.version, "resource": info.resource},
            "requestKind": {"group": info.group, "version": info.version, "kind": info.kind},
            "name": "web",
            "namespace": "default",
            "operation": self.operation,
            "userInfo": {"username": "fuzz", "groups": ["system:authenticated"]},
            "object": if self.operation == "DELETE" { Value::Null } else { self.object.clone() },
            "oldObject": if self.operation == "CREATE" { Value::Null } else { self.object.clone() },
            "dryRun": false,
        });
        match &self.envelope {
            Envelope::Field(field, value) => request[*field] = value.clone(),
            Envelope::Missing(field) => {
                request.as_object_mut().unwrap().remove(*field);
            }
            Envelope::Request(value) => request = value.clone(),
            _ => {}
        }
        request
    }

    /// The settings the host sends (it always sends a value).
    fn host_settings(&self) -> Value {
        self.settings.json().unwrap_or(Value::Null)
    }

    fn payload(&self) -> Value {
        let mut payload = Map::new();
        payload.insert("request".to_string(), self.request());
        if let Some(settings) = self.settings.json() {
            payload.insert("settings".to_string(), settings);
        }
        match &self.envelope {
            Envelope::Payload(value) => value.clone(),
            Envelope::Extra(key, value) => {
                payload.insert(key.clone(), value.clone());
                Value::Object(payload)
            }
            _ => Value::Object(payload),
        }
    }
}

fn case() -> BoxedStrategy<Case> {
    (
        // Mostly the handled kinds (the first seven), some that are not.
        prop_oneof![4 => 0..HANDLED, 1 => HANDLED..KINDS.len()],
        prop_oneof![
            8 => Just("CREATE"),
            4 => Just("UPDATE"),
            1 => Just("DELETE"),
            1 => Just("CONNECT"),
        ],
        prop_oneof![
            Just(json!(true)),
            Just(json!(false)),
            Just(json!(7)),
            Just(json!(1.5)),
            Just(Value::Null),
            Just(json!("back")),
        ],
        last_applied(),
        prop::collection::vec(damage(), 0..6),
        settings_choice(),
        envelope(),
    )
        .prop_map(
            |(kind, operation, selector_value, last_applied, damages, settings, envelope)| {
                let mut object = base_object(&KINDS[kind], &selector_value);
                if let Some(annotation) = annotation(&last_applied, &object) {
                    object["metadata"]["annotations"][LAST_APPLIED] = annotation;
                }
                for damage in &damages {
                    apply(&mut object, damage);
                }
                Case {
                    kind,
                    operation,
                    object,
                    settings,
                    envelope,
                }
            },
        )
        .boxed()
}

// ---------------------------------------------------------------------------
// What every answer must satisfy

/// serde_json's default limit: a document whose decoded values nest this
/// deep (the payload map counting as one level) cannot be decoded.
const RECURSION_LIMIT: usize = 128;

/// How many maps and lists are nested in `value` at its deepest.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(list) => 1 + list.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Parses JSON however deep: a mutated object echoes the request's object,
/// which the generator nests past serde_json's default limit.
fn parse_deep<T: serde::de::DeserializeOwned>(text: &[u8]) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    deserializer.disable_recursion_limit();
    let value = T::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Checks an answer of `validate` to `case` (sent intact when `intact`).
/// Returns the answer as JSON.
fn check_answer(case: &Case, answer: &[u8], intact: bool) -> Result<Value, TestCaseError> {
    let typed: Result<ValidationResponse, _> = parse_deep(answer);
    prop_assert!(
        typed.is_ok(),
        "not a ValidationResponse: {:?}",
        String::from_utf8_lossy(answer)
    );
    let json: Value = parse_deep(answer).expect("parsed above");
    let accepted = json["accepted"].as_bool().expect("typed above");
    if accepted {
        prop_assert!(json["message"].is_null(), "{}", json);
    } else {
        let message = json["message"].as_str().unwrap_or_default();
        prop_assert!(
            !message.is_empty(),
            "a rejection without a message: {}",
            json
        );
        prop_assert_eq!(&json["code"], &json!(400), "{}", json);
        prop_assert!(json["mutated_object"].is_null(), "{}", json);
    }
    if let Some(warnings) = json["warnings"].as_array() {
        prop_assert!(
            !warnings.is_empty(),
            "warnings: [] instead of null: {}",
            json
        );
    }

    let well_formed = intact && matches!(case.envelope, Envelope::Intact | Envelope::Extra(..));
    if !well_formed {
        return Ok(json);
    }
    // serde_json refuses to build values nested 128 levels deep. The policy
    // builds only the parts of the object its rules read, so such a request
    // may be rejected as undecodable only when the object, two levels into
    // the payload, nests that deep; deep parts it skips are not an error.
    let depth = if case.operation == "DELETE" {
        0
    } else {
        2 + depth(&case.object)
    };
    let message = json["message"].as_str().unwrap_or_default();
    if message.contains("recursion limit exceeded") {
        prop_assert!(
            !accepted && depth >= RECURSION_LIMIT,
            "{} levels deep: {}",
            depth,
            json
        );
        return Ok(json);
    }
    let info = case.info();
    let mutated = &json["mutated_object"];
    if !mutated.is_null() {
        prop_assert!(info.handled, "{} mutated: {}", info.kind, json);
        // The host's patch only replaces values of label-valued maps.
        let patch = serde_json::to_value(json_patch::diff(&case.object, mutated)).unwrap();
        let ops = patch.as_array().unwrap();
        prop_assert!(!ops.is_empty(), "a mutation that changes nothing: {}", json);
        for op in ops {
            let path = op["path"].as_str().unwrap();
            let key = LABEL_MAPS
                .iter()
                .find_map(|map| path.strip_prefix(map)?.strip_prefix('/'))
                .unwrap_or("/");
            prop_assert!(
                op["op"] == "replace" && !key.contains('/') && op["value"].is_string(),
                "op {} on {}",
                op,
                case.object
            );
        }
    }
    let quiet_accept = || {
        accepted
            && json["warnings"].is_null()
            && mutated.is_null()
            && json["audit_annotations"].is_null()
    };
    if let SettingsChoice::Invalid(_) = case.settings {
        let message = json["message"].as_str().unwrap_or_default();
        prop_assert!(
            !accepted && message.starts_with("invalid settings: "),
            "invalid settings accepted: {}",
            json
        );
    } else if !info.handled || !matches!(case.operation, "CREATE" | "UPDATE") {
        prop_assert!(
            quiet_accept(),
            "{} {} must be accepted untouched: {}",
            info.kind,
            case.operation,
            json
        );
    }
    Ok(json)
}

fn damaged_bytes(mut payload: Vec<u8>, damage: &Bytes) -> Vec<u8> {
    match damage {
        Bytes::Intact => {}
        Bytes::Truncate(at) => payload.truncate(at.index(payload.len())),
        Bytes::Overwrite(at, byte) => {
            if !payload.is_empty() {
                let i = at.index(payload.len());
                payload[i] = *byte;
            }
        }
        Bytes::Insert(at, inserted) => {
            let i = at.index(payload.len() + 1);
            payload.splice(i..i, inserted.iter().copied());
        }
    }
    payload
}

/// What the answers were, to show the generator reaches every outcome.
#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    accepted: usize,
    warned: usize,
    mutated: usize,
    rejected: usize,
    undecodable: usize,
    invalid_settings: usize,
}

impl Tally {
    fn record(&mut self, answer: &Value) {
        let message = answer["message"].as_str().unwrap_or_default();
        self.cases += 1;
        match answer["accepted"].as_bool() {
            Some(true) if !answer["mutated_object"].is_null() => self.mutated += 1,
            Some(true) if !answer["warnings"].is_null() => self.warned += 1,
            Some(true) => self.accepted += 1,
            _ if message.starts_with("cannot decode the validation request") => {
                self.undecodable += 1
            }
            _ if message.starts_with("invalid settings") => self.invalid_settings += 1,
            _ => self.rejected += 1,
        }
    }

    /// Every outcome occurred in at least 1% of the cases.
    fn assert_varied(&self) {
        let floor = self.cases / 100;
        for (outcome, count) in [
            ("accepted quietly", self.accepted),
            ("accepted with warnings", self.warned),
            ("mutated", self.mutated),
            ("rejected by a rule", self.rejected),
            ("undecodable", self.undecodable),
            ("invalid settings", self.invalid_settings),
        ] {
            assert!(count >= floor, "only {count} cases {outcome}: {self:?}");
        }
    }
}

/// Runs `test` on `cases` cases of `strategy`, failing with the minimal
/// failing input, and prints what the answers were.
fn run<T: std::fmt::Debug>(
    name: &str,
    cases: u32,
    strategy: impl Strategy<Value = T>,
    test: impl Fn(T) -> Result<Value, TestCaseError>,
) -> Tally {
    let tally = std::sync::Mutex::new(Tally::default());
    let start = std::time::Instant::now();
    let mut runner = proptest::test_runner::TestRunner::new(config(cases));
    let result = runner.run(&strategy, |input| {
        let answer = test(input)?;
        tally.lock().unwrap().record(&answer);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
    let tally = tally.into_inner().unwrap();
    eprintln!("{name}: {tally:?} in {:?}", start.elapsed());
    tally
}

/// Natively: always an answer, always the same answer, always sane.
#[test]
fn damaged_requests_get_answers_natively() {
    let tally = run(
        "native",
        NATIVE_CASES,
        (case(), bytes()),
        |(case, damage)| {
            let payload = damaged_bytes(serde_json::to_vec(&case.payload()).unwrap(), &damage);
            let first = native_validate(&payload);
            prop_assert!(
                first.is_ok(),
                "validate failed: {:?}",
                first.err().map(|e| e.to_string())
            );
            let first = first.unwrap();
            let second = native_validate(&payload).unwrap();
            prop_assert!(first == second, "not deterministic");
            check_answer(&case, &first, matches!(damage, Bytes::Intact))
        },
    );
    assert!(tally.cases >= NATIVE_CASES as usize);
    tally.assert_varied();
}

/// Through policy.wasm on a fresh instance per call, as policy-server
/// evaluates requests: no trap, and the native answer.
#[test]
fn damaged_requests_get_answers_through_wasm() {
    let policy = wasm::policy();
    let tally = run("wasm", WASM_CASES, case(), |case| {
        let request = case.request();
        let settings = case.host_settings();
        // The raw answer: a mutated object echoes the request's object, which
        // may nest deeper than the host's own decoding of answers allows.
        let payload =
            serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
        let answer = policy
            .instantiate()
            .and_then(|instance| instance.call("validate", &payload));
        prop_assert!(
            answer.is_ok(),
            "policy.wasm failed: {:#}",
            answer.unwrap_err()
        );
        let answer = answer.unwrap();
        // The host always sends `settings` (an absent one as null), and
        // builds the payload itself.
        let mut sent = case.clone();
        if let SettingsChoice::Absent = sent.settings {
            sent.settings = SettingsChoice::Null;
        }
        if let Envelope::Payload(_) | Envelope::Extra(..) = sent.envelope {
            sent.envelope = Envelope::Intact;
        }
        let json = check_answer(&sent, &answer, true)?;
        let native = native_validate(&payload).unwrap();
        let native: Value = parse_deep(&native).unwrap();
        prop_assert_eq!(
            &json,
            &native,
            "wasm and native answers differ (is policy.wasm older than src/? run `make policy.wasm`)"
        );
        Ok(json)
    });
    assert!(tally.cases >= WASM_CASES as usize);
    tally.assert_varied();
}

// ---------------------------------------------------------------------------
// validate_settings

/// A setting's key and a value for it, valid or not.
#[derive(Clone, Debug)]
struct Entry {
    key: String,
    value: Value,
    /// What the refusal must contain (each inner list: one of these);
    /// `None` when the entry is valid.
    named: Option<Vec<Vec<String>>>,
}

const KEYS: [&str; 5] = [
    "daemonSetFields",
    "checkLastAppliedConfiguration",
    "templateLabels",
    "templateLabelsKinds",
    "serviceSelectorValues",
];
const KIND_NAMES: [&str; 7] = [
    "DaemonSet",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "ReplicationController",
    "Job",
    "CronJob",
];

fn valid_entry() -> BoxedStrategy<Entry> {
    let valid = |key: &'static str, values: Vec<Value>| {
        prop::sample::select(values).prop_map(move |value| Entry {
            key: key.to_string(),
            value,
            named: None,
        })
    };
    prop_oneof![
        valid(
            "daemonSetFields",
            vec![json!("reject"), json!("warn"), json!("off")]
        ),
        valid(
            "templateLabels",
            vec![json!("reject"), json!("warn"), json!("off")]
        ),
        valid(
            "serviceSelectorValues",
            vec![
                json!("mutate"),
                json!("reject"),
                json!("warn"),
                json!("off")
            ]
        ),
        valid(
            "checkLastAppliedConfiguration",
            vec![json!(true), json!(false)]
        ),
        prop::sample::subsequence(KIND_NAMES.to_vec(), 0..=KIND_NAMES.len()).prop_map(|kinds| {
            Entry {
                key: "templateLabelsKinds".to_string(),
                value: json!(kinds),
                named: None,
            }
        }),
    ]
    .boxed()
}

/// A value that is no mode: the refusal names the key, and a string value too.
fn not_a_mode(allowed: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop_oneof![
        prop_oneof![
            "\\PC{0,12}",
            Just("Reject".to_string()),
            Just("WARN".to_string()),
            Just("mutate".to_string()),
            Just("block".to_string()),
            Just(String::new()),
        ]
        .prop_filter("not a valid mode", move |s| !allowed.contains(&s.as_str()))
        .prop_map(Value::String),
        hostile_value().prop_filter("not a string", |v| !v.is_string()),
    ]
    .boxed()
}

/// The key, and a string value as serde quotes it: `unknown variant `x``
/// or `invalid type: string "x"`.
fn named(key: &str, value: &Value) -> Vec<Vec<String>> {
    match value {
        Value::String(s) => vec![
            vec![key.to_string()],
            vec![format!("`{s}`"), format!("{s:?}")],
        ],
        _ => vec![vec![key.to_string()]],
    }
}

fn invalid_entry() -> BoxedStrategy<Entry> {
    let mode_key = |key: &'static str, allowed: &'static [&'static str]| {
        not_a_mode(allowed).prop_map(move |value| Entry {
            key: key.to_string(),
            named: Some(named(key, &value)),
            value,
        })
    };
    prop_oneof![
        // Unknown keys, including near misses.
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_]{0,16}",
            "\\PC{0,12}",
            Just("DaemonSetFields".to_string()),
            Just("daemon_set_fields".to_string()),
            Just("templatelabels".to_string()),
            Just("replicas".to_string()),
        ]
        .prop_filter("unknown", |k| !KEYS.contains(&k.as_str()))
        .prop_flat_map(|key| any_json().prop_map(move |value| Entry {
            named: Some(vec![vec![format!("`{key}`")]]),
            key: key.clone(),
            value,
        })),
        mode_key("daemonSetFields", &["reject", "warn", "off"]),
        mode_key("templateLabels", &["reject", "warn", "off"]),
        mode_key(
            "serviceSelectorValues",
            &["mutate", "reject", "warn", "off"]
        ),
        hostile_value()
            .prop_filter("not a bool", |v| !v.is_boolean())
            .prop_map(|value| Entry {
                key: "checkLastAppliedConfiguration".to_string(),
                named: Some(named("checkLastAppliedConfiguration", &value)),
                value,
            }),
        // A list with one kind that is not one.
        (
            prop::sample::subsequence(KIND_NAMES.to_vec(), 0..=3),
            prop_oneof![
                prop_oneof![
                    Just("Pod".to_string()),
                    Just("daemonset".to_string()),
                    Just("Cronjob".to_string()),
                    Just("Service".to_string()),
                    "\\PC{0,10}",
                ]
                .prop_filter("not a kind", |s| !KIND_NAMES.contains(&s.as_str()))
                .prop_map(Value::String),
                hostile_value().prop_filter("not a string", |v| !v.is_string()),
            ],
        )
            .prop_map(|(good, bad)| {
                let index = good.len();
                let mut kinds: Vec<Value> = good.into_iter().map(|k| json!(k)).collect();
                let path = format!("templateLabelsKinds[{index}]");
                kinds.push(bad.clone());
                Entry {
                    key: "templateLabelsKinds".to_string(),
                    value: Value::Array(kinds),
                    named: Some(named(&path, &bad)),
                }
            }),
        // Not a list.
        hostile_value()
            .prop_filter("not a list", |v| !v.is_array())
            .prop_map(|value| Entry {
                key: "templateLabelsKinds".to_string(),
                named: Some(named("templateLabelsKinds", &value)),
                value,
            }),
    ]
    .boxed()
}

fn parse_settings_answer(settings: &[u8]) -> Result<(bool, String), TestCaseError> {
    let answer = selector_guard::validate_settings(settings);
    prop_assert!(answer.is_ok(), "validate_settings failed");
    let answer = answer.unwrap();
    let again = selector_guard::validate_settings(settings).unwrap();
    prop_assert!(answer == again, "not deterministic");
    let json: Value = serde_json::from_slice(&answer).unwrap();
    let valid = json["valid"].as_bool();
    prop_assert!(valid.is_some(), "{}", json);
    let message = json["message"].as_str().unwrap_or_default().to_string();
    if valid == Some(false) {
        prop_assert!(!message.is_empty(), "a refusal without a message: {}", json);
    } else {
        prop_assert!(json["message"].is_null(), "{}", json);
    }
    Ok((valid.unwrap(), message))
}

proptest! {
    #![proptest_config(config(SETTINGS_CASES))]

    /// Arbitrary JSON and arbitrary bytes: an answer, never a panic.
    #[test]
    fn random_settings_get_answers(
        json in any_json(),
        raw in prop::collection::vec(any::<u8>(), 0..64),
        cut in any::<Index>(),
    ) {
        let text = json.to_string();
        let (valid, _) = parse_settings_answer(text.as_bytes())?;
        prop_assert_eq!(valid, Settings::from_json(text.as_bytes()).is_ok());
        let truncated = &text.as_bytes()[..cut.index(text.len() + 1)];
        parse_settings_answer(truncated)?;
        parse_settings_answer(&raw)?;
    }

    /// Settings built from valid entries and at most one invalid one: valid
    /// exactly when all are, and a refusal names the key (and a string value).
    #[test]
    fn invalid_settings_are_refused_by_name(
        valid in prop::collection::vec(valid_entry(), 0..6),
        invalid in prop::option::of(invalid_entry()),
    ) {
        let mut settings = Map::new();
        for entry in &valid {
            settings.insert(entry.key.clone(), entry.value.clone());
        }
        if let Some(entry) = &invalid {
            settings.insert(entry.key.clone(), entry.value.clone());
        }
        let text = Value::Object(settings).to_string();
        let (accepted, message) = parse_settings_answer(text.as_bytes())?;
        match &invalid {
            None => prop_assert!(accepted, "{} refused: {}", text, message),
            Some(entry) => {
                prop_assert!(!accepted, "{} accepted", text);
                for names in entry.named.as_deref().unwrap_or_default() {
                    prop_assert!(
                        names.iter().any(|name| message.contains(name.as_str())),
                        "{:?} not named in {:?}", names, message
                    );
                }
            }
        }
    }
}

/// `{}`, `null` and no settings are valid and mean the documented defaults.
#[test]
fn empty_and_null_settings_are_the_documented_defaults() {
    for text in ["{}", "null", "", " \n"] {
        let answer: Value =
            serde_json::from_slice(&selector_guard::validate_settings(text.as_bytes()).unwrap())
                .unwrap();
        assert_eq!(answer, json!({"valid": true, "message": null}), "{text:?}");
        let settings = Settings::from_json(text.as_bytes()).unwrap();
        assert_eq!(settings.spec_fields, Mode::Reject, "{text:?}");
        assert_eq!(settings.spec_fields_kinds, APPS_KINDS.to_vec(), "{text:?}");
        assert!(settings.check_last_applied_configuration, "{text:?}");
        assert_eq!(settings.template_labels, Mode::Reject, "{text:?}");
        assert_eq!(
            settings.template_labels_kinds,
            WORKLOAD_KINDS.to_vec(),
            "{text:?}"
        );
        assert_eq!(
            settings.service_selector_values,
            MutateMode::Mutate,
            "{text:?}"
        );
        assert_eq!(settings.label_map_values, MutateMode::Mutate, "{text:?}");
        assert!(!settings.reads_cluster(), "{text:?}");
    }
    // The same documented defaults, spelled out as JSON.
    assert_eq!(
        serde_json::to_value(Settings::default()).unwrap(),
        json!({
            "specFields": "reject",
            "specFieldsKinds": ["DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"],
            "checkLastAppliedConfiguration": true,
            "templateLabels": "reject",
            "templateLabelsKinds": KIND_NAMES,
            "serviceSelectorValues": "mutate",
            "labelMapValues": "mutate",
            "immutableSelector": "reject",
            "volatileSelectorLabels": ["app.kubernetes.io/version", "helm.sh/chart"],
            "serviceSelectorChange": "off",
            "controllerOverlap": "off",
            "podLabelChange": "off",
            "serviceTargets": "reject",
            "disruptionBudgets": "off",
            "networkPolicyTargets": "warn",
            "autoscalerTarget": "reject",
            "serviceSelectorUnique": "off",
            "workloadKinds": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout"}],
            "honourIgnoreAnnotations": false,
        })
    );
}

/// A handled kind whose object has the wrong shape where a rule reads it is
/// rejected with a message naming the field, with the default settings.
#[test]
fn malformed_handled_objects_are_rejected_by_name() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (index, info) in KINDS.iter().enumerate().filter(|(_, k)| k.handled) {
        let fields: &[(&str, &str)] = match info.kind {
            "CronJob" => &[
                ("", "the object"),
                ("/spec", "spec"),
                ("/spec/jobTemplate", "spec.jobTemplate"),
                ("/spec/jobTemplate/spec", "spec.jobTemplate.spec"),
            ],
            "Service" => &[
                ("", "the object"),
                ("/spec", "spec"),
                ("/spec/selector", "spec.selector"),
            ],
            "Pod" => &[
                ("", "the object"),
                ("/metadata/labels", "metadata.labels"),
                ("/metadata/annotations", "metadata.annotations"),
            ],
            _ => &[
                ("", "the object"),
                ("/spec", "spec"),
                ("/spec/selector", "spec.selector"),
                ("/spec/template", "spec.template"),
                ("/spec/template/metadata", "spec.template.metadata"),
                (
                    "/spec/template/metadata/labels",
                    "spec.template.metadata.labels",
                ),
            ],
        };
        for value in [json!("x"), json!(42), json!([1]), json!(true)] {
            for (pointer, named) in fields {
                let mut object = base_object(info, &json!("v"));
                *object.pointer_mut(pointer).unwrap() = value.clone();
                let case = Case {
                    kind: index,
                    operation: "CREATE",
                    object,
                    settings: SettingsChoice::Absent,
                    envelope: Envelope::Intact,
                };
                let payload = serde_json::to_vec(&case.payload()).unwrap();
                let answer: Value =
                    serde_json::from_slice(&native_validate(&payload).unwrap()).unwrap();
                let message = answer["message"].as_str().unwrap_or_default();
                checked += 1;
                if answer["accepted"] != false || !message.contains(named) {
                    failures.push(format!("{} with {named} = {value}: {answer}", info.kind));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{checked} malformed objects rejected by name");
}
