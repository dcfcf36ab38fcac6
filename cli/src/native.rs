//! The policy linked into this binary (the `selector-guard` crate), called
//! natively with what a waPC host would send it and read back as a waPC host
//! reads it: the same JSON in, the same answers out, no wasm runtime.
//!
//! Its `kubewarden/kubernetes/*` host calls go to a [`KubernetesHost`] (the
//! grant check, then a replayed session or a fake cluster), as the waPC
//! host's do; a refused call is printed to stderr as the waPC host prints it.

use anyhow::{Result, anyhow};
use selector_guard_host::host::{KubernetesHost, SettingsValidation, ValidationResponse};
use serde_json::Value;

/// A [`KubernetesHost`] at the policy's host-call boundary.
pub struct Cluster<'a>(pub &'a KubernetesHost);

impl selector_guard::cluster::Host for Cluster<'_> {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.0.answer(operation, payload).inspect_err(|message| {
            eprintln!("WARN  host: {message}");
        })
    }
}

/// The policy's `validate_settings` on `settings`.
pub fn validate_settings(settings: &Value) -> Result<SettingsValidation> {
    let answer = selector_guard::validate_settings(&serde_json::to_vec(settings)?)
        .map_err(|e| failed("validate_settings", &e.to_string()))?;
    read_answer("validate_settings", &answer)
}

/// The policy's `validate` on `request` (an AdmissionRequest, as
/// [`selector_guard_host::host::admission_request`] makes it) with
/// `settings`, its host calls answered by `kubernetes` (reset first, so a
/// replay starts over at its first exchange).
pub fn validate(
    request: &Value,
    settings: &Value,
    kubernetes: &KubernetesHost,
) -> Result<ValidationResponse> {
    kubernetes.reset();
    let payload =
        serde_json::to_vec(&serde_json::json!({ "request": request, "settings": settings }))?;
    let answer = selector_guard::validate_with(&payload, &Cluster(kubernetes))
        .map_err(|e| failed("validate", &e.to_string()))?;
    read_answer("validate", &answer)
}

fn failed(operation: &str, error: &str) -> anyhow::Error {
    let line = error.lines().collect::<Vec<_>>().join("; ");
    anyhow!("policy `{operation}` failed: {line}")
}

fn read_answer<T: serde::de::DeserializeOwned>(operation: &str, answer: &[u8]) -> Result<T> {
    serde_json::from_slice(answer).map_err(|e| {
        let text = String::from_utf8_lossy(answer);
        let shown: String = text.chars().take(200).collect();
        anyhow!("policy `{operation}` answered something unexpected ({e}): {shown}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_by_the_policy() {
        assert!(
            validate_settings(&serde_json::json!({}))
                .expect("answers")
                .valid
        );
        let refused =
            validate_settings(&serde_json::json!({"noSuchSetting": true})).expect("answers");
        assert!(!refused.valid);
        assert!(refused.message.is_some_and(|m| m.contains("noSuchSetting")));
    }
}
