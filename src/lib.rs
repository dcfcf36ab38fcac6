//! selector-guard: a Kubewarden policy for three label/selector mistakes.
//!
//! This file is glue: it decodes the payload once, dispatches on the
//! request's kind to the rules in [`rules`], and turns their merged
//! [`findings::Findings`] into one `ValidationResponse`:
//! any violation rejects (every message, in a fixed order); otherwise a
//! mutation returns the mutated object; otherwise the request is accepted.
//! Warnings ride along in every case.

pub mod findings;
pub mod labels;
pub mod rules;
pub mod selector;
pub mod settings;

use findings::Findings;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use rules::Kind;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use settings::Settings;
use std::borrow::Cow;
use wapc_guest::CallResult;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    wapc_guest::register_function("validate", validate);
    wapc_guest::register_function("validate_settings", validate_settings);
    wapc_guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// The part of `{"request": AdmissionRequest, "settings": ...}` the policy
/// reads. Settings stay raw here and are parsed with path-aware errors.
/// Strings are borrowed from the payload when they hold no escapes, so
/// decoding allocates nothing but the object.
#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    request: Request<'a>,
    #[serde(borrow, default)]
    settings: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Request<'a> {
    #[serde(borrow)]
    kind: GroupVersionKind<'a>,
    #[serde(borrow)]
    operation: Cow<'a, str>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    object: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GroupVersionKind<'a> {
    #[serde(borrow)]
    group: Cow<'a, str>,
    #[serde(borrow)]
    version: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
}

/// Status code for rejections: the request is invalid, as the API server's
/// own validation would answer.
const BAD_REQUEST: u16 = 400;

/// The waPC `validate` entry point. Never traps: every input gets an answer.
pub fn validate(payload: &[u8]) -> CallResult {
    let payload: Payload = match serde_json::from_slice(payload) {
        Ok(payload) => payload,
        Err(err) => {
            return respond(reject(format!(
                "cannot decode the validation request: {err}"
            )));
        }
    };
    let settings = match payload
        .settings
        .map(|raw| Settings::from_json(raw.get().as_bytes()))
    {
        None => Settings::default(),
        Some(Ok(settings)) => settings,
        Some(Err(err)) => return respond(reject(format!("invalid settings: {err}"))),
    };
    let request = payload.request;
    let GroupVersionKind {
        group,
        version,
        kind,
    } = &request.kind;
    let Some(kind) = Kind::from_gvk(group, version, kind) else {
        return respond(accept(Vec::new()));
    };
    if !matches!(request.operation.as_ref(), "CREATE" | "UPDATE") || request.object.is_null() {
        return respond(accept(Vec::new()));
    }
    let findings = rules::evaluate(kind, &request.object, &settings);
    respond(response_for(kind, &request, findings))
}

/// `Kind namespace/name`, the prefix of every message.
fn identity(kind: Kind, request: &Request) -> String {
    let metadata = request.object.get("metadata");
    let field = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let name = field("name")
        .map(str::to_string)
        .or_else(|| {
            request
                .name
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .or_else(|| field("generateName").map(|prefix| format!("{prefix}*")))
        .unwrap_or_else(|| "(unnamed)".to_string());
    let namespace = field("namespace").or(request.namespace.as_deref().filter(|s| !s.is_empty()));
    match namespace {
        Some(namespace) => format!("{} {namespace}/{name}", kind.name()),
        None => format!("{} {name}", kind.name()),
    }
}

fn response_for(kind: Kind, request: &Request, findings: Findings) -> ValidationResponse {
    if findings.is_empty() {
        return accept(Vec::new());
    }
    let who = identity(kind, request);
    let warnings: Vec<String> = findings
        .warnings
        .iter()
        .map(|w| prefixed(&who, std::iter::once(w.as_str()), ""))
        .collect();
    if !findings.violations.is_empty() {
        let violations = findings.violations.iter().map(String::as_str);
        let mut response = reject(prefixed(&who, violations, ". "));
        response.warnings = (!warnings.is_empty()).then_some(warnings);
        return response;
    }
    let mut response = accept(warnings);
    response.mutated_object = findings.mutated;
    response
}

/// `who: part1<separator>part2...`, built in one allocation (the same text
/// as `format!("{who}: {}", parts.join(separator))`).
fn prefixed<'a>(
    who: &str,
    parts: impl Iterator<Item = &'a str> + Clone,
    separator: &str,
) -> String {
    let len = parts
        .clone()
        .map(|p| p.len() + separator.len())
        .sum::<usize>();
    let mut text = String::with_capacity(who.len() + 2 + len);
    text.push_str(who);
    text.push_str(": ");
    for (i, part) in parts.enumerate() {
        if i > 0 {
            text.push_str(separator);
        }
        text.push_str(part);
    }
    text
}

fn accept(warnings: Vec<String>) -> ValidationResponse {
    ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

fn reject(message: String) -> ValidationResponse {
    ValidationResponse {
        accepted: false,
        message: Some(message),
        code: Some(BAD_REQUEST),
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    }
}

/// Serializes the answer into a buffer sized for its texts up front, so that
/// a long message is not copied again each time the buffer would grow.
fn respond(response: ValidationResponse) -> CallResult {
    let texts = response.message.as_ref().map_or(0, String::len)
        + response
            .warnings
            .iter()
            .flatten()
            .map(|w| w.len() + 3)
            .sum::<usize>();
    let mut answer = Vec::with_capacity(RESPONSE_FRAME + texts + texts / 8);
    serde_json::to_writer(&mut answer, &response)?;
    Ok(answer)
}

/// Bytes of an answer besides its texts: field names, `null`s, the code.
const RESPONSE_FRAME: usize = 128;

/// The waPC `validate_settings` entry point: refuses unknown keys, modes and
/// kinds, naming them.
pub fn validate_settings(payload: &[u8]) -> CallResult {
    let response = match Settings::from_json(payload) {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => SettingsValidationResponse {
            valid: false,
            message: Some(message),
        },
    };
    Ok(serde_json::to_vec(&response)?)
}
