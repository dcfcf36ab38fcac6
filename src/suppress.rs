//! Suppressions: an object's `selector-guard.dev/ignore` annotation names
//! the rules whose findings do not apply to it (comma-separated rule IDs,
//! the settings keys), and `selector-guard.dev/ignore-reason` beside it
//! says why. The one parser of both places that honour them: the CLI,
//! always, and admission, only with `honourIgnoreAnnotations` (`lib.rs`
//! then turns the named rules off for that one object).
//!
//! - No wildcard: each suppression names what it silences (`*` is an
//!   unknown ID).
//! - IDs are trimmed; an empty one (an empty value, `a,,b`, a trailing
//!   comma) is an error, and so is an unknown one, named. `daemonSetFields`,
//!   the old name of `specFields`, is `specFields`.
//! - The reason is required and must not be blank. A reason without an
//!   ignore is harmless: it is what is left when the last ID is removed.
//! - A value that is not a string is an error (kubectl refuses it anyway).
//! - An annotation with any error suppresses nothing.

use crate::findings::FieldError;
use crate::rules::RULES;
use serde_json::Value;

/// The annotation that names the suppressed rules.
pub const IGNORE: &str = "selector-guard.dev/ignore";
/// The annotation that says why.
pub const REASON: &str = "selector-guard.dev/ignore-reason";
/// The field path of [`IGNORE`], where every problem with it is reported.
pub const IGNORE_PATH: &str = "metadata.annotations[selector-guard.dev/ignore]";
/// The pseudo-rule of an ignore annotation that cannot be honoured.
pub const RULE: &str = "ignoreAnnotation";

/// What a valid ignore annotation suppresses, and why.
#[derive(Debug, PartialEq)]
pub struct Suppression {
    /// The rule IDs, as given (`daemonSetFields` as `specFields`), each once.
    pub rules: Vec<&'static str>,
    /// The reason, trimmed.
    pub reason: String,
}

/// The suppression `annotations` (an object's `metadata.annotations`)
/// declare: `Ok(None)` without an ignore annotation, `Err` with every
/// problem of one that cannot be honoured. `extra` are the IDs the caller
/// knows besides the rules' (the CLI's pseudo-rule `duplicateObject`).
pub fn parse(
    annotations: Option<&Value>,
    extra: &[&'static str],
) -> Result<Option<Suppression>, Vec<FieldError>> {
    let Some(ignore) = annotations.and_then(|a| a.get(IGNORE)) else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    let mut rules = Vec::new();
    match ignore {
        Value::String(list) => {
            for id in list.split(',').map(str::trim) {
                match known(id, extra) {
                    Some(id) if !rules.contains(&id) => rules.push(id),
                    Some(_) => {}
                    None => problems.push(unknown(list, id)),
                }
            }
        }
        other => problems.push(FieldError::malformed(IGNORE_PATH, "a string", other)),
    }
    let reason = match annotations.and_then(|a| a.get(REASON)) {
        Some(Value::String(reason)) if !reason.trim().is_empty() => reason.trim(),
        Some(other) if !other.is_string() => {
            problems.push(FieldError::malformed(
                "metadata.annotations[selector-guard.dev/ignore-reason]",
                "a string",
                other,
            ));
            ""
        }
        _ => {
            problems.push(FieldError::invalid(
                IGNORE_PATH,
                ignore,
                "a suppression needs a reason: add the annotation selector-guard.dev/ignore-reason beside it, saying why these rules do not apply to this object",
            ));
            ""
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(Suppression {
        rules,
        reason: reason.to_string(),
    }))
}

/// `id` as the rule or pseudo-rule it names, if it names one.
fn known(id: &str, extra: &[&'static str]) -> Option<&'static str> {
    let id = if id == "daemonSetFields" {
        "specFields"
    } else {
        id
    };
    RULES
        .iter()
        .map(|rule| rule.id)
        .chain(extra.iter().copied())
        .find(|known| *known == id)
}

/// The problem with `id`, an entry of `list` that names no rule.
fn unknown(list: &str, id: &str) -> FieldError {
    if id.is_empty() {
        return FieldError::invalid(
            IGNORE_PATH,
            crate::labels::json_quoted(list),
            "an empty rule ID: list rule IDs separated by commas, e.g. specFields,templateLabels",
        );
    }
    FieldError::invalid(
        IGNORE_PATH,
        crate::labels::json_quoted(id),
        "not a rule ID: name each rule suppressed by its ID, its settings key (the README's rules table: specFields, templateLabels, ...)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const UNKNOWN: &str = "not a rule ID: name each rule suppressed by its ID, its settings key (the README's rules table: specFields, templateLabels, ...)";

    fn parsed(annotations: Value) -> Result<Option<Suppression>, Vec<String>> {
        parse(Some(&annotations), &["duplicateObject"])
            .map_err(|problems| problems.iter().map(ToString::to_string).collect())
    }

    fn suppression(
        rules: &[&'static str],
        reason: &str,
    ) -> Result<Option<Suppression>, Vec<String>> {
        Ok(Some(Suppression {
            rules: rules.to_vec(),
            reason: reason.to_string(),
        }))
    }

    #[test]
    fn ids_are_trimmed_and_each_kept_once() {
        assert_eq!(
            parsed(json!({
                IGNORE: " specFields ,labelMapValues,  duplicateObject,specFields",
                REASON: "  a migration, until Friday ",
            })),
            suppression(
                &["specFields", "labelMapValues", "duplicateObject"],
                "a migration, until Friday"
            )
        );
    }

    #[test]
    fn the_old_name_of_spec_fields_is_spec_fields() {
        assert_eq!(
            parsed(json!({IGNORE: "daemonSetFields,specFields", REASON: "r"})),
            suppression(&["specFields"], "r")
        );
    }

    #[test]
    fn no_ignore_annotation_is_no_suppression() {
        for annotations in [
            json!({}),
            json!(null),
            json!(["a list"]),
            json!({REASON: "a reason left behind is harmless"}),
            json!({"selector-guard.dev/ignored": "specFields"}),
        ] {
            assert_eq!(parsed(annotations.clone()), Ok(None), "{annotations}");
        }
        assert_eq!(parse(None, &[]), Ok(None));
    }

    #[test]
    fn a_suppression_needs_a_reason() {
        for annotations in [
            json!({IGNORE: "specFields"}),
            json!({IGNORE: "specFields", REASON: ""}),
            json!({IGNORE: "specFields", REASON: " \n\t"}),
        ] {
            assert_eq!(
                parsed(annotations.clone()),
                Err(vec![
                    "metadata.annotations[selector-guard.dev/ignore]: Invalid value: \"specFields\": a suppression needs a reason: add the annotation selector-guard.dev/ignore-reason beside it, saying why these rules do not apply to this object".to_string()
                ]),
                "{annotations}"
            );
        }
    }

    #[test]
    fn an_unknown_id_is_named() {
        assert_eq!(
            parsed(json!({IGNORE: "specFields,replicas", REASON: "r"})),
            Err(vec![format!(
                "metadata.annotations[selector-guard.dev/ignore]: Invalid value: \"replicas\": {UNKNOWN}"
            )])
        );
        // IDs are case-sensitive, as settings keys are.
        let problems =
            parsed(json!({IGNORE: "labelmapvalues", REASON: "r"})).expect_err("case matters");
        assert!(
            problems[0].contains("\"labelmapvalues\": not a rule ID"),
            "{problems:?}"
        );
    }

    #[test]
    fn no_wildcard() {
        let problems =
            parsed(json!({IGNORE: "*", REASON: "r"})).expect_err("a wildcard names no rule");
        assert!(problems[0].contains("\"*\": not a rule ID"), "{problems:?}");
    }

    #[test]
    fn an_empty_id_is_an_error() {
        for list in [
            "",
            " ",
            "specFields,",
            "specFields,,templateLabels",
            ",specFields",
        ] {
            let problems = parsed(json!({IGNORE: list, REASON: "r"})).expect_err(list);
            assert_eq!(problems.len(), 1, "{list:?}: {problems:?}");
            assert!(
                problems[0].contains(": an empty rule ID: list rule IDs separated by commas"),
                "{list:?}: {problems:?}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let problems = parsed(json!({IGNORE: "nope,specFields,also"})).expect_err("three");
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("\"nope\""));
        assert!(problems[1].contains("\"also\""));
        assert!(problems[2].contains("a suppression needs a reason"));
    }

    #[test]
    fn values_that_are_not_strings_are_errors() {
        assert_eq!(
            parsed(json!({IGNORE: ["specFields"], REASON: "r"})),
            Err(vec![
                "metadata.annotations[selector-guard.dev/ignore] must be a string, not a list"
                    .to_string()
            ])
        );
        assert_eq!(
            parsed(json!({IGNORE: "specFields", REASON: true})),
            Err(vec![
                "metadata.annotations[selector-guard.dev/ignore-reason] must be a string, not a boolean"
                    .to_string()
            ])
        );
    }

    #[test]
    fn the_ids_are_the_rules_settings_keys() {
        for rule in RULES {
            assert_eq!(known(rule.id, &[]), Some(rule.id));
        }
        assert_eq!(
            known("duplicateObject", &[]),
            None,
            "only when the caller knows it"
        );
        assert_eq!(
            known(RULE, &[]),
            None,
            "a broken annotation cannot silence itself"
        );
    }
}
