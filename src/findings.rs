//! What rules return: findings (each a rule ID, an action, the field paths
//! it is about, the message and the fix) and an optional mutated object.
//! Rules never build responses; `lib.rs` turns merged findings into one
//! AdmissionResponse, and the CLI turns the same findings into its formats.

use crate::object::Edits;
use crate::settings::Mode;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// What a finding does to the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// It rejects the request.
    Reject,
    /// It is a warning; the request is accepted.
    Warn,
    /// A value is rewritten (the patch carries the fix); a warning says so.
    Mutate,
}

impl Action {
    /// `reject`, `warn` or `mutate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reject => "reject",
            Action::Warn => "warn",
            Action::Mutate => "mutate",
        }
    }
}

/// Where a finding is shown. A rule that finds many values of one map says
/// the first few at admission, where clients drop warnings past a few
/// kilobytes, and sums the rest up in one; the CLI shows each at its value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shown {
    /// In the admission response and in the CLI.
    #[default]
    Everywhere,
    /// Only in the CLI: summed up at admission by a [`Shown::Summary`].
    Detail,
    /// Only in the admission response: the sum of [`Shown::Detail`] findings.
    Summary,
}

/// One problem with one object.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The rule's ID (its settings key), set by the dispatcher for every
    /// finding the rule returns ([`Findings::stamp`]); empty until then.
    pub rule: &'static str,
    pub action: Action,
    /// The fields it is about, as the API server writes field paths
    /// (`spec.selector[active]`, `spec.template.metadata.labels`); empty for
    /// the object as a whole. [`segments`] splits one into its keys.
    pub paths: Vec<String>,
    /// What is wrong, why, and the fix, without the object's name (the
    /// response prefixes it) or the rule ID (the response appends it).
    pub message: String,
    /// The value the policy writes instead, for a [`Action::Mutate`].
    pub fix: Option<String>,
    pub shown: Shown,
}

impl Finding {
    /// A finding about the field at `path` (empty: the object).
    pub fn at(path: impl Into<String>, action: Action, message: impl Into<String>) -> Finding {
        let path = path.into();
        Finding {
            rule: "",
            action,
            paths: if path.is_empty() {
                Vec::new()
            } else {
                vec![path]
            },
            message: message.into(),
            fix: None,
            shown: Shown::Everywhere,
        }
    }

    /// A rejection at `path`.
    pub fn reject(path: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding::at(path, Action::Reject, message)
    }

    /// A warning at `path`.
    pub fn warn(path: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding::at(path, Action::Warn, message)
    }

    /// The first path, or `""` for the object.
    pub fn path(&self) -> &str {
        self.paths.first().map_or("", String::as_str)
    }
}

impl From<FieldError> for Finding {
    fn from(error: FieldError) -> Finding {
        Finding::reject(error.field_path(), error.to_string())
    }
}

/// The keys of a field path as the API server writes it:
/// `metadata.annotations[a.b/c]` is `metadata`, `annotations`, `a.b/c`;
/// `spec.containers[0]` is `spec`, `containers`, `0`.
pub fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            '[' => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                let mut key = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    key.push(c);
                }
                out.push(key);
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The outcome of one or more rules on one object. Messages do not name the
/// object: `lib.rs` prefixes them with `Kind namespace/name`.
#[derive(Debug, Default, PartialEq)]
pub struct Findings {
    /// Each rejects: the field path, why it is wrong, and the fix.
    pub violations: Vec<Finding>,
    /// Warnings, and what a mutation changed.
    pub warnings: Vec<Finding>,
    /// Edits of the object's text; `None` when nothing changes.
    pub mutated: Option<Edits>,
}

impl Findings {
    pub fn is_empty(&self) -> bool {
        self.violations.is_empty() && self.warnings.is_empty() && self.mutated.is_none()
    }

    /// Files a finding about `path` according to a rule's mode.
    pub fn report(&mut self, mode: Mode, path: impl Into<String>, message: String) {
        match mode {
            Mode::Reject => self.violations.push(Finding::reject(path, message)),
            Mode::Warn => self.warnings.push(Finding::warn(path, message)),
            Mode::Off => {}
        }
    }

    /// A rejection at `path`.
    pub fn reject(&mut self, path: impl Into<String>, message: String) {
        self.violations.push(Finding::reject(path, message));
    }

    /// A warning at `path`.
    pub fn warn(&mut self, path: impl Into<String>, message: String) {
        self.warnings.push(Finding::warn(path, message));
    }

    /// Files `finding` by its action: a rejection, or a warning (a
    /// mutation's is one too).
    pub fn push(&mut self, finding: Finding) {
        match finding.action {
            Action::Reject => self.violations.push(finding),
            Action::Warn | Action::Mutate => self.warnings.push(finding),
        }
    }

    /// Names `rule` as the maker of every finding that names none yet.
    pub fn stamp(&mut self, rule: &'static str) {
        for finding in self.violations.iter_mut().chain(&mut self.warnings) {
            if finding.rule.is_empty() {
                finding.rule = rule;
            }
        }
    }

    /// The rejection messages, in order (tests and callers that only read text).
    pub fn violation_messages(&self) -> Vec<&str> {
        self.violations.iter().map(|f| f.message.as_str()).collect()
    }

    /// The warning messages, in order.
    pub fn warning_messages(&self) -> Vec<&str> {
        self.warnings.iter().map(|f| f.message.as_str()).collect()
    }

    /// Appends `other`, skipping messages already present (two rules that
    /// both need `spec` report a malformed one once, under the first rule;
    /// Rule 2 and `labelMapValues` word a bad template label alike). Edits
    /// of different maps add up.
    pub fn merge(&mut self, other: Findings) {
        append_unseen(&mut self.violations, other.violations);
        append_unseen(&mut self.warnings, other.warnings);
        match (&mut self.mutated, other.mutated) {
            (Some(edits), Some(more)) => edits.extend(more),
            (mine, Some(more)) => *mine = Some(more),
            (_, None) => {}
        }
    }
}

/// Appends the messages of `items` that `into` does not hold yet, in linear time.
fn append_unseen(into: &mut Vec<Finding>, items: Vec<Finding>) {
    if items.is_empty() {
        return;
    }
    if into.is_empty() {
        *into = items;
        return;
    }
    // Most merges are of a few messages: comparing them costs less than
    // hashing them.
    let held = into.len();
    if held * items.len() <= 64 {
        for item in items {
            if !into
                .iter()
                .take(held)
                .any(|seen| seen.message == item.message)
            {
                into.push(item);
            }
        }
        return;
    }
    let fresh: Vec<Finding> = {
        let mut seen = BTreeSet::new();
        seen.extend(into.iter().map(|f| f.message.as_str()));
        items
            .into_iter()
            .filter(|item| !seen.contains(item.message.as_str()))
            .collect()
    };
    into.extend(fresh);
}

/// A problem with one field, worded like the API server's `field.Error`:
/// `spec.selector: Invalid value: {}: empty selector is invalid for deployment`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub path: String,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// `Required value: <detail>`
    Required(String),
    /// `Forbidden: <detail>`
    Forbidden(String),
    /// `Invalid value: <value>: <detail>`
    Invalid { value: String, detail: String },
    /// Worded as `Invalid`, for a value that can never be valid there (a
    /// map where a label value belongs): it rejects in every mode.
    NeverValid { value: String, detail: String },
    /// `Unsupported value: <value>: supported values: <supported>`
    Unsupported { value: String, supported: String },
    /// The object's structure is wrong (an array where a map belongs). Such
    /// errors reject in every mode: nothing further can be checked.
    Malformed {
        expected: &'static str,
        found: &'static str,
    },
}

impl FieldError {
    pub fn required(path: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            kind: ErrorKind::Required(detail.into()),
        }
    }

    pub fn forbidden(path: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            kind: ErrorKind::Forbidden(detail.into()),
        }
    }

    pub fn invalid(
        path: impl Into<String>,
        value: impl fmt::Display,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            path: path.into(),
            kind: ErrorKind::Invalid {
                value: value.to_string(),
                detail: detail.into(),
            },
        }
    }

    /// [`FieldError::invalid`] for a value that can never be valid there.
    pub fn never_valid(
        path: impl Into<String>,
        value: impl fmt::Display,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            path: path.into(),
            kind: ErrorKind::NeverValid {
                value: value.to_string(),
                detail: detail.into(),
            },
        }
    }

    pub fn unsupported(
        path: impl Into<String>,
        value: impl fmt::Display,
        supported: impl Into<String>,
    ) -> Self {
        FieldError {
            path: path.into(),
            kind: ErrorKind::Unsupported {
                value: value.to_string(),
                supported: supported.into(),
            },
        }
    }

    pub fn malformed(path: impl Into<String>, expected: &'static str, found: &Value) -> Self {
        Self::malformed_as(path, expected, type_name(found))
    }

    /// [`FieldError::malformed`] for a value known only by its type name.
    pub fn malformed_as(
        path: impl Into<String>,
        expected: &'static str,
        found: &'static str,
    ) -> Self {
        FieldError {
            path: path.into(),
            kind: ErrorKind::Malformed { expected, found },
        }
    }

    /// The path, or `""` for the object as a whole.
    pub fn field_path(&self) -> &str {
        if self.path == "the object" {
            ""
        } else {
            &self.path
        }
    }

    /// Whether the error rejects in every mode: a malformed structure, or a
    /// value that can never be valid.
    pub fn always_rejects(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Malformed { .. } | ErrorKind::NeverValid { .. }
        )
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match &self.kind {
            ErrorKind::Required(detail) if detail.is_empty() => write!(f, "{path}: Required value"),
            ErrorKind::Required(detail) => write!(f, "{path}: Required value: {detail}"),
            ErrorKind::Forbidden(detail) => write!(f, "{path}: Forbidden: {detail}"),
            ErrorKind::Invalid { value, detail } | ErrorKind::NeverValid { value, detail } => {
                write!(f, "{path}: Invalid value: {value}: {detail}")
            }
            ErrorKind::Unsupported { value, supported } => {
                write!(
                    f,
                    "{path}: Unsupported value: {value}: supported values: {supported}"
                )
            }
            ErrorKind::Malformed { expected, found } => {
                write!(f, "{path} must be {expected}, not {found}")
            }
        }
    }
}

/// The JSON type of a value, as messages name it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Reports field errors: those that [`FieldError::always_rejects`] reject,
/// the rest follow `mode`.
pub fn report_field_errors(findings: &mut Findings, mode: Mode, errors: Vec<FieldError>) {
    for error in errors {
        let mode = if error.always_rejects() {
            Mode::Reject
        } else {
            mode
        };
        let path = error.field_path().to_string();
        findings.report(mode, path, error.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_errors_read_like_the_api_server() {
        assert_eq!(
            FieldError::invalid(
                "spec.selector",
                "{}",
                "empty selector is invalid for deployment"
            )
            .to_string(),
            "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
        );
        assert_eq!(
            FieldError::required("spec.selector", "").to_string(),
            "spec.selector: Required value"
        );
        assert_eq!(
            FieldError::malformed("spec", "a map", &json!("x")).to_string(),
            "spec must be a map, not a string"
        );
    }

    #[test]
    fn report_follows_mode() {
        let mut f = Findings::default();
        f.report(Mode::Reject, "spec", "a".into());
        f.report(Mode::Warn, "spec", "b".into());
        f.report(Mode::Off, "spec", "c".into());
        assert_eq!(f.violation_messages(), vec!["a"]);
        assert_eq!(f.warning_messages(), vec!["b"]);
        assert_eq!(f.violations[0].action, Action::Reject);
        assert_eq!(f.warnings[0].action, Action::Warn);
    }

    #[test]
    fn paths_split_into_keys() {
        let cases: [(&str, &[&str]); 5] = [
            ("spec.replicas", &["spec", "replicas"]),
            (
                "metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]",
                &[
                    "metadata",
                    "annotations",
                    "kubectl.kubernetes.io/last-applied-configuration",
                ],
            ),
            ("spec.selector[active]", &["spec", "selector", "active"]),
            (
                "spec.selector.matchExpressions[0].values",
                &["spec", "selector", "matchExpressions", "0", "values"],
            ),
            ("", &[]),
        ];
        for (path, keys) in cases {
            assert_eq!(segments(path), keys, "{path}");
        }
    }
}
