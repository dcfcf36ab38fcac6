//! Suppressions: an object's `selector-guard.dev/ignore` annotation (rule
//! IDs, comma-separated) with `selector-guard.dev/ignore-reason` beside it,
//! read by the policy's own parser ([`selector_guard::suppress`]). Here they
//! are always honoured, whatever `honourIgnoreAnnotations` says: CI is where
//! an author says "not here, and why". The IDs are the policy's rules and
//! the pseudo-rule `duplicateObject`.
//!
//! A suppressed finding leaves the output and the exit status; it is
//! counted, and shown with `--show-suppressed`. An annotation that cannot
//! be honoured (no reason, an unknown or empty ID) suppresses nothing and
//! is an error of the pseudo-rule `ignoreAnnotation` at the annotation.

use crate::findings::{DUPLICATE_OBJECT, Finding, IGNORE_ANNOTATION, Severity};
use crate::inputs::Object;
use selector_guard::suppress;

/// `findings` of `object` split into those shown (in their order, with the
/// annotation's problems at its place) and those suppressed (each with its
/// reason in [`Finding::suppressed`]).
pub fn apply(object: &Object, findings: Vec<Finding>) -> (Vec<Finding>, Vec<Finding>) {
    let annotations = object
        .value
        .get("metadata")
        .and_then(|metadata| metadata.get("annotations"));
    // A module run with `honourIgnoreAnnotations` judged the annotation
    // already: it is judged here, once.
    let mut findings: Vec<Finding> = findings
        .into_iter()
        .filter(|f| {
            f.rule != IGNORE_ANNOTATION && !f.message.ends_with(&format!(" [{IGNORE_ANNOTATION}]"))
        })
        .collect();
    match suppress::parse(annotations, &[DUPLICATE_OBJECT]) {
        Ok(None) => (findings, Vec::new()),
        Ok(Some(suppression)) => {
            let (mut suppressed, shown): (Vec<Finding>, Vec<Finding>) = findings
                .into_iter()
                .partition(|f| suppression.rules.contains(&f.rule.as_str()));
            for finding in &mut suppressed {
                finding.suppressed = Some(suppression.reason.clone());
            }
            (shown, suppressed)
        }
        Err(problems) => {
            for problem in problems {
                let path = problem.path.clone();
                let (line, column) = object.place(crate::check::position(object, &path));
                findings.push(Finding {
                    file: object.file.clone(),
                    line,
                    column,
                    severity: Severity::Error,
                    rule: IGNORE_ANNOTATION.to_string(),
                    object: object.name.clone(),
                    path,
                    message: format!("{}: {problem} [{IGNORE_ANNOTATION}]", object.name),
                    suppressed: None,
                });
            }
            // Input order, as `check::findings` sorts (stable: a place's
            // findings keep their order).
            findings.sort_by_key(|f| (f.line, f.column));
            (findings, Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pseudo_rule_is_the_policys() {
        assert_eq!(IGNORE_ANNOTATION, suppress::RULE);
    }
}
