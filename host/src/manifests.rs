//! Manifests to AdmissionRequests, as `selector-guard scaffold` (and
//! `cargo xtask scaffold`) build them: the requests the API server would
//! send for them.
//!
//! - Input: YAML (read by YAML 1.1 rules, as kubectl reads it: see
//!   [`crate::yaml11`]) or JSON, one or several documents. Empty documents
//!   are skipped and `kind: ...List` documents are flattened, as kubectl does.
//! - `object` (and `oldObject`) is exactly what `kubectl ... -o json` shows
//!   for the manifest: nothing is added or defaulted.
//! - Output: one document gives one pretty-printed AdmissionRequest; several
//!   give a JSON array of them, in document order. Keys are sorted, as in
//!   kubectl's JSON.
//! - The request is the one a `kubectl apply` (client-side) would produce:
//!   `kind`/`requestKind` from `apiVersion` and `kind`; `resource`/
//!   `requestResource` with the lower-case plural kubectl guesses;
//!   `namespace` from the manifest, `default` for a namespaced kind without
//!   one, absent for a cluster-scoped kind; `dryRun: false`; `options` the
//!   Create/Update/DeleteOptions kubectl sends; user `kubernetes-admin`.
//!   DELETE has `object: null` and the manifest as `oldObject`; CREATE has
//!   `oldObject: null`.
//! - `uid` is derived from the request's content, so regenerating a fixture
//!   is byte-identical.

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::path::Path;

use crate::yaml11;

/// The admission operation of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum), value(rename_all = "UPPER"))]
pub enum Operation {
    /// A new object (`kubectl create`, a first `kubectl apply`).
    Create,
    /// A change to an object; the request carries the old object too.
    Update,
    /// The object is deleted; the request carries it as `oldObject`.
    Delete,
}

impl Operation {
    /// The operation as AdmissionRequests spell it (`CREATE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// The Kubernetes objects in a YAML or JSON file (see the module doc).
pub fn read_manifests(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_manifests(&text).with_context(|| format!("{}", path.display()))
}

/// The Kubernetes objects in YAML or JSON text.
pub fn parse_manifests(text: &str) -> Result<Vec<Value>> {
    let docs = if text.trim_start().starts_with('{') {
        // kubectl decodes a stream that starts with `{` as JSON.
        serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .map(|doc| doc.map(normalize_json_numbers).context("invalid JSON"))
            .collect::<Result<Vec<_>>>()?
    } else {
        yaml11::from_str(text)?
    };
    let mut objects = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        match doc {
            Value::Null => {}
            Value::Object(ref map) if is_list(map) => {
                if let Some(Value::Array(items)) = map.get("items") {
                    for item in items {
                        check_object(item)
                            .with_context(|| format!("document {}: list item", i + 1))?;
                        objects.push(item.clone());
                    }
                }
            }
            doc => {
                check_object(&doc).with_context(|| format!("document {}", i + 1))?;
                objects.push(doc);
            }
        }
    }
    Ok(objects)
}

fn is_list(map: &serde_json::Map<String, Value>) -> bool {
    map.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && map.get("items").is_some()
}

fn check_object(doc: &Value) -> Result<()> {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ensure!(
        !kind.is_empty() && !api_version.is_empty(),
        "not a Kubernetes object: `apiVersion` and `kind` must be non-empty strings"
    );
    Ok(())
}

/// JSON numbers as kubectl re-prints them (see [`yaml11::kubectl_number`]).
fn normalize_json_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => n
            .as_f64()
            .and_then(yaml11::kubectl_number)
            .unwrap_or(Value::Number(n)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(normalize_json_numbers).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize_json_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Kinds whose objects live outside namespaces. Any other kind is namespaced.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("networking.k8s.io", "IngressClass"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("policies.kubewarden.io", "ClusterAdmissionPolicy"),
    ("policies.kubewarden.io", "ClusterAdmissionPolicyGroup"),
    ("policies.kubewarden.io", "PolicyServer"),
];

/// Whether objects of `kind` in `api_version` live in a namespace (any
/// kind not known to be cluster-scoped does).
pub fn is_namespaced(api_version: &str, kind: &str) -> bool {
    let group = api_version.split_once('/').map_or("", |(group, _)| group);
    !CLUSTER_SCOPED.iter().any(|&(g, k)| g == group && k == kind)
}

/// The resource name kubectl guesses for a kind (`UnsafeGuessKindToResource`):
/// lower-case, then `s` → `ses`, `y` → `ies`, else `+s`; `Endpoints` stays.
pub fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower == "endpoints" {
        lower
    } else if lower.ends_with('s') {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

/// The AdmissionRequest for `operation` on `object` (`None` for DELETE)
/// with `old_object` (UPDATE, DELETE).
pub fn admission_request(
    operation: Operation,
    object: Option<&Value>,
    old_object: Option<&Value>,
) -> Result<Value> {
    let subject = object
        .or(old_object)
        .context("an admission request needs an object")?;
    check_object(subject)?;
    let api_version = subject["apiVersion"].as_str().unwrap_or_default();
    let kind = subject["kind"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let namespaced = !CLUSTER_SCOPED.iter().any(|&(g, k)| g == group && k == kind);
    let metadata = subject.get("metadata");
    let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str);
    let namespace = metadata
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty());
    let namespace = match (namespaced, namespace) {
        (false, _) => None,
        (true, Some(ns)) => Some(ns),
        (true, None) => Some("default"),
    };
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": plural(kind)});
    let options = match operation {
        Operation::Create => json!({
            "apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions",
            "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"
        }),
        Operation::Update => json!({
            "apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions",
            "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"
        }),
        Operation::Delete => json!({
            "apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions", "propagationPolicy": "Background"
        }),
    };
    let mut request = json!({
        "kind": gvk.clone(),
        "requestKind": gvk,
        "resource": gvr.clone(),
        "requestResource": gvr,
        "operation": operation.as_str(),
        "userInfo": {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]},
        "object": object.cloned().unwrap_or(Value::Null),
        "oldObject": old_object.cloned().unwrap_or(Value::Null),
        "dryRun": false,
        "options": options,
    });
    let uid = {
        let map = request
            .as_object_mut()
            .context("an admission request is a JSON object")?;
        if let Some(name) = name {
            map.insert("name".into(), json!(name));
        }
        if let Some(namespace) = namespace {
            map.insert("namespace".into(), json!(namespace));
        }
        uid_of(&request)
    };
    if let Some(map) = request.as_object_mut() {
        map.insert("uid".into(), json!(uid));
    }
    Ok(request)
}

/// A UUID-shaped id derived from the request (FNV-1a 128 of its JSON),
/// with the RFC 9562 "custom" version 8.
fn uid_of(request: &Value) -> String {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in request.to_string().bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let hash = (hash & !(0xf_u128 << 76) & !(0x3_u128 << 62)) | (0x8_u128 << 76) | (0x2_u128 << 62);
    let hex = format!("{hash:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One request as a pretty JSON object, several as a JSON array; ends with a newline.
pub fn render(requests: &[Value]) -> Result<String> {
    let mut text = match requests {
        [] => bail!("no Kubernetes object found"),
        [one] => serde_json::to_string_pretty(one)?,
        many => serde_json::to_string_pretty(many)?,
    };
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: rng\nspec:\n  selector: {app: rng, active: yes, tier: 42, on: on}\n";

    #[test]
    fn service_selector_is_read_by_yaml_1_1() {
        let objects = parse_manifests(SERVICE).expect("parses");
        assert_eq!(
            objects[0]["spec"]["selector"],
            json!({"active": true, "app": "rng", "tier": 42, "true": true})
        );
    }

    #[test]
    fn create_request_fields() {
        let object = parse_manifests(SERVICE).expect("parses").remove(0);
        let request = admission_request(Operation::Create, Some(&object), None).expect("builds");
        assert_eq!(
            request["kind"],
            json!({"group": "", "version": "v1", "kind": "Service"})
        );
        assert_eq!(
            request["resource"],
            json!({"group": "", "version": "v1", "resource": "services"})
        );
        assert_eq!(request["namespace"], json!("default"));
        assert_eq!(request["name"], json!("rng"));
        assert_eq!(request["oldObject"], Value::Null);
        assert_eq!(request["object"], object);
        assert_eq!(
            request["uid"],
            admission_request(Operation::Create, Some(&object), None).expect("builds")["uid"]
        );
        let uid = request["uid"].as_str().expect("string");
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "8");
    }

    #[test]
    fn delete_and_cluster_scoped() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
        let request = admission_request(Operation::Delete, None, Some(&ns)).expect("builds");
        assert_eq!(request["object"], Value::Null);
        assert_eq!(request["oldObject"], ns);
        assert!(request.get("namespace").is_none());
        assert_eq!(request["resource"]["resource"], json!("namespaces"));
    }

    #[test]
    fn plurals_follow_kubectl() {
        assert_eq!(plural("DaemonSet"), "daemonsets");
        assert_eq!(plural("Ingress"), "ingresses");
        assert_eq!(plural("NetworkPolicy"), "networkpolicies");
        assert_eq!(plural("Endpoints"), "endpoints");
    }

    #[test]
    fn lists_and_empty_documents() {
        let text = "---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n";
        assert_eq!(parse_manifests(text).expect("parses").len(), 2);
        assert!(parse_manifests("a: 1\n").is_err());
        let json = "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"x\": 1.0, \"y\": \"yes\"}";
        assert_eq!(parse_manifests(json).expect("parses")[0]["x"], json!(1));
    }
}
