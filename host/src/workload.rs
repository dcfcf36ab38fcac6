//! The benchmark requests, shared by `cargo xtask bench --suite` (through
//! wasm) and the native criterion benches (`benches/validate.rs`), so both
//! time the same bytes. Read from the repository's `test_data/requests`
//! (found from this crate's manifest directory) and generated in code.
//!
//! - [`fixtures`]: issue 6's seven requests and issue 12's
//!   ReplicationController, one per path through the policy (reject,
//!   accept, mutate, a Pod). Seven are committed fixtures; the DaemonSet
//!   with `matchExpressions` is derived in code from `daemonset-valid.json`.
//! - [`scaling_families`]: correct DaemonSets of about 10 KiB, 100 KiB and 1 MiB (many
//!   containers and labels) and string-only Services with 10, 1,000 and
//!   10,000 selector keys, generated in code. All are accepted.
//!
//! Every request carries the verdict it must get ([`Verdict`]); the benches
//! check it before timing, so a path that changes is noticed, not timed.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};
use std::path::PathBuf;

use crate::host::admission_request;

/// What the policy must answer to a benchmark request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject,
    Mutate,
}

impl Verdict {
    /// The verdict of a `validate` answer (a ValidationResponse as JSON).
    pub fn of(answer: &Value) -> Verdict {
        let accepted = answer.get("accepted").and_then(Value::as_bool) == Some(true);
        let mutated = answer
            .get("mutated_object")
            .is_some_and(|object| !object.is_null());
        match (accepted, mutated) {
            (false, _) => Verdict::Reject,
            (true, true) => Verdict::Mutate,
            (true, false) => Verdict::Accept,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Reject => "reject",
            Verdict::Mutate => "mutate",
        }
    }

    /// The budget: time relative to the floor. Accepting costs little more
    /// than parsing; a message or a mutated object may cost more, but never
    /// a second parse.
    pub fn budget(self) -> f64 {
        match self {
            Verdict::Accept => 1.20,
            Verdict::Reject | Verdict::Mutate => 1.60,
        }
    }
}

/// One benchmark request.
pub struct BenchRequest {
    /// A short name for tables: the fixture's file stem, or what was generated.
    pub name: String,
    /// The AdmissionRequest, as kwctl sends it.
    pub request: Value,
    /// What the policy must answer with default settings.
    pub verdict: Verdict,
}

impl BenchRequest {
    fn new(name: impl Into<String>, request: Value, verdict: Verdict) -> BenchRequest {
        BenchRequest {
            name: name.into(),
            request,
            verdict,
        }
    }

    /// The waPC `validate` payload: `{"request": ..., "settings": ...}`,
    /// serialized as the host serializes it.
    pub fn payload(&self, settings: &Value) -> Vec<u8> {
        let payload = json!({ "request": &self.request, "settings": settings });
        // A Value with string keys always serializes.
        serde_json::to_vec(&payload).unwrap_or_default()
    }
}

/// `test_data/requests`, found from this crate's manifest directory so that
/// benches run from any working directory.
pub fn requests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test_data/requests")
}

/// Reads a committed request (a bare AdmissionRequest or an AdmissionReview).
pub fn load(name: &str) -> Result<Value> {
    let path = requests_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read request {}", path.display()))?;
    let input: Value = serde_json::from_str(&text)
        .with_context(|| format!("request {} is not JSON", path.display()))?;
    admission_request(&input).with_context(|| format!("request {}", path.display()))
}

/// The seven requests of issue 6, in its order, and the ReplicationController
/// of issue 12 whose annotation, template label and nodeSelector are made
/// strings.
pub fn fixtures() -> Result<Vec<BenchRequest>> {
    let valid = load("daemonset-valid")?;
    Ok(vec![
        BenchRequest::new(
            "daemonset-from-deployment",
            load("daemonset-from-deployment")?,
            Verdict::Reject,
        ),
        BenchRequest::new(
            "daemonset-match-expressions",
            daemonset_with_match_expressions(&valid)?,
            Verdict::Accept,
        ),
        BenchRequest::new("daemonset-valid", valid, Verdict::Accept),
        BenchRequest::new(
            "daemonset-last-applied",
            load("daemonset-last-applied")?,
            Verdict::Reject,
        ),
        BenchRequest::new("service-yaml11", load("service-yaml11")?, Verdict::Mutate),
        BenchRequest::new("service-strings", load("service-strings")?, Verdict::Accept),
        BenchRequest::new("pod", load("pod")?, Verdict::Accept),
        BenchRequest::new(
            "replicationcontroller-echo",
            load("replicationcontroller-echo")?,
            Verdict::Mutate,
        ),
    ])
}

/// `daemonset-valid.json` with its selector written as `matchExpressions`
/// that the template's `app` label satisfies: `In`, `NotIn` on a key the
/// template lacks, and `Exists`.
pub fn daemonset_with_match_expressions(valid: &Value) -> Result<Value> {
    let mut request = valid.clone();
    let Some(selector) = request.pointer_mut("/object/spec/selector") else {
        bail!("daemonset-valid.json has no object.spec.selector");
    };
    let app = selector
        .pointer("/matchLabels/app")
        .cloned()
        .context("daemonset-valid.json has no selector label `app`")?;
    *selector = json!({
        "matchExpressions": [
            {"key": "app", "operator": "In", "values": [app, "node-exporter-canary"]},
            {"key": "tier", "operator": "NotIn", "values": ["debug"]},
            {"key": "app", "operator": "Exists"}
        ]
    });
    Ok(request)
}

/// Target sizes (payload bytes) of the generated DaemonSets.
pub const DAEMONSET_SIZES: [usize; 3] = [10 << 10, 100 << 10, 1 << 20];
/// Selector key counts of the generated Services.
pub const SERVICE_KEYS: [usize; 3] = [10, 1_000, 10_000];

/// The scaling requests by family, smallest first: `daemonset` by size,
/// `service` by selector key count.
pub fn scaling_families() -> Vec<(&'static str, Vec<BenchRequest>)> {
    let daemonsets = DAEMONSET_SIZES
        .iter()
        .map(|&size| {
            BenchRequest::new(
                format!("daemonset-{}KiB", size >> 10),
                daemonset_of_size(size),
                Verdict::Accept,
            )
        })
        .collect();
    let services = SERVICE_KEYS
        .iter()
        .map(|&keys| {
            BenchRequest::new(
                format!("service-{keys}-keys"),
                service_with_keys(keys),
                Verdict::Accept,
            )
        })
        .collect();
    vec![("daemonset", daemonsets), ("service", services)]
}

/// A CREATE AdmissionRequest for `object`, shaped like the fixtures.
fn admission(group: &str, kind: &str, resource: &str, object: Value) -> Value {
    let version = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/v1")
    };
    let name = object.pointer("/metadata/name").cloned();
    let namespace = object.pointer("/metadata/namespace").cloned();
    let mut object = object;
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(version));
        map.insert("kind".into(), Value::String(kind.into()));
    }
    json!({
        "uid": "0c5d1c4e-6b1e-4a57-9a59-2f4a0e7e1b00",
        "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": resource},
        "requestKind": {"group": group, "version": "v1", "kind": kind},
        "requestResource": {"group": group, "version": "v1", "resource": resource},
        "name": name,
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": object,
        "oldObject": null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    })
}

/// A correct DaemonSet with `units` sidecar containers; each unit also adds
/// a template label, and every eighth unit a selector label (which the
/// template carries).
fn daemonset_with_units(units: usize) -> Value {
    let mut match_labels = Map::new();
    let mut template_labels = Map::new();
    match_labels.insert("app".into(), json!("agent"));
    template_labels.insert("app".into(), json!("agent"));
    let mut containers = vec![json!({
        "name": "agent",
        "image": "registry.example.com/platform/agent:v2.4.1",
        "ports": [{"containerPort": 9100, "name": "metrics"}]
    })];
    for i in 0..units {
        let key = format!("sidecars.example.com/sidecar-{i}");
        let value = json!(format!("enabled-{i}"));
        if i % 8 == 0 {
            match_labels.insert(key.clone(), value.clone());
        }
        template_labels.insert(key, value);
        containers.push(json!({
            "name": format!("sidecar-{i}"),
            "image": format!("registry.example.com/platform/sidecar-{i}:v1.2.{i}"),
            "args": [format!("--port={}", 10_000 + i), "--log-level=info"],
            "env": [
                {"name": "INSTANCE", "value": i.to_string()},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ],
            "ports": [{"containerPort": 10_000 + i, "name": format!("sidecar-{i}")}],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}}
        }));
    }
    let object = json!({
        "metadata": {"name": "agent", "namespace": "platform", "labels": {"app": "agent"}},
        "spec": {
            "selector": {"matchLabels": match_labels},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {"containers": containers, "tolerations": [{"operator": "Exists"}]}
            },
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
        }
    });
    admission("apps", "DaemonSet", "daemonsets", object)
}

/// A correct DaemonSet whose payload is about `bytes` long (within one
/// container's size, about 0.5 KiB).
pub fn daemonset_of_size(bytes: usize) -> Value {
    let size = |units| payload_len(&daemonset_with_units(units));
    let (base, sixteen) = (size(0), size(16));
    let per_unit = (sixteen.saturating_sub(base) / 16).max(1);
    daemonset_with_units(bytes.saturating_sub(base) / per_unit)
}

/// A Service whose selector has `keys` string-valued keys.
pub fn service_with_keys(keys: usize) -> Value {
    let selector: Map<String, Value> = (0..keys)
        .map(|i| {
            (
                format!("selectors.example.com/key-{i}"),
                json!(format!("value-{i}")),
            )
        })
        .collect();
    let object = json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": selector,
            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
            "type": "ClusterIP"
        }
    });
    admission("", "Service", "services", object)
}

fn payload_len(request: &Value) -> usize {
    BenchRequest::new("", request.clone(), Verdict::Accept)
        .payload(&json!({}))
        .len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_daemonsets_have_about_the_asked_size() {
        for size in [10 << 10, 100 << 10] {
            let len = payload_len(&daemonset_of_size(size)) as f64;
            assert!((len / size as f64 - 1.0).abs() < 0.05, "{size}: {len}");
        }
    }

    #[test]
    fn generated_services_have_the_asked_keys() {
        let service = service_with_keys(1_000);
        let selector = service.pointer("/object/spec/selector").expect("selector");
        assert_eq!(selector.as_object().map(Map::len), Some(1_000));
    }

    #[test]
    fn fixtures_load() {
        let fixtures = fixtures().expect("fixtures");
        assert_eq!(fixtures.len(), 8);
        let expressions = &fixtures[1].request;
        assert!(
            expressions
                .pointer("/object/spec/selector/matchExpressions")
                .is_some()
        );
    }
}
