//! The admission types as kwctl and policy-server put them on the wire.
//!
//! - [`admission_request`] turns what a user hands to `kwctl run` (a bare
//!   AdmissionRequest or a whole AdmissionReview) into the request kwctl
//!   sends to the policy: policy-evaluator deserializes it into its
//!   `AdmissionRequest` struct and serializes it back, so required fields are
//!   checked, unknown top-level fields are dropped, and `null` optional
//!   fields disappear (a DELETE request reaches the policy with no `object`).
//! - [`ValidationResponse`] is what the policy answers (the SDK's struct).
//! - [`AdmissionResponse::from_validation`] is policy-evaluator's
//!   `from_policy_validation_response`: the JSON Patch is
//!   `json_patch::diff(request.object, mutated_object)`, base64-encoded, and
//!   omitted when empty; `status` carries the policy's message and code as
//!   given (a rejection without a code has no `code`); `auditAnnotations` and
//!   `warnings` are always printed, `null` when absent.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// kwctl's message when a policy mutates a DELETE request (it has no object).
pub const MUTATED_DELETE_MESSAGE: &str = "Incoming object is null, which happens only with DELETE operations, but the policy is attempting a mutation. This is not allowed";

/// policy-evaluator's `AdmissionRequest`, field for field and in its order.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest {
    uid: String,
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_kind: Option<GroupVersionKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_resource: Option<GroupVersionResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    operation: String,
    user_info: UserInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Value>,
}

#[derive(Serialize, Deserialize)]
struct GroupVersionKind {
    group: String,
    version: String,
    kind: String,
}

#[derive(Serialize, Deserialize)]
struct GroupVersionResource {
    group: String,
    version: String,
    resource: String,
}

/// k8s-openapi's `authentication/v1` UserInfo.
#[derive(Serialize, Deserialize)]
struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
}

/// The AdmissionRequest kwctl would send for `input` (see the module doc).
/// `input` is a bare AdmissionRequest or an AdmissionReview (`kind:
/// AdmissionReview`, then `.request` is used).
pub fn admission_request(input: &Value) -> Result<Value> {
    let object = input
        .as_object()
        .context("Invalid request object: expected a JSON object")?;
    let request = if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        object
            .get("request")
            .context("invalid AdmissionReview object: it has no `request`")?
    } else {
        input
    };
    let wire: WireRequest = serde_json::from_value(request.clone())
        .map_err(|e| anyhow!("cannot build AdmissionRequest object from given input: {e}"))?;
    Ok(serde_json::to_value(wire)?)
}

/// What a policy answers to `validate` (kubewarden-policy-sdk's
/// `response::ValidationResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    pub mutated_object: Option<Value>,
    pub audit_annotations: Option<BTreeMap<String, String>>,
    pub warnings: Option<Vec<String>>,
}

/// What a policy answers to `validate_settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsValidation {
    pub valid: bool,
    pub message: Option<String>,
}

/// `admission/v1` AdmissionResponse as kwctl prints it (field order included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Base64 of the RFC 6902 JSON Patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionResponseStatus>,
    pub audit_annotations: Option<BTreeMap<String, String>>,
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdmissionResponseStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

impl AdmissionResponse {
    /// policy-evaluator's `from_policy_validation_response` for `request`
    /// (the AdmissionRequest the policy saw) and the policy's answer.
    pub fn from_validation(request: &Value, response: &ValidationResponse) -> Result<Self> {
        let uid = request
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let object = request.get("object").filter(|o| !o.is_null());
        let patch = match (&response.mutated_object, object) {
            (Some(_), None) => {
                return Ok(AdmissionResponse {
                    uid,
                    allowed: false,
                    patch_type: None,
                    patch: None,
                    status: Some(AdmissionResponseStatus {
                        message: Some(MUTATED_DELETE_MESSAGE.to_owned()),
                        code: None,
                    }),
                    audit_annotations: None,
                    warnings: None,
                });
            }
            (Some(mutated), Some(object)) => {
                let diff = json_patch::diff(object, mutated);
                if diff.0.is_empty() {
                    None
                } else {
                    let text =
                        serde_json::to_string(&diff).context("cannot serialize JSONPatch")?;
                    Some(base64::engine::general_purpose::STANDARD.encode(text))
                }
            }
            (None, _) => None,
        };
        let status = (response.message.is_some() || response.code.is_some()).then(|| {
            AdmissionResponseStatus {
                message: response.message.clone(),
                code: response.code,
            }
        });
        Ok(AdmissionResponse {
            uid,
            allowed: response.accepted,
            patch_type: patch.as_ref().map(|_| "JSONPatch".to_owned()),
            patch,
            status,
            audit_annotations: response.audit_annotations.clone(),
            warnings: response.warnings.clone(),
        })
    }

    /// The JSON Patch operations, decoded from `patch` (empty when none).
    pub fn patch_operations(&self) -> Result<json_patch::Patch> {
        let Some(patch) = &self.patch else {
            return Ok(json_patch::Patch(Vec::new()));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .context("patch is not base64")?;
        serde_json::from_slice(&bytes).context("patch is not an RFC 6902 JSON Patch")
    }

    /// `object` with this response's patch applied, or `None` when there is
    /// no patch.
    pub fn mutated(&self, object: &Value) -> Result<Option<Value>> {
        if self.patch.is_none() {
            return Ok(None);
        }
        let mut mutated = object.clone();
        json_patch::patch(&mut mutated, &self.patch_operations()?)
            .context("the patch does not apply to the object")?;
        Ok(Some(mutated))
    }
}

/// Checks that `settings` is what kwctl accepts as policy settings: a map.
pub fn settings_map(settings: &Value) -> Result<()> {
    match settings {
        Value::Object(_) => Ok(()),
        other => bail!("settings must be a map (a JSON object), got {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> Value {
        json!({
            "uid": "u1", "kind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
            "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
            "operation": "CREATE", "userInfo": {"username": "me"}, "unknown": 1,
            "object": {"spec": {"replicas": 1, "template": {}}}, "oldObject": null, "dryRun": false
        })
    }

    #[test]
    fn request_is_normalized_like_policy_evaluator() {
        let got = admission_request(&request()).expect("valid");
        assert!(got.get("unknown").is_none());
        assert!(got.get("oldObject").is_none());
        assert_eq!(got["dryRun"], json!(false));
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request()});
        assert_eq!(admission_request(&review).expect("valid"), got);
        let err = admission_request(&json!({"uid": "x"})).expect_err("incomplete");
        assert!(
            err.to_string()
                .starts_with("cannot build AdmissionRequest object from given input"),
            "{err}"
        );
    }

    #[test]
    fn rejection_keeps_message_and_absent_code() {
        let response = ValidationResponse {
            accepted: false,
            message: Some("no".into()),
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: None,
        };
        let got = AdmissionResponse::from_validation(&request(), &response).expect("builds");
        assert_eq!(
            serde_json::to_string(&got).expect("serializes"),
            r#"{"uid":"u1","allowed":false,"status":{"message":"no"},"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn mutation_becomes_a_base64_patch_that_removes_dropped_fields() {
        let response = ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: Some(json!({"spec": {"template": {}}})),
            audit_annotations: None,
            warnings: Some(vec!["w".into()]),
        };
        let got = AdmissionResponse::from_validation(&request(), &response).expect("builds");
        assert_eq!(got.patch_type.as_deref(), Some("JSONPatch"));
        let ops = serde_json::to_value(got.patch_operations().expect("decodes")).expect("json");
        assert_eq!(ops, json!([{"op": "remove", "path": "/spec/replicas"}]));
        assert_eq!(
            got.mutated(&request()["object"]).expect("applies"),
            Some(json!({"spec": {"template": {}}}))
        );
    }

    #[test]
    fn unchanged_mutated_object_has_no_patch_and_delete_cannot_mutate() {
        let mut response = ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: Some(request()["object"].clone()),
            audit_annotations: None,
            warnings: None,
        };
        let got = AdmissionResponse::from_validation(&request(), &response).expect("builds");
        assert_eq!(got.patch, None);
        assert_eq!(got.patch_type, None);
        let mut delete = request();
        delete["object"] = Value::Null;
        response.mutated_object = Some(json!({}));
        let got = AdmissionResponse::from_validation(&delete, &response).expect("builds");
        assert!(!got.allowed);
        assert_eq!(
            got.status.and_then(|s| s.message).as_deref(),
            Some(MUTATED_DELETE_MESSAGE)
        );
    }
}
