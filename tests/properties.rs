//! Property tests for the one mutation (issue 3, issue 7, issue 12): a
//! Service's non-string selector values, and those of every label-valued map
//! of a workload, become strings, and nothing else changes.
//!
//! Random Services carry random unknown fields at every level (top level,
//! metadata, spec, status, and nested inside those) and random scalar selector
//! values. The expected selector is computed by an independent model
//! ([`Scalar::expected`]), not by the policy's `label_string`: floats are drawn
//! from multiples of 1/8 below 4096, whose float32 shortest text is their exact
//! decimal, so Go's `FormatFloat(f, 'g', -1, 32)` is known without Go.
//!
//! Each case also computes the JSON Patch the host computes (policy-evaluator's
//! `json_patch::diff(object, mutated_object)`) and checks that it only
//! replaces `/spec/selector/<key>` values and that applying it yields the
//! mutated object.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// At least 1,000 cases in CI (issue 3, issue 7).
const CASES: u32 = 2_000;
/// The other modes and the impossible values, each case running 3 modes.
const SIDE_CASES: u32 = 300;

/// Failures print the minimal input; no regression files are written.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}

/// A selector value as written in a manifest.
#[derive(Clone, Debug)]
enum Scalar {
    /// A quoted string: a valid label value, left as is.
    String(String),
    Bool(bool),
    /// A non-negative integer (a negative one is not a label value).
    UInt(u64),
    /// `eighths / 8.0`, a JSON float such as `2.375` or `3.0`.
    Eighths(u32),
    Null,
}

impl Scalar {
    fn json(&self) -> Value {
        match self {
            Scalar::String(s) => Value::String(s.clone()),
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::UInt(u) => Value::from(*u),
            Scalar::Eighths(k) => Value::from(f64::from(*k) / 8.0),
            Scalar::Null => Value::Null,
        }
    }

    /// The string sigs.k8s.io/yaml makes of the value, by an independent model.
    fn expected(&self) -> String {
        const FRACTIONS: [&str; 8] = ["", "125", "25", "375", "5", "625", "75", "875"];
        match self {
            Scalar::String(s) => s.clone(),
            Scalar::Bool(true) => "true".to_string(),
            Scalar::Bool(false) => "false".to_string(),
            Scalar::UInt(u) => u.to_string(),
            Scalar::Eighths(k) => {
                let (whole, eighths) = (k / 8, (k % 8) as usize);
                match FRACTIONS[eighths] {
                    "" => whole.to_string(),
                    fraction => format!("{whole}.{fraction}"),
                }
            }
            Scalar::Null => String::new(),
        }
    }

    fn is_string(&self) -> bool {
        matches!(self, Scalar::String(_))
    }
}

/// A valid label value (possibly empty).
fn label_value() -> BoxedStrategy<String> {
    "([A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?)?".boxed()
}

/// A valid label key: an optional DNS-subdomain prefix, and a name. `true`
/// and `false` (a YAML-1.1-mangled `on:`/`yes:` key) are valid keys too.
fn label_key() -> BoxedStrategy<String> {
    let name = "[A-Za-z0-9]([-A-Za-z0-9_.]{0,15}[A-Za-z0-9])?";
    let prefix = "[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?){0,2}";
    prop_oneof![
        6 => name.prop_map(String::from),
        3 => (prefix, name).prop_map(|(p, n)| format!("{p}/{n}")),
        1 => prop_oneof![Just("true".to_string()), Just("false".to_string())],
    ]
    .boxed()
}

fn scalar() -> BoxedStrategy<Scalar> {
    prop_oneof![
        3 => label_value().prop_map(Scalar::String),
        2 => any::<bool>().prop_map(Scalar::Bool),
        2 => prop_oneof![0u64..1000, any::<u64>()].prop_map(Scalar::UInt),
        2 => (0u32..4096 * 8).prop_map(Scalar::Eighths),
        1 => Just(Scalar::Null),
    ]
    .boxed()
}

/// Any JSON, for unknown fields. Floats are dyadic (exact in decimal), so a
/// JSON round trip through serde_json's best-effort float parsing is exact.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1_000_000i32..1_000_000).prop_map(|k| Value::from(f64::from(k) / 64.0)),
        "\\PC{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Unknown fields for a map, never using one of the `reserved` keys.
fn extra_fields(reserved: &'static [&'static str]) -> BoxedStrategy<Map<String, Value>> {
    prop::collection::btree_map("[a-zA-Z][a-zA-Z0-9_]{0,12}|\\PC{1,8}", any_json(), 0..4)
        .prop_map(move |fields| {
            fields
                .into_iter()
                .filter(|(k, _)| !reserved.contains(&k.as_str()))
                .collect()
        })
        .boxed()
}

/// A random annotation value: any string, or a scalar YAML 1.1 would make
/// of an unquoted one.
fn annotation_value() -> BoxedStrategy<Scalar> {
    prop_oneof![
        2 => "\\PC{0,16}".prop_map(Scalar::String),
        3 => scalar(),
    ]
    .boxed()
}

/// A random label map of `0..max` entries.
fn label_map(
    values: BoxedStrategy<Scalar>,
    min: usize,
    max: usize,
) -> BoxedStrategy<BTreeMap<String, Scalar>> {
    prop::collection::btree_map(label_key(), values, min..max).boxed()
}

/// A random Service: its selector (key → scalar) and the whole object.
#[derive(Clone, Debug)]
struct Service {
    selector: BTreeMap<String, Scalar>,
    object: Value,
}

fn service() -> BoxedStrategy<Service> {
    (
        prop::collection::btree_map(label_key(), scalar(), 0..8),
        extra_fields(&["apiVersion", "kind", "metadata", "spec", "status"]),
        extra_fields(&["name", "namespace", "labels", "annotations"]),
        extra_fields(&["selector"]),
        any_json(),
        "[a-z]([-a-z0-9]{0,10}[a-z0-9])?",
    )
        .prop_map(|(selector, top, metadata, spec, status, name)| {
            let mut object = json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {
                    "selector": selector.iter().map(|(k, v)| (k.clone(), v.json())).collect::<Map<_, _>>(),
                },
                "status": status,
            });
            let object_map = object.as_object_mut().unwrap();
            object_map.extend(top);
            object_map["metadata"].as_object_mut().unwrap().extend(metadata);
            object_map["spec"].as_object_mut().unwrap().extend(spec);
            Service { selector, object }
        })
    .boxed()
}

fn request(object: &Value) -> Value {
    json!({
        "uid": "property",
        "kind": {"group": "", "version": "v1", "kind": "Service"},
        "resource": {"group": "", "version": "v1", "resource": "services"},
        "operation": "CREATE",
        "name": object["metadata"]["name"],
        "namespace": "default",
        "userInfo": {"username": "property"},
        "object": object,
    })
}

fn validate(object: &Value, settings: Value) -> Value {
    let payload = serde_json::to_vec(&json!({"request": request(object), "settings": settings}))
        .expect("serializes");
    let answer = selector_guard::validate(&payload).expect("validate answers");
    serde_json::from_slice(&answer).expect("the answer is JSON")
}

/// `/spec/selector/<key>` → `<key>` (RFC 6901 unescaped), or `None`.
fn selector_key_of(path: &str) -> Option<String> {
    let token = path.strip_prefix("/spec/selector/")?;
    (!token.contains('/')).then(|| token.replace("~1", "/").replace("~0", "~"))
}

proptest! {
    #![proptest_config(config(CASES))]

    /// `mutate` (the default): exactly the expected selector, everything else
    /// `==`, and a host patch that replaces only selector values.
    #[test]
    fn mutation_changes_only_non_string_selector_values(service in service()) {
        let answer = validate(&service.object, json!({"serviceSelectorValues": "mutate"}));
        prop_assert_eq!(&answer["accepted"], &json!(true), "{}", answer);
        prop_assert!(answer["message"].is_null(), "{}", answer);

        let converted: Vec<&String> = service
            .selector
            .iter()
            .filter(|(_, v)| !v.is_string())
            .map(|(k, _)| k)
            .collect();
        let mangled_keys = service
            .selector
            .keys()
            .filter(|k| *k == "true" || *k == "false")
            .count();
        let warnings = answer["warnings"].as_array().map_or(0, Vec::len);
        prop_assert_eq!(warnings, converted.len() + mangled_keys, "{}", answer);

        let mutated = &answer["mutated_object"];
        if converted.is_empty() {
            prop_assert!(mutated.is_null(), "nothing to change, yet: {}", answer);
            return Ok(());
        }

        // Exactly the expected selector, by the independent model.
        let expected_selector: Map<String, Value> = service
            .selector
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.expected())))
            .collect();
        prop_assert_eq!(&mutated["spec"]["selector"], &Value::Object(expected_selector));

        // Everything else untouched.
        let mut expected = service.object.clone();
        expected["spec"]["selector"] = mutated["spec"]["selector"].clone();
        prop_assert_eq!(mutated, &expected);

        // The host's patch: one `replace` per converted value, nothing else.
        let patch = json_patch::diff(&service.object, mutated);
        let ops = serde_json::to_value(&patch).expect("a patch serializes");
        let mut patched_keys = Vec::new();
        for op in ops.as_array().expect("a patch is a list") {
            let path = op["path"].as_str().expect("an op has a path");
            let key = selector_key_of(path);
            prop_assert!(key.is_some(), "op outside spec.selector: {}", op);
            prop_assert_eq!(&op["op"], &json!("replace"), "{}", op);
            patched_keys.push(key.unwrap_or_default());
        }
        patched_keys.sort();
        let converted: Vec<String> = converted.into_iter().cloned().collect();
        prop_assert_eq!(patched_keys, converted);
        let mut patched = service.object.clone();
        json_patch::patch(&mut patched, &patch).expect("the patch applies");
        prop_assert_eq!(&patched, mutated);
    }

}

/// A random Deployment: every label-valued map it has (by JSON Pointer) and
/// the whole object. The selector's `matchLabels` are the template's labels,
/// so that Rule 2 is satisfied once both are strings.
#[derive(Clone, Debug)]
struct Workload {
    maps: Vec<(&'static str, BTreeMap<String, Scalar>)>,
    object: Value,
}

/// Fields of other apps/v1 specs, which Rule 1 would report.
const SIBLING_FIELDS: &[&str] = &[
    "selector",
    "template",
    "updateStrategy",
    "serviceName",
    "volumeClaimTemplates",
    "podManagementPolicy",
    "persistentVolumeClaimRetentionPolicy",
    "ordinals",
];

fn workload() -> BoxedStrategy<Workload> {
    let maps = (
        label_map(scalar(), 0, 6),
        label_map(annotation_value(), 0, 6),
        label_map(scalar(), 1, 6),
        label_map(annotation_value(), 0, 6),
        label_map(scalar(), 0, 6),
    );
    let extras = (
        extra_fields(&["apiVersion", "kind", "metadata", "spec", "status"]),
        extra_fields(&["name", "namespace", "generateName", "labels", "annotations"]),
        extra_fields(SIBLING_FIELDS),
        extra_fields(&["labels", "annotations"]),
        extra_fields(&["nodeSelector"]),
        any_json(),
    );
    (maps, extras)
        .prop_map(|(maps, extras)| {
            let (labels, annotations, template_labels, template_annotations, node_selector) = maps;
            let (top, metadata, spec, template_metadata, pod_spec, status) = extras;
            let json_of = |map: &BTreeMap<String, Scalar>| -> Value {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), v.json())).collect())
            };
            let mut object = json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "w", "namespace": "default",
                             "labels": json_of(&labels), "annotations": json_of(&annotations)},
                "spec": {
                    "selector": {"matchLabels": json_of(&template_labels)},
                    "template": {
                        "metadata": {"labels": json_of(&template_labels),
                                     "annotations": json_of(&template_annotations)},
                        "spec": {"nodeSelector": json_of(&node_selector),
                                 "containers": [{"name": "c", "image": "registry.example/c:1"}]},
                    },
                },
                "status": status,
            });
            let map = object.as_object_mut().unwrap();
            map.extend(top);
            map["metadata"].as_object_mut().unwrap().extend(metadata);
            map["spec"].as_object_mut().unwrap().extend(spec);
            map["spec"]["template"]["metadata"]
                .as_object_mut()
                .unwrap()
                .extend(template_metadata);
            map["spec"]["template"]["spec"]
                .as_object_mut()
                .unwrap()
                .extend(pod_spec);
            Workload {
                maps: vec![
                    ("/metadata/labels", labels),
                    ("/metadata/annotations", annotations),
                    ("/spec/selector/matchLabels", template_labels.clone()),
                    ("/spec/template/metadata/labels", template_labels),
                    ("/spec/template/metadata/annotations", template_annotations),
                    ("/spec/template/spec/nodeSelector", node_selector),
                ],
                object,
            }
        })
        .boxed()
}

/// `validate`'s answer, with the mutated object as the exact text it sent.
fn validate_raw(kind: Value, object: &Value, settings: Value) -> (Value, Option<String>) {
    let mut request = request(object);
    request["kind"] = kind;
    let payload =
        serde_json::to_vec(&json!({"request": request, "settings": settings})).expect("serializes");
    let answer = selector_guard::validate(&payload).expect("validate answers");
    #[derive(serde::Deserialize)]
    struct Mutated<'a> {
        #[serde(borrow)]
        mutated_object: Option<&'a serde_json::value::RawValue>,
    }
    let raw: Mutated = serde_json::from_slice(&answer).expect("the answer is JSON");
    let text = raw.mutated_object.map(|m| m.get().to_string());
    (
        serde_json::from_slice(&answer).expect("the answer is JSON"),
        text,
    )
}

proptest! {
    #![proptest_config(config(CASES / 2))]

    /// `labelMapValues: mutate` (the default): in every label-valued map of a
    /// workload, exactly the non-string values become the model's strings;
    /// the mutated text is, byte for byte, the request's text with only
    /// those values' texts replaced; and the host's patch only replaces them.
    #[test]
    fn label_map_mutation_changes_only_non_string_values(workload in workload()) {
        let kind = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
        let (answer, text) = validate_raw(kind, &workload.object, json!({}));
        prop_assert_eq!(&answer["accepted"], &json!(true), "{}", answer);

        let mut expected = workload.object.clone();
        let mut converted = Vec::new();
        let mut mangled_keys = 0;
        for (pointer, map) in &workload.maps {
            for (key, value) in map {
                if key == "true" || key == "false" {
                    mangled_keys += 1;
                }
                if !value.is_string() {
                    let escaped = key.replace('~', "~0").replace('/', "~1");
                    converted.push(format!("{pointer}/{escaped}"));
                    *expected.pointer_mut(pointer).unwrap().get_mut(key).unwrap() =
                        Value::String(value.expected());
                }
            }
        }
        let warnings = answer["warnings"].as_array().map_or(0, Vec::len);
        prop_assert_eq!(warnings, converted.len() + mangled_keys, "{}", answer);
        if converted.is_empty() {
            prop_assert!(text.is_none(), "nothing to change, yet: {}", answer);
            return Ok(());
        }
        // The request was sent as serde_json writes `object`; the answer
        // must be that text with only the converted values' texts replaced,
        // which is exactly how serde_json writes `expected`.
        let text = text.expect("a mutation");
        prop_assert_eq!(&text, &serde_json::to_string(&expected).unwrap());

        let mutated = &answer["mutated_object"];
        let patch = json_patch::diff(&workload.object, mutated);
        let ops = serde_json::to_value(&patch).expect("a patch serializes");
        let mut paths: Vec<String> = ops
            .as_array()
            .expect("a patch is a list")
            .iter()
            .map(|op| {
                assert_eq!(op["op"], "replace", "{op}");
                op["path"].as_str().expect("an op has a path").to_string()
            })
            .collect();
        paths.sort();
        converted.sort();
        prop_assert_eq!(paths, converted);
    }
}

proptest! {
    #![proptest_config(config(SIDE_CASES))]

    /// `reject` and `warn` never mutate; `reject` refuses exactly when a value
    /// would be converted, and `off` accepts silently.
    #[test]
    fn other_modes_never_mutate(service in service()) {
        let needs_conversion = service.selector.values().any(|v| !v.is_string());
        for mode in ["reject", "warn", "off"] {
            let answer = validate(&service.object, json!({"serviceSelectorValues": mode}));
            prop_assert!(answer["mutated_object"].is_null(), "{}: {}", mode, answer);
            let accepted = answer["accepted"].as_bool().expect("accepted is a bool");
            prop_assert_eq!(accepted, mode != "reject" || !needs_conversion, "{}: {}", mode, answer);
            if mode == "off" {
                prop_assert!(answer["warnings"].is_null(), "{}", answer);
            }
        }
    }

    /// Values that are not label values once converted (negative numbers,
    /// exponents, over 63 characters) are rejected in every mode, unmutated,
    /// and the message names the key.
    #[test]
    fn impossible_values_reject_without_mutation(
        service in service(),
        key in "[a-z]{1,10}",
        bad in prop_oneof![
            (i64::MIN..-1).prop_map(Value::from),
            (-4096i32 * 8..-1).prop_map(|k| Value::from(f64::from(k) / 8.0)),
            Just(json!(1e21)),
            Just(json!(-0.00001)),
            "[a-z]{64,80}".prop_map(Value::String),
            Just(json!([])),
            Just(json!({"a": "b"})),
        ],
    ) {
        let mut object = service.object.clone();
        object["spec"]["selector"][&key] = bad.clone();
        for mode in ["mutate", "reject", "warn"] {
            let answer = validate(&object, json!({"serviceSelectorValues": mode}));
            prop_assert_eq!(&answer["accepted"], &json!(false), "{} {}: {}", mode, bad, answer);
            prop_assert!(answer["mutated_object"].is_null(), "{}", answer);
            let message = answer["message"].as_str().expect("a rejection has a message");
            let named = format!("spec.selector[{key}]");
            prop_assert!(message.contains(&named), "{}: {}", named, message);
        }
    }
}

/// The model's float texts are Go's: `strconv.FormatFloat(f, 'g', -1, 32)`
/// output for these inputs, checked through `validate` (not `label_string`).
/// The rows past the model's domain pin the exponent forms too.
#[test]
fn float_texts_match_go_outputs() {
    let cases = [
        (0.0, "0"),
        (3.0, "3"),
        (0.125, "0.125"),
        (2.375, "2.375"),
        (4095.875, "4095.875"),
        (100.5, "100.5"),
        // Outside the model's domain.
        (0.00001, "1e-05"),
        (0.0001, "0.0001"),
        (123456.0, "123456"),
        (0.000_000_15, "1.5e-07"),
        (0.1, "0.1"),
        (std::f64::consts::PI, "3.1415927"),
    ];
    for (float, go) in cases {
        let eighths = float * 8.0;
        if eighths.fract() == 0.0 && eighths < f64::from(4096 * 8) {
            assert_eq!(
                Scalar::Eighths(eighths as u32).expected(),
                go,
                "model for {float}"
            );
        }
        let object = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "f"},
                            "spec": {"selector": {"v": float}}});
        let answer = validate(&object, json!({}));
        assert_eq!(
            answer["mutated_object"]["spec"]["selector"]["v"], go,
            "{answer}"
        );
    }
}
