//! What rules return: violations, warnings and an optional mutated object.
//! Rules never build responses; `lib.rs` turns merged findings into one.

use crate::object::Edits;
use crate::settings::Mode;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// The outcome of one or more rules on one object. Messages do not name the
/// object: `lib.rs` prefixes them with `Kind namespace/name`.
#[derive(Debug, Default, PartialEq)]
pub struct Findings {
    /// Each is one problem: the field path, why it is wrong, and the fix.
    pub violations: Vec<String>,
    pub warnings: Vec<String>,
    /// Edits of the object's text; `None` when nothing changes.
    pub mutated: Option<Edits>,
}

impl Findings {
    pub fn is_empty(&self) -> bool {
        self.violations.is_empty() && self.warnings.is_empty() && self.mutated.is_none()
    }

    /// Files a finding according to a rule's mode.
    pub fn report(&mut self, mode: Mode, message: String) {
        match mode {
            Mode::Reject => self.violations.push(message),
            Mode::Warn => self.warnings.push(message),
            Mode::Off => {}
        }
    }

    /// Appends `other`, skipping messages already present (two rules that
    /// both need `spec` report a malformed one once; Rule 2 and
    /// `labelMapValues` word a bad template label alike). Edits of
    /// different maps add up.
    pub fn merge(&mut self, other: Findings) {
        append_unseen(&mut self.violations, other.violations);
        append_unseen(&mut self.warnings, other.warnings);
        match (&mut self.mutated, other.mutated) {
            (Some(edits), Some(more)) => edits.extend(more),
            (mine, Some(more)) => *mine = Some(more),
            (_, None) => {}
        }
    }

    /// Drops the warnings that are also violations: two rules reported the
    /// same problem in different modes, and the rejection says it.
    pub fn drop_warnings_also_rejected(&mut self) {
        if self.violations.is_empty() || self.warnings.is_empty() {
            return;
        }
        // Extended, not collected: collecting a set sorts (crate::order).
        let mut rejected = BTreeSet::new();
        rejected.extend(self.violations.iter().map(String::as_str));
        self.warnings.retain(|w| !rejected.contains(w.as_str()));
    }
}

/// Appends the messages of `items` that `into` does not hold yet, in linear time.
fn append_unseen(into: &mut Vec<String>, items: Vec<String>) {
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
            if !into.iter().take(held).any(|seen| *seen == item) {
                into.push(item);
            }
        }
        return;
    }
    let fresh: Vec<String> = {
        let mut seen = BTreeSet::new();
        seen.extend(into.iter().map(String::as_str));
        items
            .into_iter()
            .filter(|item| !seen.contains(item.as_str()))
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
        findings.report(mode, error.to_string());
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
        f.report(Mode::Reject, "a".into());
        f.report(Mode::Warn, "b".into());
        f.report(Mode::Off, "c".into());
        assert_eq!(f.violations, vec!["a"]);
        assert_eq!(f.warnings, vec!["b"]);
    }
}
