//! Limits (issue 7): inputs at sizes and depths a policy must survive, each
//! answered with a sane verdict, natively and through `policy.wasm` (fresh
//! instance per call, as policy-server evaluates), without a trap:
//!
//! - a 3 MiB object;
//! - nesting deeper than serde_json's recursion limit (128): where a rule
//!   reads, the object cannot be decoded and the request is rejected with
//!   that reason; elsewhere it is skipped, and the object is judged as if
//!   the deep part were shallow;
//! - nesting 100,000 deep inside the last-applied annotation (a string, so
//!   the envelope decodes; the annotation's spec values are skipped without
//!   recursion);
//! - 10,000 selector keys (Service mutation, Deployment matchLabels);
//! - a last-applied annotation holding 1 MiB of JSON.
//!
//! Timeouts are hang guards only (the machine is shared and noisy); each
//! test prints how long it took.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

mod wasm;

use selector_guard::rules::service_selector::MAX_VALUE_WARNINGS;
use serde_json::{Map, Value, json};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Far beyond any expected time: only a hang fails on time.
const HANG_GUARD: Duration = Duration::from_secs(300);

const MIB: usize = 1024 * 1024;
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn request(group: &str, kind: &str, object: Value) -> Value {
    json!({
        "uid": "limits",
        "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": format!("{}s", kind.to_lowercase())},
        "operation": "CREATE",
        "name": "big",
        "namespace": "default",
        "userInfo": {"username": "limits"},
        "object": object,
    })
}

/// Runs `f` on its own thread (with a large stack for the test's own JSON
/// handling), failing if it has not finished within [`HANG_GUARD`].
fn guarded<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    let start = Instant::now();
    std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(64 * MIB)
        .spawn(move || {
            let _ = send.send(f());
        })
        .unwrap();
    let result = receive
        .recv_timeout(HANG_GUARD)
        .unwrap_or_else(|e| panic!("{name}: no answer within {HANG_GUARD:?} ({e})"));
    eprintln!("{name}: {:?}", start.elapsed());
    result
}

/// The policy's answer natively, from the payload bytes.
fn native(payload: &[u8]) -> Value {
    let answer = selector_guard::validate(payload).expect("validate answers");
    serde_json::from_slice(&answer).expect("the answer is JSON")
}

fn native_request(request: &Value) -> Value {
    native(&serde_json::to_vec(&json!({"request": request, "settings": {}})).unwrap())
}

/// The policy's answer through policy.wasm; a trap fails the test.
fn in_wasm(request: &Value) -> Value {
    let answer = wasm::policy()
        .validate(request, &json!({}))
        .unwrap_or_else(|e| panic!("policy.wasm failed: {e:#}"));
    serde_json::to_value(answer).unwrap()
}

/// Checks `answer` with `check`, natively and through wasm.
fn both(name: &'static str, request: Value, check: impl Fn(&Value, &Value)) {
    let shared = std::sync::Arc::new(request);
    let r = shared.clone();
    let answer = guarded(&format!("{name} (native)"), move || native_request(&r));
    check(&shared, &answer);
    let r = shared.clone();
    let answer = guarded(&format!("{name} (wasm)"), move || in_wasm(&r));
    check(&shared, &answer);
}

fn message(answer: &Value) -> &str {
    answer["message"].as_str().unwrap_or_default()
}

/// A correct DaemonSet carrying `annotation` as its last-applied
/// configuration, which names `spec.replicas`: rejected for that, natively
/// and through wasm.
fn annotation_names_replicas(label: &'static str, name: &str, annotation: String) {
    let object = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "annotations": {LAST_APPLIED: annotation}},
        "spec": {"selector": {"matchLabels": {"app": "a"}},
                 "template": {"metadata": {"labels": {"app": "a"}}}},
    });
    both(label, request("apps", "DaemonSet", object), |_, answer| {
        assert_eq!(answer["accepted"], false);
        assert!(
            message(answer).contains(
                "spec.replicas is not a DaemonSet field (in the last-applied-configuration annotation)"
            ),
            "{}",
            message(answer)
        );
    });
}

/// A Service of about 3 MiB (`ports` and unknown fields) with one boolean
/// selector value: mutated, and the host's patch touches only that value.
#[test]
fn a_3_mib_object() {
    let ports: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("port-{i}"), "port": i, "protocol": "TCP", "note": "x".repeat(100)}))
        .collect();
    let object = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "big", "annotations": {"blob": "b".repeat(MIB)}},
        "spec": {"selector": {"app": "web", "active": true}, "ports": ports},
    });
    let size = object.to_string().len();
    assert!(size >= 3 * MIB, "only {size} bytes");
    both(
        "3 MiB Service",
        request("", "Service", object),
        |request, answer| {
            assert_eq!(answer["accepted"], true, "{}", message(answer));
            let patch = serde_json::to_value(json_patch::diff(
                &request["object"],
                &answer["mutated_object"],
            ))
            .unwrap();
            assert_eq!(
                patch,
                json!([{"op": "replace", "path": "/spec/selector/active", "value": "true"}])
            );
        },
    );
}

/// A valid DaemonSet of about 3 MiB (a large env list): accepted untouched.
#[test]
fn a_3_mib_daemonset() {
    let env: Vec<Value> = (0..25_000)
        .map(|i| json!({"name": format!("VAR_{i}"), "value": "v".repeat(100)}))
        .collect();
    let object = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "big", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "agent", "image": "agent:1", "env": env}]},
            },
        },
    });
    assert!(object.to_string().len() >= 3 * MIB);
    both(
        "3 MiB DaemonSet",
        request("apps", "DaemonSet", object),
        |_, answer| {
            assert_eq!(
                answer,
                &json!({"accepted": true, "message": null, "code": null, "mutated_object": null,
                    "audit_annotations": null, "warnings": null})
            );
        },
    );
}

fn nested(depth: usize) -> Value {
    let mut value = json!("bottom");
    for _ in 0..depth {
        value = Value::Array(vec![value]);
    }
    value
}

/// Past serde_json's recursion limit, sent as a JSON value (natively and
/// through wasm). In a part no rule reads it is skipped: the answer is the
/// one for the same object with that part shallow. In `spec.selector`, which
/// the rules read, the object cannot be decoded, and the rejection says so.
#[test]
fn nesting_past_the_recursion_limit() {
    let daemonset = |deep: Value, selector: Value| {
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
               "metadata": {"name": "deep"},
               "spec": {"deep": deep, "replicas": 2, "selector": selector,
                        "template": {"metadata": {"labels": {"app": "a"}}}}})
    };
    let app = json!({"matchLabels": {"app": "a"}});
    let shallow = native_request(&request(
        "apps",
        "DaemonSet",
        daemonset(json!("bottom"), app.clone()),
    ));
    assert_eq!(shallow["accepted"], false);
    assert!(message(&shallow).contains("spec.replicas is not a DaemonSet field"));
    for depth in [129, 200, 1_000] {
        both(
            "deep in a skipped part",
            request("apps", "DaemonSet", daemonset(nested(depth), app.clone())),
            |_, answer| {
                assert_eq!(answer["accepted"], shallow["accepted"]);
                assert_eq!(answer["message"], shallow["message"]);
            },
        );
        both(
            "deep in spec.selector",
            request(
                "apps",
                "DaemonSet",
                daemonset(json!("bottom"), nested(depth)),
            ),
            |_, answer| {
                assert_eq!(answer["accepted"], false);
                assert!(
                    message(answer).contains("cannot decode the validation request")
                        && message(answer).contains("recursion limit exceeded"),
                    "{}",
                    message(answer)
                );
            },
        );
    }
}

/// 1,000,000 levels as raw bytes (natively: the host only sends JSON values,
/// whose own serializer recurses), no stack overflow: a Service's selector
/// is read entry by entry, so it is reported as a list; a DaemonSet's is
/// built, and the build stops at the recursion limit.
#[test]
fn nesting_a_million_deep_natively() {
    let depth = 1_000_000;
    let payload = |kind: &str, group: &str| {
        format!(
            r#"{{"request": {{"kind": {{"group": "{group}", "version": "v1", "kind": "{kind}"}}, "operation": "CREATE", "object": {{"spec": {{"selector": {}1{}}}}}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let service = payload("Service", "");
    let answer = guarded("a million levels (Service)", move || {
        native(service.as_bytes())
    });
    assert_eq!(answer["accepted"], false);
    assert_eq!(
        message(&answer),
        "Service (unnamed): spec.selector must be a map of label keys to string values, not a list [serviceSelectorValues]"
    );
    let daemonset = payload("DaemonSet", "apps");
    let answer = guarded("a million levels (DaemonSet)", move || {
        native(daemonset.as_bytes())
    });
    assert_eq!(answer["accepted"], false);
    assert!(
        message(&answer).contains("recursion limit exceeded"),
        "{}",
        message(&answer)
    );
}

/// A last-applied annotation nested 100,000 deep: the envelope decodes (the
/// annotation is a string); the annotation's spec values are skipped
/// without recursion, so its `replicas` key is still found.
#[test]
fn deep_nesting_inside_the_annotation() {
    let depth = 100_000;
    let annotation = format!(
        r#"{{"spec": {{"replicas": {}1{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    annotation_names_replicas("deep annotation", "deep", annotation);
}

/// 10,000 boolean selector values: all converted, one `replace` op each;
/// ten per-value warnings and one summary for the rest.
#[test]
fn ten_thousand_service_selector_keys() {
    let selector: Map<String, Value> = (0..10_000)
        .map(|i| (format!("key-{i}"), json!(i % 2 == 0)))
        .collect();
    let object = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "wide"},
                        "spec": {"selector": selector}});
    both(
        "10,000 Service selector keys",
        request("", "Service", object),
        |request, answer| {
            assert_eq!(answer["accepted"], true, "{}", message(answer));
            let warnings = answer["warnings"].as_array().cloned().unwrap_or_default();
            assert_eq!(warnings.len(), MAX_VALUE_WARNINGS + 1);
            assert!(
                warnings[MAX_VALUE_WARNINGS].as_str().is_some_and(|w| w
                    .contains("9990 more non-string values in spec.selector were made strings")),
                "{warnings:?}"
            );
            let mutated = &answer["mutated_object"]["spec"]["selector"];
            assert_eq!(mutated["key-0"], "true");
            assert_eq!(mutated["key-9999"], "false");
            let patch = json_patch::diff(&request["object"], &answer["mutated_object"]);
            assert_eq!(patch.0.len(), 10_000);
        },
    );
}

/// A Deployment whose selector and template carry 10,000 labels: accepted
/// when they match, rejected naming the missing key when one is absent.
#[test]
fn ten_thousand_match_labels() {
    let labels: Map<String, Value> = (0..10_000)
        .map(|i| (format!("example.com/key-{i}"), json!(format!("value-{i}"))))
        .collect();
    let deployment = |template_labels: &Map<String, Value>| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "wide"},
               "spec": {"selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": template_labels}}}})
    };
    both(
        "10,000 matchLabels, matching",
        request("apps", "Deployment", deployment(&labels)),
        |_, answer| assert_eq!(answer["accepted"], true, "{}", message(answer)),
    );
    let mut missing = labels.clone();
    missing.remove("example.com/key-5000");
    both(
        "10,000 matchLabels, one missing",
        request("apps", "Deployment", deployment(&missing)),
        |_, answer| {
            assert_eq!(answer["accepted"], false);
            assert!(
                message(answer).contains("example.com/key-5000"),
                "{}",
                message(answer)
            );
        },
    );
}

/// A last-applied annotation holding 1 MiB of JSON (a manifest with
/// `replicas` and a large ConfigMap-like payload): read, and `replicas`
/// reported from it.
#[test]
fn one_mib_annotation() {
    let manifest = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "big"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"},
                                      "annotations": {"blob": "z".repeat(MIB)}}},
        },
    });
    let annotation = manifest.to_string();
    assert!(annotation.len() >= MIB);
    annotation_names_replicas("1 MiB annotation", "big", annotation);
}
