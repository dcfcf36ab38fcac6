//! selector-guard: a Kubewarden policy for label/selector mistakes.
//!
//! This file is glue: it decodes the payload once, dispatches on the
//! request's kind to the rules in [`rules`] (the ones that read the cluster
//! do so through [`cluster`]), and turns their merged
//! [`findings::Findings`] into one `ValidationResponse`:
//! any violation rejects (every message, in a fixed order); otherwise a
//! mutation returns the mutated object; otherwise the request is accepted.
//! Warnings ride along in every case. With `honourIgnoreAnnotations`, the
//! rules an object's `selector-guard.dev/ignore` annotation names are off
//! for it ([`suppress`], [`honour`]).

pub mod cluster;
pub mod findings;
pub mod kinds;
pub mod labels;
pub mod object;
pub mod order;
pub mod relations;
pub mod rules;
pub mod selector;
pub mod settings;
pub mod suppress;

use findings::Findings;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use object::{Key, Object, Shaped};
use rules::Kind;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use settings::Settings;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
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
/// Strings are borrowed from the payload when they hold no escapes.
#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    request: Request<'a>,
    #[serde(borrow, default)]
    settings: Option<&'a RawValue>,
}

#[derive(Default)]
struct Request<'a> {
    kind: GroupVersionKind<'a>,
    operation: Cow<'a, str>,
    name: Option<Cow<'a, str>>,
    namespace: Option<Cow<'a, str>>,
    object: ObjectField<'a>,
    /// `oldObject`'s text, decoded only when a rule compares with it.
    old_object: Option<&'a RawValue>,
    /// Where `object`'s text lies in the payload, for an object decoded in
    /// the request's pass: the address just past the key `"object"` and that
    /// of the next key's opening quote (see [`object_between`]).
    object_bounds: (Option<usize>, Option<usize>),
}

/// `request.object`, decoded in the same pass as the payload when its kind
/// came first (as in every AdmissionRequest the API server sends); otherwise
/// kept as text and decoded once the kind is known. Only the parts its
/// kind's rules read are built. Edits are of slices of the payload either
/// way ([`object::Edits`]), so the object's text is found again only when
/// there is something to edit.
#[derive(Default)]
enum ObjectField<'a> {
    #[default]
    Absent,
    Text(&'a RawValue),
    Decoded(Object<'a>),
}

const REQUEST_FIELDS: [&str; 6] = [
    "kind",
    "operation",
    "name",
    "namespace",
    "object",
    "oldObject",
];

impl<'de: 'a, 'a> Deserialize<'de> for Request<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let request: Request<'de> = deserializer.deserialize_map(RequestVisitor)?;
        Ok(request)
    }
}

struct RequestVisitor;

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = Request<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an AdmissionRequest")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Request<'de>, A::Error> {
        let mut request = Request::default();
        let mut seen = [false; REQUEST_FIELDS.len()];
        let mut after_object = false;
        while let Some(Key(key)) = map.next_key()? {
            if std::mem::take(&mut after_object)
                && let Cow::Borrowed(next) = key
            {
                request.object_bounds.1 = Some((next.as_ptr() as usize).wrapping_sub(1));
            }
            let Some(field) = REQUEST_FIELDS.iter().position(|f| *f == key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            // As derived decoders do: a field given twice is an error, so the
            // kind an object was decoded for is the request's kind.
            match seen.get_mut(field) {
                Some(seen) if !*seen => *seen = true,
                _ => return Err(de::Error::duplicate_field(key_name(field))),
            }
            match field {
                0 => request.kind = map.next_value()?,
                1 => request.operation = map.next_value::<Key>()?.0,
                2 => request.name = map.next_value::<Option<Key>>()?.map(|k| k.0),
                3 => request.namespace = map.next_value::<Option<Key>>()?.map(|k| k.0),
                5 => request.old_object = map.next_value::<Option<&RawValue>>()?,
                _ => {
                    if let Cow::Borrowed(name) = key {
                        let past_quote = name.as_ptr() as usize + name.len() + 1;
                        request.object_bounds.0 = Some(past_quote);
                    }
                    after_object = true;
                    let kind = &request.kind;
                    let shape =
                        Kind::from_gvk(&kind.group, &kind.version, &kind.kind).map(rules::shape);
                    request.object = match shape {
                        Some(shape) => ObjectField::Decoded(map.next_value_seed(Shaped(shape))?),
                        None => match map.next_value::<Option<&RawValue>>()? {
                            Some(text) => ObjectField::Text(text),
                            None => ObjectField::Absent,
                        },
                    };
                }
            }
        }
        Ok(request)
    }
}

fn key_name(field: usize) -> &'static str {
    REQUEST_FIELDS.get(field).copied().unwrap_or("object")
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
    validate_with(payload, &cluster::Wapc)
}

/// [`validate`], reading the cluster through `host`: native tests answer
/// the host calls at this boundary.
pub fn validate_with(payload: &[u8], host: &dyn cluster::Host) -> CallResult {
    assess(payload, host, false).respond()
}

/// Judges a `validate` payload: the findings as data, for callers that
/// report them field by field (the CLI), and the answer [`validate_with`]
/// sends. With `details`, the findings the answer only sums up (a map's
/// conversions past the first ten) are built too, and
/// `honourIgnoreAnnotations` is not applied: the caller (the CLI) honours
/// the annotations itself, and reports what they suppress.
pub fn assess(payload: &[u8], host: &dyn cluster::Host, details: bool) -> Assessed {
    // Read as text once: raw values (the object, its captured maps) and
    // strings are then borrowed without checking their UTF-8 again, and the
    // decoders are built for one kind of input only.
    let text = match std::str::from_utf8(payload) {
        Ok(text) => text,
        Err(err) => {
            return Assessed::Answered(reject(format!(
                "cannot decode the validation request: it is not UTF-8 text: {err}"
            )));
        }
    };
    let decoded = match serde_json::from_str::<Payload>(text) {
        Ok(decoded) => decoded,
        Err(err) => {
            return Assessed::Answered(reject(format!(
                "cannot decode the validation request: {err}"
            )));
        }
    };
    let mut settings = match decoded
        .settings
        .map(|raw| Settings::from_json(raw.get().as_bytes()))
    {
        None => Settings::default(),
        Some(Ok(settings)) => settings,
        Some(Err(err)) => return Assessed::Answered(reject(format!("invalid settings: {err}"))),
    };
    let mut request = decoded.request;
    let GroupVersionKind {
        group,
        version,
        kind,
    } = &request.kind;
    let Some(kind) = Kind::from_gvk(group, version, kind) else {
        return assess_custom(&mut request, settings, text, details);
    };
    if !matches!(request.operation.as_ref(), "CREATE" | "UPDATE") {
        return Assessed::Answered(accept(Vec::new()));
    }
    let object = match std::mem::take(&mut request.object) {
        ObjectField::Absent => return Assessed::Answered(accept(Vec::new())),
        ObjectField::Decoded(object) if object.value.is_null() => {
            return Assessed::Answered(accept(Vec::new()));
        }
        ObjectField::Decoded(object) => object,
        ObjectField::Text(text) => match Object::decode(text.get(), rules::shape(kind)) {
            Ok(object) => object,
            Err(err) => {
                return Assessed::Answered(reject(format!(
                    "cannot decode the validation request: request.object: {err}"
                )));
            }
        },
    };
    let ignored = honour(&mut settings, details, &|| {
        object
            .captured_at("metadata.annotations")
            .and_then(object::Captured::to_value)
    });
    // The old object is decoded only for the rules that compare with it.
    let old = match (request.operation.as_ref(), request.old_object) {
        ("UPDATE", Some(text)) if rules::compares_with_old(kind, &settings) => {
            Object::decode(text.get(), rules::shape(kind)).ok()
        }
        _ => None,
    };
    let namespace = namespace_of(&request, &object.value);
    let context = rules::Request {
        operation: &request.operation,
        namespace,
        old: old.as_ref(),
    };
    let mut findings = rules::evaluate(&rules::Context {
        kind,
        object: &object,
        request: &context,
        settings: &settings,
        host,
        details,
    });
    findings.merge(ignored);
    let who = identity(kind.name(), &request, &object.value);
    let answer = response_for(&who, &request, &object, &findings, text);
    Assessed::Judged {
        object: who,
        findings,
        answer,
    }
}

/// A request of a kind the policy does not know: judged by the rules that
/// check custom workloads ([`rules::Rule::custom`]) when `workloadKinds`
/// names its kind, else accepted.
fn assess_custom(
    request: &mut Request,
    mut settings: Settings,
    payload: &str,
    details: bool,
) -> Assessed {
    let gvk = &request.kind;
    let listed = settings.workload_kinds.iter().any(|custom| {
        let (group, version) = custom
            .api_version
            .split_once('/')
            .unwrap_or(("", &custom.api_version));
        custom.kind == gvk.kind && group == gvk.group && version == gvk.version
    });
    if !listed || !matches!(request.operation.as_ref(), "CREATE" | "UPDATE") {
        return Assessed::Answered(accept(Vec::new()));
    }
    let value = match std::mem::take(&mut request.object) {
        ObjectField::Text(text) => match serde_json::from_str::<Value>(text.get()) {
            Ok(value) => value,
            Err(err) => {
                return Assessed::Answered(reject(format!(
                    "cannot decode the validation request: request.object: {err}"
                )));
            }
        },
        ObjectField::Decoded(object) => object.value,
        ObjectField::Absent => Value::Null,
    };
    if value.is_null() {
        return Assessed::Answered(accept(Vec::new()));
    }
    let ignored = honour(&mut settings, details, &|| {
        value.pointer("/metadata/annotations").cloned()
    });
    let mut findings = Findings::default();
    for rule in rules::RULES {
        let Some(check) = rule.custom else { continue };
        if !value.is_object() {
            // As for a known kind: one rejection, by the first rule.
            findings.violations.push(findings::Finding::reject(
                "",
                format!(
                    "the object must be a map, not {}",
                    findings::type_name(&value)
                ),
            ));
            findings.stamp(rule.id);
            break;
        }
        let mut found = check(&gvk.kind, &value, &settings);
        found.stamp(rule.id);
        findings.merge(found);
    }
    findings.merge(ignored);
    let who = identity(&gvk.kind, request, &value);
    let object = Object {
        text: None,
        value,
        captured: Vec::new(),
    };
    let answer = response_for(&who, request, &object, &findings, payload);
    Assessed::Judged {
        object: who,
        findings,
        answer,
    }
}

/// With `honourIgnoreAnnotations` (and not for `details`, see [`assess`]):
/// the rules the object's `selector-guard.dev/ignore` annotation names are
/// turned off in `settings`, for this object, so that they neither reject,
/// warn nor mutate; an annotation that cannot be honoured suppresses
/// nothing and is a rejection. Without it the annotations are not read.
fn honour(
    settings: &mut Settings,
    details: bool,
    annotations: &dyn Fn() -> Option<Value>,
) -> Findings {
    let mut findings = Findings::default();
    if !settings.honour_ignore_annotations || details {
        return findings;
    }
    match suppress::parse(annotations().as_ref(), &[]) {
        Ok(suppression) => {
            for id in suppression.iter().flat_map(|s| &s.rules) {
                settings.silence(id);
            }
        }
        Err(problems) => {
            findings
                .violations
                .extend(problems.into_iter().map(Into::into));
            findings.stamp(suppress::RULE);
        }
    }
    findings
}

/// What [`assess`] found: the findings (as data) and the answer the policy
/// sends, or an answer alone for a request no rule judged.
pub enum Assessed {
    /// A request of a kind and operation some rule judged.
    Judged {
        /// `Kind namespace/name`.
        object: String,
        /// Every finding, [`findings::Shown::Detail`] ones included.
        findings: Findings,
        answer: Answer,
    },
    /// A request no rule judged, or one that could not be read.
    Answered(Answer),
}

impl Assessed {
    /// The answer the policy sends.
    pub fn answer(&self) -> &Answer {
        match self {
            Assessed::Judged { answer, .. } | Assessed::Answered(answer) => answer,
        }
    }

    /// The answer, serialized as `validate` sends it.
    pub fn respond(self) -> CallResult {
        match self {
            Assessed::Judged { answer, .. } | Assessed::Answered(answer) => respond(answer),
        }
    }
}

/// The request's namespace, else the object's, else `default` (where
/// kubectl puts a namespaced object that names none).
fn namespace_of<'a>(request: &'a Request, object: &'a Value) -> &'a str {
    request
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .or_else(|| {
            object
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .filter(|ns| !ns.is_empty())
        })
        .unwrap_or("default")
}

/// `Kind namespace/name`, the prefix of every message.
fn identity(kind: &str, request: &Request, object: &Value) -> String {
    let metadata = object.get("metadata");
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
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The object's text in `payload`, from where its key ended and the next
/// key began (`request.object_bounds`): JSON allows only whitespace, the
/// `:` and the `,` around it, so no parse is needed. `None` when the bounds
/// are not known (a key with escapes, `object` last) or do not fit.
fn object_between(payload: &str, bounds: (Option<usize>, Option<usize>)) -> Option<&str> {
    let base = payload.as_ptr() as usize;
    let start = bounds.0?.checked_sub(base)?;
    let end = bounds.1?.checked_sub(base)?;
    let ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    let text = payload.get(start..end)?.trim_start_matches(ws);
    let text = text.strip_prefix(':')?.trim_start_matches(ws);
    let text = text
        .trim_end_matches(ws)
        .strip_suffix(',')?
        .trim_end_matches(ws);
    (text.starts_with('{') && text.ends_with('}')).then_some(text)
}

/// The object's text in `payload`, found again by a parse for an object
/// decoded in the request's pass that is to be edited, when
/// [`object_between`] cannot tell.
fn object_text(payload: &str) -> Option<&str> {
    #[derive(Deserialize)]
    struct ObjectOf<'a> {
        #[serde(borrow)]
        request: RequestObject<'a>,
    }
    #[derive(Deserialize)]
    struct RequestObject<'a> {
        #[serde(borrow)]
        object: &'a RawValue,
    }
    let found: ObjectOf = serde_json::from_str(payload).ok()?;
    Some(found.request.object.get())
}

fn response_for(
    who: &str,
    request: &Request,
    object: &Object,
    findings: &Findings,
    payload: &str,
) -> Answer {
    if findings.is_empty() {
        return accept(Vec::new());
    }
    let shown = |f: &&findings::Finding| f.shown != findings::Shown::Detail;
    let rejected: BTreeSet<&str> = {
        let mut set = BTreeSet::new();
        set.extend(findings.violations.iter().map(|f| f.message.as_str()));
        set
    };
    // A warning that repeats a rejection (two rules, two modes) is dropped:
    // the rejection says it.
    let warnings: Vec<String> = findings
        .warnings
        .iter()
        .filter(shown)
        .filter(|w| !rejected.contains(w.message.as_str()))
        .map(|w| prefixed(who, std::iter::once(w), ""))
        .collect();
    if !findings.violations.is_empty() {
        let violations = findings.violations.iter().filter(shown);
        let mut response = reject(prefixed(who, violations, ". "));
        response.warnings = (!warnings.is_empty()).then_some(warnings);
        return response;
    }
    let mut warnings = warnings;
    let mutated = findings.mutated.as_ref().and_then(|edits| {
        let text = object
            .text
            .or_else(|| object_between(payload, request.object_bounds))
            .or_else(|| object_text(payload));
        let mutated = text.and_then(|text| edits.apply(text));
        if mutated.is_none() {
            // Edits are spans of this very text, so this is a bug; the
            // request is still answered, without the fix.
            warnings.push(format!(
                "{who}: internal error: the conversion to strings could not be applied"
            ));
        }
        mutated
    });
    let mut response = accept(warnings);
    response.mutated_object = mutated;
    response
}

/// `who: message1 [rule1]<separator>message2 [rule2]...`, built in one
/// allocation: every finding's text ends with the ID of the rule (the
/// settings key) that governs it.
fn prefixed<'a>(
    who: &str,
    parts: impl Iterator<Item = &'a findings::Finding> + Clone,
    separator: &str,
) -> String {
    let len = parts
        .clone()
        .map(|p| p.message.len() + p.rule.len() + 3 + separator.len())
        .sum::<usize>();
    let mut text = String::with_capacity(who.len() + 2 + len);
    text.push_str(who);
    text.push_str(": ");
    for (i, part) in parts.enumerate() {
        if i > 0 {
            text.push_str(separator);
        }
        text.push_str(&part.message);
        if !part.rule.is_empty() {
            text.push_str(" [");
            text.push_str(part.rule);
            text.push(']');
        }
    }
    text
}

/// The SDK's `ValidationResponse`, field for field, with the mutated object
/// carried as JSON text: it is the request's text with edits, and building it
/// into a `Value` only to serialize it again would cost a parse. [`respond`]
/// writes it.
#[derive(Debug)]
pub struct Answer {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    /// JSON text, valid by construction: each edit replaces one JSON value
    /// of the request's text by a JSON string.
    pub mutated_object: Option<String>,
    pub audit_annotations: Option<BTreeMap<String, String>>,
    pub warnings: Option<Vec<String>>,
}

fn accept(warnings: Vec<String>) -> Answer {
    Answer {
        accepted: true,
        message: None,
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

fn reject(message: String) -> Answer {
    Answer {
        accepted: false,
        message: Some(message),
        code: Some(BAD_REQUEST),
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    }
}

/// Serializes the answer, as the SDK's `ValidationResponse` serializes (the
/// same fields in the same order), into a buffer sized for its texts up
/// front, so that a long message is not copied again each time the buffer
/// would grow. The mutated object's text is written as it is: checking it
/// again would cost a parse of the whole object.
fn respond(response: Answer) -> CallResult {
    let texts = response.message.as_ref().map_or(0, String::len)
        + response
            .warnings
            .iter()
            .flatten()
            .map(|w| w.len() + 3)
            .sum::<usize>()
        + response.mutated_object.as_ref().map_or(0, String::len);
    let mut answer = Vec::with_capacity(RESPONSE_FRAME + texts + texts / 8);
    answer.extend_from_slice(b"{\"accepted\":");
    serde_json::to_writer(&mut answer, &response.accepted)?;
    answer.extend_from_slice(b",\"message\":");
    serde_json::to_writer(&mut answer, &response.message)?;
    answer.extend_from_slice(b",\"code\":");
    serde_json::to_writer(&mut answer, &response.code)?;
    answer.extend_from_slice(b",\"mutated_object\":");
    match &response.mutated_object {
        Some(object) => answer.extend_from_slice(object.as_bytes()),
        None => answer.extend_from_slice(b"null"),
    }
    answer.extend_from_slice(b",\"audit_annotations\":");
    serde_json::to_writer(&mut answer, &response.audit_annotations)?;
    answer.extend_from_slice(b",\"warnings\":");
    serde_json::to_writer(&mut answer, &response.warnings)?;
    answer.push(b'}');
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(payload: &str) -> Value {
        serde_json::from_slice(&validate(payload.as_bytes()).expect("answers")).expect("JSON")
    }

    const DAEMONSET: &str = r#"{"metadata": {"name": "a", "namespace": "n"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
                 "template": {"metadata": {"labels": {"app": "a"}}}}}"#;
    const KIND: &str = r#"{"group": "apps", "version": "v1", "kind": "DaemonSet"}"#;

    /// The object is decoded in the payload's pass when its kind comes
    /// first, and from its text when it comes later: the answer is the same.
    #[test]
    fn field_order_does_not_change_the_answer() {
        let kind_first = format!(
            r#"{{"request": {{"kind": {KIND}, "operation": "CREATE", "object": {DAEMONSET}}}}}"#
        );
        let object_first = format!(
            r#"{{"settings": {{}}, "request": {{"object": {DAEMONSET}, "operation": "CREATE", "kind": {KIND}}}}}"#
        );
        let first = answer(&kind_first);
        assert_eq!(first["accepted"], false);
        assert!(
            first["message"].as_str().is_some_and(
                |m| m.starts_with("DaemonSet n/a: spec.replicas is not a DaemonSet field")
            ),
            "{first}"
        );
        assert_eq!(answer(&object_first), first);
    }

    /// A mutation is an edit of the object's text, whether the object was
    /// decoded in the request's pass (kind first) or from its text: both
    /// answers carry the same bytes.
    #[test]
    fn field_order_does_not_change_a_mutation() {
        let service = r#"{"metadata": {"name": "s", "labels": {"on": true}},
            "spec": {"selector": {"n": 1.50}, "ports": [{"port": 80}]}}"#;
        let kind = r#"{"group": "", "version": "v1", "kind": "Service"}"#;
        let kind_first = format!(
            r#"{{"request": {{"kind": {kind}, "operation": "CREATE", "object": {service}}}}}"#
        );
        let object_first = format!(
            r#"{{"request": {{"object": {service}, "operation": "CREATE", "kind": {kind}}}}}"#
        );
        // The object followed by another key, as the API server sends it:
        // its text is found from the keys around it, without a parse.
        let object_then_more = format!(
            "{{\"request\": {{\"kind\": {kind}, \"operation\": \"CREATE\",\n \"object\" :\n {service} \n,\t\"oldObject\": null, \"dryRun\": false}}}}"
        );
        let first = answer(&kind_first);
        assert_eq!(answer(&object_then_more), first);
        let expected = service
            .replace(r#"{"on": true}"#, r#"{"on": "true"}"#)
            .replace(r#"{"n": 1.50}"#, r#"{"n": "1.5"}"#);
        let expected: Value = serde_json::from_str(&expected).expect("JSON");
        assert_eq!(first["mutated_object"], expected, "{first}");
        assert_eq!(answer(&object_first), first);
    }

    #[test]
    fn the_object_is_found_between_its_key_and_the_next() {
        let payload = r#"{"request": {"object" :  {"a": {"b": 1}} ,"next": 1}}"#;
        let after = payload.find(r#""object""#).unwrap() + r#""object""#.len();
        let before = payload.find(r#""next""#).unwrap();
        let at = |offset: usize| Some(payload.as_ptr() as usize + offset);
        assert_eq!(
            object_between(payload, (at(after), at(before))),
            Some(r#"{"a": {"b": 1}}"#)
        );
        // Bounds that do not fit, or are unknown, find nothing.
        assert_eq!(object_between(payload, (at(after), at(after + 3))), None);
        assert_eq!(object_between(payload, (at(after), at(10_000))), None);
        assert_eq!(object_between(payload, (None, at(before))), None);
        assert_eq!(object_between(payload, (at(0), at(before))), None);
    }

    #[test]
    fn a_request_field_given_twice_is_refused() {
        let twice = format!(
            r#"{{"request": {{"kind": {KIND}, "operation": "CREATE", "object": {DAEMONSET}, "kind": {{"group": "", "version": "v1", "kind": "Pod"}}}}}}"#
        );
        let answer = answer(&twice);
        assert_eq!(answer["accepted"], false);
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("duplicate field `kind`")),
            "{answer}"
        );
    }

    #[test]
    fn null_and_absent_objects_are_accepted() {
        for object in [r#", "object": null"#, ""] {
            let payload =
                format!(r#"{{"request": {{"kind": {KIND}, "operation": "CREATE"{object}}}}}"#);
            assert_eq!(answer(&payload)["accepted"], true, "{payload}");
        }
    }

    struct NoHost;

    impl cluster::Host for NoHost {
        fn call(&self, operation: &str, _: &[u8]) -> Result<Vec<u8>, String> {
            Err(format!("no cluster: {operation}"))
        }
    }

    /// With `honourIgnoreAnnotations` the rules the annotation names do not
    /// run at admission; with `details` (the CLI, which honours annotations
    /// itself) they do, so that what they suppress can be counted and shown.
    #[test]
    fn suppressions_are_honoured_at_admission_and_left_to_the_cli() {
        let suppressed = DAEMONSET.replace(
            r#""namespace": "n"}"#,
            r#""namespace": "n", "annotations": {"selector-guard.dev/ignore": "specFields", "selector-guard.dev/ignore-reason": "r"}}"#,
        );
        let payload = |honour: bool| {
            format!(
                r#"{{"settings": {{"honourIgnoreAnnotations": {honour}}}, "request": {{"kind": {KIND}, "operation": "CREATE", "object": {suppressed}}}}}"#
            )
        };
        assert_eq!(answer(&payload(true))["accepted"], true);
        assert_eq!(answer(&payload(false))["accepted"], false);
        let Assessed::Judged {
            findings, answer, ..
        } = assess(payload(true).as_bytes(), &NoHost, true)
        else {
            panic!("judged")
        };
        assert_eq!(findings.violations.len(), 1, "{findings:?}");
        assert_eq!(findings.violations[0].rule, "specFields");
        assert!(!answer.accepted);
    }

    /// The answer is the SDK's `ValidationResponse` as it serializes: the
    /// same bytes, nulls included.
    #[test]
    fn answers_read_as_the_sdks_response() {
        let mut mutated = accept(vec!["w\"1".into(), "w2".into()]);
        mutated.mutated_object = Some(r#"{"a": ["b", 1.50]}"#.into());
        for answer in [reject("no \"quote\"".into()), accept(Vec::new()), mutated] {
            let response = respond(answer).expect("serializes");
            let typed: kubewarden_policy_sdk::response::ValidationResponse =
                serde_json::from_slice(&response).expect("an SDK response");
            let text = String::from_utf8(response).expect("UTF-8");
            let sdk = serde_json::to_string(&typed).expect("JSON");
            // The SDK re-serializes the object compactly; all else is equal.
            assert_eq!(
                text.replace(r#"{"a": ["b", 1.50]}"#, r#"{"a":["b",1.5]}"#),
                sdk
            );
        }
    }
}
