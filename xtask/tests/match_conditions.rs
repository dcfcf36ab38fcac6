//! The `matchConditions` of `examples/cluster-admission-policy.yaml` (what
//! `cargo xtask manifest` writes) evaluated with a CEL library (cel-rust)
//! against every row of the case table, as the API server would before
//! calling policy-server: a request reaches the policy only when all of them
//! are true. Every row whose expected verdict is a rejection, a warning or a
//! patch (a rule acts) must get `true` from each; every row the policy is
//! registered for must get a boolean (an error would hand the request to the
//! failurePolicy). Hand-made UPDATEs show which requests the conditions
//! keep away from policy-server, and that the check fails, naming the row
//! and the condition, when a condition hides a request a rule acts on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

const POD: &str = "pod-update-changes-what-rules-read";
const SERVICE: &str = "service-update-changes-what-rules-read";
const WORKLOAD: &str = "workload-update-changes-what-rules-read";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example ClusterAdmissionPolicy, read as kubectl reads it (YAML 1.1).
fn policy() -> Value {
    let path = root().join("examples/cluster-admission-policy.yaml");
    let text = std::fs::read_to_string(&path).expect("read the example");
    let mut documents = xtask::yaml11::from_str(&text).expect("the example is YAML");
    assert_eq!(documents.len(), 1, "the example holds one document");
    documents.remove(0)
}

/// One match condition, compiled.
struct Condition {
    name: String,
    program: cel::Program,
}

fn conditions(policy: &Value) -> Vec<Condition> {
    policy["spec"]["matchConditions"]
        .as_array()
        .expect("spec.matchConditions is a list")
        .iter()
        .map(|condition| {
            let name = condition["name"].as_str().expect("a name").to_string();
            let expression = condition["expression"].as_str().expect("an expression");
            let program = cel::Program::compile(expression)
                .unwrap_or_else(|e| panic!("{name}: does not compile: {e:?}"));
            Condition { name, program }
        })
        .collect()
}

/// What each condition gives for `request` (an AdmissionRequest), with the
/// variables the API server binds: `object` (null on DELETE), `oldObject`
/// (null on CREATE) and `request`.
fn evaluate(conditions: &[Condition], request: &Value) -> Vec<(String, Result<bool, String>)> {
    let mut context = cel::Context::default();
    for (variable, value) in [
        ("object", &request["object"]),
        ("oldObject", &request["oldObject"]),
        ("request", request),
    ] {
        context
            .add_variable(variable, cel::to_value(value).expect("JSON is a CEL value"))
            .expect("a variable");
    }
    conditions
        .iter()
        .map(|condition| {
            let result = match condition.program.execute(&context) {
                Ok(cel::Value::Bool(b)) => Ok(b),
                Ok(other) => Err(format!("not a bool: {other:?}")),
                Err(e) => Err(format!("{e:?}")),
            };
            (condition.name.clone(), result)
        })
        .collect()
}

/// Whether one of the policy's `spec.rules` matches the request's group,
/// resource and operation: only those requests reach the conditions.
fn registered(policy: &Value, request: &Value) -> bool {
    let has = |list: &Value, item: &Value| {
        list.as_array()
            .is_some_and(|items| items.iter().any(|i| i == item || i == "*"))
    };
    policy["spec"]["rules"]
        .as_array()
        .expect("spec.rules")
        .iter()
        .any(|rule| {
            has(&rule["apiGroups"], &request["resource"]["group"])
                && has(&rule["resources"], &request["resource"]["resource"])
                && has(&rule["operations"], &request["operation"])
        })
}

/// A row of `tests/cases.yaml`, as far as this test reads it.
#[derive(Deserialize)]
struct CaseRow {
    name: String,
    request: PathBuf,
    allowed: bool,
    #[serde(default)]
    warnings: Vec<String>,
    patch: Value,
}

/// A request and whether a rule acts on it.
struct Row {
    name: String,
    request: Value,
    acts: bool,
}

fn read_request(path: &Path) -> Value {
    let text = std::fs::read_to_string(root().join(path))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The case table: a rule acts on a row whose verdict is a rejection, a
/// warning or a patch.
fn case_rows() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("tests/cases.yaml")).expect("read the table");
    let rows: Vec<CaseRow> = serde_yaml_ng::from_str(&text).expect("tests/cases.yaml parses");
    rows.into_iter()
        .map(|row| Row {
            acts: !row.allowed || !row.warnings.is_empty() || row.patch != json!("none"),
            request: read_request(&row.request),
            name: row.name,
        })
        .collect()
}

/// Every row a condition would keep from the policy although a rule acts on
/// it, and every registered row a condition cannot evaluate, named.
fn failures(policy: &Value, conditions: &[Condition], rows: &[Row]) -> Vec<String> {
    let mut failures = Vec::new();
    for row in rows {
        let registered = registered(policy, &row.request);
        for (condition, result) in evaluate(conditions, &row.request) {
            match result {
                Ok(true) => {}
                Ok(false) if row.acts => failures.push(format!(
                    "{}: condition {condition} is false, so the API server would not send it, but a rule acts on it",
                    row.name
                )),
                Ok(false) => {}
                Err(error) if registered || row.acts => failures.push(format!(
                    "{}: condition {condition} does not evaluate ({error}): the failurePolicy would decide",
                    row.name
                )),
                Err(_) => {}
            }
        }
    }
    failures
}

#[test]
fn every_case_a_rule_acts_on_reaches_the_policy() {
    let policy = policy();
    let conditions = conditions(&policy);
    assert!(!conditions.is_empty(), "the example has no matchConditions");
    let rows = case_rows();
    let failures = failures(&policy, &conditions, &rows);
    assert!(
        failures.is_empty(),
        "{} failures over {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    // Not vacuous: the table has UPDATEs a rule acts on, of each kind a
    // condition filters.
    for resource in ["pods", "services", "deployments", "daemonsets"] {
        assert!(
            rows.iter().any(|row| row.acts
                && row.request["operation"] == "UPDATE"
                && row.request["resource"]["resource"] == resource),
            "no UPDATE of {resource} that a rule acts on in the table"
        );
    }
}

/// `file` (in test_data/requests) as an UPDATE whose old object is `old`
/// and whose object is `new`, each made from the file's object.
fn update(file: &str, old: impl Fn(&mut Value), new: impl Fn(&mut Value)) -> Value {
    let mut request = read_request(Path::new(&format!("test_data/requests/{file}")));
    let object = request["object"].clone();
    let (mut before, mut after) = (object.clone(), object);
    old(&mut before);
    new(&mut after);
    request["operation"] = json!("UPDATE");
    request["oldObject"] = before;
    request["object"] = after;
    request
}

fn unchanged(_: &mut Value) {}

/// A ReplicaSet its Deployment owns, with `replicas`.
fn owned_replicaset(replicas: Option<u64>) -> impl Fn(&mut Value) {
    move |object: &mut Value| {
        object["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment",
            "name": "web", "uid": "d-1", "controller": true, "blockOwnerDeletion": true}]);
        if let Some(replicas) = replicas {
            object["spec"]["replicas"] = json!(replicas);
        }
    }
}

/// Hand-made UPDATEs, each with the conditions that must be false for it
/// (all others true).
fn hand_rows() -> Vec<(&'static str, Value, Vec<&'static str>)> {
    let pod = "pod-app-label-removed.json";
    // The Pod with its old labels: the label edit undone.
    let same_labels = |object: &mut Value| {
        object["metadata"]["labels"] = json!({"app": "rng", "pod-template-hash": "54f57d4d49"});
    };
    let service = "service-selector-swap.json";
    let daemonset = "daemonset-valid.json";
    vec![
        (
            "a Pod UPDATE that changes only an image",
            update(pod, same_labels, |o| {
                same_labels(o);
                o["spec"]["containers"][0]["image"] = json!("dockercoins/rng:v0.2");
            }),
            vec![POD],
        ),
        (
            "a Pod UPDATE that adds a finalizer",
            update(pod, same_labels, |o| {
                same_labels(o);
                o["metadata"]["finalizers"] = json!(["example.com/keep"]);
            }),
            vec![POD],
        ),
        (
            "a Pod UPDATE that changes a label",
            update(pod, same_labels, unchanged),
            vec![],
        ),
        (
            "a Pod UPDATE that adds an annotation",
            update(pod, same_labels, |o| {
                same_labels(o);
                o["metadata"]["annotations"] = json!({"team": "a"});
            }),
            vec![],
        ),
        (
            "a Pod UPDATE that adds a nodeSelector",
            update(pod, same_labels, |o| {
                same_labels(o);
                o["spec"]["nodeSelector"] = json!({"disk": "ssd"});
            }),
            vec![],
        ),
        (
            "a Pod UPDATE that releases it from its ReplicaSet",
            update(pod, same_labels, |o| {
                same_labels(o);
                o["metadata"]
                    .as_object_mut()
                    .expect("metadata")
                    .remove("ownerReferences");
            }),
            vec![],
        ),
        (
            "a Service UPDATE that changes only its ports",
            update(service, unchanged, |o| {
                o["spec"]["ports"][0]["port"] = json!(8080);
            }),
            vec![SERVICE],
        ),
        (
            "a Service UPDATE that changes only its type",
            update(service, unchanged, |o| {
                o["spec"]["type"] = json!("NodePort");
            }),
            vec![],
        ),
        (
            "a Service UPDATE that makes it headless",
            update(service, unchanged, |o| {
                o["spec"]["clusterIP"] = json!("None");
            }),
            vec![],
        ),
        (
            "a Service UPDATE that drops its selector",
            update(service, unchanged, |o| {
                o["spec"].as_object_mut().expect("spec").remove("selector");
            }),
            vec![],
        ),
        (
            "a ReplicaSet UPDATE by which its Deployment scales it",
            update(
                "replicaset-exists-with-values.json",
                owned_replicaset(Some(1)),
                owned_replicaset(Some(3)),
            ),
            vec![WORKLOAD],
        ),
        (
            "a ReplicaSet UPDATE that gives it replicas where it had none",
            update(
                "replicaset-exists-with-values.json",
                owned_replicaset(None),
                owned_replicaset(Some(3)),
            ),
            vec![],
        ),
        (
            "a ReplicaSet UPDATE that orphans it",
            update(
                "replicaset-exists-with-values.json",
                owned_replicaset(Some(1)),
                |o| {
                    o["spec"]["replicas"] = json!(1);
                },
            ),
            vec![],
        ),
        (
            "a DaemonSet UPDATE that only adds a finalizer",
            update(daemonset, unchanged, |o| {
                o["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
            }),
            vec![WORKLOAD],
        ),
        (
            "a DaemonSet UPDATE that changes its template's image",
            update(daemonset, unchanged, |o| {
                o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("example/agent:2");
            }),
            vec![],
        ),
        (
            "a DaemonSet UPDATE that changes its last-applied annotation",
            update(daemonset, unchanged, |o| {
                o["metadata"]["annotations"] = json!({
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"spec\":{\"replicas\":3}}"
                });
            }),
            vec![],
        ),
        (
            "a DaemonSet UPDATE that changes a label",
            update(daemonset, unchanged, |o| {
                o["metadata"]["labels"] = json!({"tier": "node"});
            }),
            vec![],
        ),
    ]
}

#[test]
fn updates_that_change_nothing_a_rule_reads_are_not_sent() {
    let policy = policy();
    let conditions = conditions(&policy);
    let mut wrong = Vec::new();
    for (name, request, false_ones) in hand_rows() {
        assert!(registered(&policy, &request), "{name}: not registered");
        for (condition, result) in evaluate(&conditions, &request) {
            let expected = !false_ones.contains(&condition.as_str());
            if result != Ok(expected) {
                wrong.push(format!(
                    "{name}: {condition} gave {result:?}, expected {expected}"
                ));
            }
        }
        for condition in false_ones {
            assert!(
                conditions.iter().any(|c| c.name == condition),
                "no condition named {condition}"
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Kinds no condition names pass every condition, whatever changed or not:
/// a rule added for a new kind is never hidden.
#[test]
fn other_kinds_and_every_create_pass() {
    let policy = policy();
    let conditions = conditions(&policy);
    let budget = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 1}});
    let mut requests = vec![json!({
        "operation": "UPDATE",
        "kind": {"group": "policy", "version": "v1", "kind": "PodDisruptionBudget"},
        "resource": {"group": "policy", "version": "v1", "resource": "poddisruptionbudgets"},
        "object": budget, "oldObject": budget,
    })];
    for (_, request, _) in hand_rows() {
        let mut create = request.clone();
        create["operation"] = json!("CREATE");
        create["oldObject"] = Value::Null;
        requests.push(create);
    }
    for request in requests {
        for (condition, result) in evaluate(&conditions, &request) {
            assert_eq!(
                result,
                Ok(true),
                "{condition} on {} {}",
                request["operation"],
                request["resource"]["resource"]
            );
        }
    }
}

/// The check can fail: a row a rule acted on, whose request a condition
/// keeps from the policy, is reported with the row's and the condition's
/// names.
#[test]
fn a_condition_that_hides_an_acting_row_fails_the_check() {
    let policy = policy();
    let conditions = conditions(&policy);
    let (name, request, _) = hand_rows()
        .into_iter()
        .find(|(name, _, _)| *name == "a Pod UPDATE that changes only an image")
        .expect("the row");
    let row = Row {
        name: format!("{name} (as if a rule acted on it)"),
        request,
        acts: true,
    };
    let reported = failures(&policy, &conditions, &[row]);
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(
        reported[0].starts_with("a Pod UPDATE that changes only an image (as if a rule acted on it): condition pod-update-changes-what-rules-read is false"),
        "{reported:?}"
    );
    // And a registered request a condition cannot evaluate is reported too.
    let broken = Row {
        name: "a Service UPDATE whose spec is a string".into(),
        request: update("service-selector-swap.json", unchanged, |o| {
            o["spec"] = json!("broken");
        }),
        acts: false,
    };
    let reported = failures(&policy, &conditions, &[broken]);
    assert!(
        reported
            .iter()
            .any(|f| f.contains(SERVICE) && f.contains("does not evaluate")),
        "{reported:?}"
    );
}

/// What the API server accepts: at most 64 conditions, unique names, each a
/// qualified name of at most 63 characters.
#[test]
fn the_conditions_are_what_kubernetes_accepts() {
    let policy = policy();
    let conditions = policy["spec"]["matchConditions"]
        .as_array()
        .expect("a list");
    assert!(!conditions.is_empty() && conditions.len() <= 64);
    let mut names = std::collections::BTreeSet::new();
    for condition in conditions {
        let name = condition["name"].as_str().expect("a name");
        assert!(names.insert(name), "{name} twice");
        let bytes = name.as_bytes();
        assert!(
            (1..=63).contains(&bytes.len())
                && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
                && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b)),
            "{name} is not a qualified name"
        );
        assert!(
            !condition["expression"]
                .as_str()
                .expect("an expression")
                .trim()
                .is_empty()
        );
    }
}
