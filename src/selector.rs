//! Label selectors with apimachinery's semantics (`pkg/labels/selector.go`).
//!
//! A selector is `matchLabels` AND every `matchExpressions` requirement.
//! Parsing validates once and reports errors with their field paths; matching
//! is then a small `match` on the operator, with no allocation. A nil
//! selector matches nothing; `{}` matches everything.

use crate::findings::FieldError;
use crate::labels::{self, MapValues};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// Label key → value, with non-string values already converted by
/// [`labels::label_string`].
pub type Labels<'a> = BTreeMap<&'a str, Cow<'a, str>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Operator {
    fn parse(s: &str) -> Option<Operator> {
        match s {
            "In" => Some(Operator::In),
            "NotIn" => Some(Operator::NotIn),
            "Exists" => Some(Operator::Exists),
            "DoesNotExist" => Some(Operator::DoesNotExist),
            _ => None,
        }
    }
}

/// Where a requirement came from, to name its field path in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    MatchLabels,
    /// An entry of a plain map selector (ReplicationController, Service).
    Map,
    /// Index into `matchExpressions`.
    Expression(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Requirement<'a> {
    pub key: &'a str,
    pub operator: Operator,
    /// Non-empty for In and NotIn, empty otherwise.
    pub values: Vec<Cow<'a, str>>,
    pub source: Source,
}

impl Requirement<'_> {
    pub fn matches(&self, labels: &Labels<'_>) -> bool {
        let value = labels.get(self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }

    /// The requirement as `kubectl get -l` takes it: `key=value`,
    /// `key in (a,b)`, `key notin (a,b)`, `key` or `!key`.
    /// Values are sorted, as apimachinery's `Requirement.String` sorts them.
    pub fn kubectl(&self) -> String {
        let sorted = || {
            let mut values: Vec<&str> = self.values.iter().map(|v| v.as_ref()).collect();
            crate::order::sort_by(&mut values, |a, b| a.cmp(b));
            values.dedup();
            values.join(",")
        };
        match (self.operator, self.values.as_slice()) {
            (Operator::In, [value]) => format!("{}={value}", self.key),
            (Operator::In, _) => format!("{} in ({})", self.key, sorted()),
            (Operator::NotIn, _) => format!("{} notin ({})", self.key, sorted()),
            (Operator::Exists, _) => self.key.to_string(),
            (Operator::DoesNotExist, _) => format!("!{}", self.key),
        }
    }

    /// The requirement's field path under `selector_path`.
    pub fn path(&self, selector_path: &str) -> String {
        match self.source {
            Source::MatchLabels => {
                labels::entry_path(&format!("{selector_path}.matchLabels"), self.key)
            }
            Source::Map => labels::entry_path(selector_path, self.key),
            Source::Expression(i) => format!("{selector_path}.matchExpressions[{i}]"),
        }
    }
}

impl fmt::Display for Requirement<'_> {
    /// `app=web` for matchLabels, `release In [a, b]` for expressions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.source, self.operator) {
            (Source::MatchLabels | Source::Map, _) => {
                write!(
                    f,
                    "{}={}",
                    self.key,
                    self.values.first().map(|v| v.as_ref()).unwrap_or("")
                )
            }
            (_, Operator::In | Operator::NotIn) => {
                let op = if self.operator == Operator::In {
                    "In"
                } else {
                    "NotIn"
                };
                write!(f, "{} {op} [{}]", self.key, self.values.join(", "))
            }
            (_, Operator::Exists) => write!(f, "{} Exists", self.key),
            (_, Operator::DoesNotExist) => write!(f, "{} DoesNotExist", self.key),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Selector<'a> {
    /// A nil selector: matches nothing.
    Nothing,
    /// Every requirement must hold; none at all (`{}`) matches everything.
    All(Vec<Requirement<'a>>),
}

impl<'a> Selector<'a> {
    pub fn matches(&self, labels: &Labels<'_>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::All(requirements) => requirements.iter().all(|r| r.matches(labels)),
        }
    }

    /// The requirements `labels` fail, in selector order.
    pub fn unsatisfied<'s>(
        &'s self,
        labels: &'s Labels<'_>,
    ) -> impl Iterator<Item = &'s Requirement<'a>> {
        let requirements = match self {
            Selector::Nothing => &[][..],
            Selector::All(requirements) => requirements.as_slice(),
        };
        requirements.iter().filter(move |r| !r.matches(labels))
    }

    /// The selector as `kubectl get -l` takes it, requirements sorted by key:
    /// `app=rng,tier in (a,b),!canary`. The nil selector is `<none>`, and
    /// `{}` (everything) is the empty string, as kubectl prints them.
    pub fn kubectl(&self) -> String {
        let Selector::All(requirements) = self else {
            return "<none>".to_string();
        };
        let mut sorted: Vec<&Requirement> = requirements.iter().collect();
        crate::order::sort_by_key(&mut sorted, |r| r.key);
        let parts: Vec<String> = sorted.iter().map(|r| r.kubectl()).collect();
        parts.join(",")
    }

    /// True for `{}` (no requirements at all).
    pub fn is_empty(&self) -> bool {
        matches!(self, Selector::All(r) if r.is_empty())
    }

    /// A plain map selector (ReplicationController, Service): AND of equalities.
    pub fn from_labels(labels: &Labels<'a>) -> Selector<'a> {
        Selector::All(
            labels
                .iter()
                .map(|(key, value)| Requirement {
                    key,
                    operator: Operator::In,
                    values: vec![value.clone()],
                    source: Source::Map,
                })
                .collect(),
        )
    }
}

/// The selector a controller applies, for comparing it with other objects:
/// a `LabelSelector`, or with `plain_map` (ReplicationController) a map of
/// equalities that, empty or absent, defaults to the template labels, as
/// the API server defaults it. Invalid requirements and values are left
/// out: the rules that own them report them.
pub fn of_controller<'a>(
    plain_map: bool,
    selector: &'a Value,
    template_labels: &Labels<'a>,
) -> Selector<'a> {
    if !plain_map {
        return parse(Some(selector), "spec.selector").0;
    }
    match selector {
        Value::Object(map) if !map.is_empty() => {
            Selector::from_labels(&parse_labels(Some(selector), "spec.selector").0)
        }
        _ => Selector::from_labels(template_labels),
    }
}

/// Parses a `LabelSelector` at `path`. `None` and `null` are the nil
/// selector. Invalid requirements are reported and left out; every valid
/// one is kept, so matching can still explain what else fails.
pub fn parse<'a>(selector: Option<&'a Value>, path: &str) -> (Selector<'a>, Vec<FieldError>) {
    parse_with(selector, path, NonStrings::Report)
}

/// [`parse`], with non-string `matchLabels` values treated as `non_strings`
/// says.
pub fn parse_with<'a>(
    selector: Option<&'a Value>,
    path: &str,
    non_strings: NonStrings,
) -> (Selector<'a>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let map = match selector {
        None | Some(Value::Null) => return (Selector::Nothing, errors),
        Some(Value::Object(map)) => map,
        Some(other) => {
            errors.push(FieldError::malformed(path, "a label selector map", other));
            return (Selector::Nothing, errors);
        }
    };
    let mut requirements = Vec::new();
    let match_labels_path = format!("{path}.matchLabels");
    let (match_labels, label_errors) =
        parse_labels_with(map.get("matchLabels"), &match_labels_path, non_strings);
    errors.extend(label_errors);
    requirements.extend(match_labels.into_iter().map(|(key, value)| Requirement {
        key,
        operator: Operator::In,
        values: vec![value],
        source: Source::MatchLabels,
    }));
    match map.get("matchExpressions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(expressions)) => {
            for (i, expression) in expressions.iter().enumerate() {
                let expression_path = format!("{path}.matchExpressions[{i}]");
                if let Some(requirement) =
                    parse_expression(expression, i, &expression_path, &mut errors)
                {
                    requirements.push(requirement);
                }
            }
        }
        Some(other) => errors.push(FieldError::malformed(
            format!("{path}.matchExpressions"),
            "a list",
            other,
        )),
    }
    (Selector::All(requirements), errors)
}

fn parse_expression<'a>(
    expression: &'a Value,
    index: usize,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Requirement<'a>> {
    let Value::Object(expression) = expression else {
        errors.push(FieldError::malformed(path, "a requirement map", expression));
        return None;
    };
    let before = errors.len();
    let key = match expression.get("key") {
        None | Some(Value::Null) => {
            errors.push(FieldError::required(format!("{path}.key"), ""));
            None
        }
        Some(Value::String(key)) => {
            for detail in labels::key_errors(key) {
                errors.push(FieldError::invalid(
                    format!("{path}.key"),
                    Value::String(key.clone()),
                    detail,
                ));
            }
            Some(key.as_str())
        }
        Some(other) => {
            errors.push(FieldError::malformed(
                format!("{path}.key"),
                "a string",
                other,
            ));
            None
        }
    };
    let operator = match expression.get("operator") {
        None | Some(Value::Null) => {
            errors.push(FieldError::required(format!("{path}.operator"), ""));
            None
        }
        Some(Value::String(op)) => {
            let parsed = Operator::parse(op);
            if parsed.is_none() {
                // `in`, `notin`, `exists`: the operators are case-sensitive.
                let meant = ["In", "NotIn", "Exists", "DoesNotExist"]
                    .into_iter()
                    .find(|known| known.eq_ignore_ascii_case(op));
                let detail = match meant {
                    Some(meant) => format!("not a valid selector operator; did you mean {meant}?"),
                    None => "not a valid selector operator (In, NotIn, Exists or DoesNotExist)"
                        .to_string(),
                };
                errors.push(FieldError::invalid(
                    format!("{path}.operator"),
                    Value::String(op.clone()),
                    detail,
                ));
            }
            parsed
        }
        Some(other) => {
            errors.push(FieldError::malformed(
                format!("{path}.operator"),
                "a string",
                other,
            ));
            None
        }
    };
    let values_path = || format!("{path}.values");
    let values = parse_values(expression, &values_path, key.unwrap_or(""), errors);
    match (operator, values.is_empty()) {
        (Some(Operator::In | Operator::NotIn), true) => errors.push(FieldError::required(
            values_path(),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        (Some(Operator::Exists | Operator::DoesNotExist), false) => {
            errors.push(FieldError::forbidden(
                values_path(),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ))
        }
        _ => {}
    }
    if errors.len() != before {
        return None;
    }
    Some(Requirement {
        key: key?,
        operator: operator?,
        values,
        source: Source::Expression(index),
    })
}

fn parse_values<'a>(
    expression: &'a Map<String, Value>,
    path: &impl Fn() -> String,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Vec<Cow<'a, str>> {
    let items = match expression.get("values") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            errors.push(FieldError::malformed(path(), "a list of strings", other));
            return Vec::new();
        }
    };
    let mut values = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = || format!("{}[{i}]", path());
        match check_value(item, key, item_path, NonStrings::Report, errors) {
            Some(value) => values.push(value),
            None => continue,
        }
    }
    values
}

/// What parsing does with a non-string scalar where a label value belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonStrings {
    /// Reported (`label values must be strings`) and kept converted.
    Report,
    /// Converted silently: `labelMapValues: mutate` reports and converts it.
    Convert,
}

/// Converts one label value, reporting a non-string (the YAML 1.1 trap,
/// unless `non_strings` is [`NonStrings::Convert`]) or a value that is not
/// valid label syntax, in the words `labelMapValues` uses for the same value.
/// `None` only for maps and lists. `path` is called only to report an error:
/// most values have none, and building every path would cost an allocation
/// per label.
fn check_value<'a>(
    value: &'a Value,
    key: &str,
    path: impl Fn() -> String,
    non_strings: NonStrings,
    errors: &mut Vec<FieldError>,
) -> Option<Cow<'a, str>> {
    let Some(text) = labels::label_string(value) else {
        let detail = labels::not_a_string(MapValues::Labels, crate::findings::type_name(value));
        errors.push(FieldError::never_valid(path(), value, detail));
        return None;
    };
    let syntax = labels::value_errors(&text);
    if value.is_string() {
        for detail in syntax {
            errors.push(FieldError::invalid(path(), value, detail));
        }
    } else if !syntax.is_empty() {
        let shown = labels::shown_as_string(value, &text);
        for detail in syntax {
            errors.push(FieldError::invalid(path(), &shown, detail));
        }
    } else if non_strings == NonStrings::Report {
        let detail = labels::must_be_strings(MapValues::Labels, key, value, &text);
        errors.push(FieldError::invalid(path(), value, detail));
    }
    Some(text)
}

/// Parses a label map (`metadata.labels`, `matchLabels`, a plain selector).
/// `None` and `null` are empty. Non-string values are reported and kept in
/// their converted form, so matching sees what the user most likely meant.
pub fn parse_labels<'a>(map: Option<&'a Value>, path: &str) -> (Labels<'a>, Vec<FieldError>) {
    parse_labels_with(map, path, NonStrings::Report)
}

/// [`parse_labels`], with non-string values treated as `non_strings` says.
pub fn parse_labels_with<'a>(
    map: Option<&'a Value>,
    path: &str,
    non_strings: NonStrings,
) -> (Labels<'a>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let map = match map {
        None | Some(Value::Null) => return (Labels::new(), errors),
        Some(Value::Object(map)) => map,
        Some(other) => {
            errors.push(FieldError::malformed(
                path,
                "a map of label keys to string values",
                other,
            ));
            return (Labels::new(), errors);
        }
    };
    // Inserted one by one: collecting into a map sorts its entries first,
    // and each sort is its own copy of the standard library's sort in the
    // module (crate::order).
    let mut labels = Labels::new();
    for (key, value) in map {
        for detail in labels::key_errors(key) {
            errors.push(FieldError::invalid(
                path,
                Value::String(key.clone()),
                detail,
            ));
        }
        let entry = || labels::entry_path(path, key);
        if let Some(text) = check_value(value, key, entry, non_strings, &mut errors) {
            labels.insert(key.as_str(), text);
        }
    }
    (labels, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
    use serde_json::json;

    fn labels(value: &Value) -> Labels<'_> {
        let (labels, errors) = parse_labels(Some(value), "labels");
        assert!(errors.is_empty(), "{errors:?}");
        labels
    }

    fn selector(value: &Value) -> Selector<'_> {
        let (selector, errors) = parse(Some(value), "spec.selector");
        assert!(errors.is_empty(), "{errors:?}");
        selector
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> Value {
        let requirement = LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        };
        serde_json::to_value(LabelSelector {
            match_expressions: Some(vec![requirement]),
            match_labels: None,
        })
        .expect("serializes")
    }

    /// selector, labels, expected — the table apimachinery's tests use.
    #[test]
    fn operators() {
        let rows: &[(Value, Value, bool)] = &[
            (
                expression("env", "In", &["prod", "staging"]),
                json!({"env": "prod"}),
                true,
            ),
            (
                expression("env", "In", &["prod", "staging"]),
                json!({"env": "dev"}),
                false,
            ),
            (expression("env", "In", &["prod"]), json!({}), false),
            (
                expression("env", "NotIn", &["prod"]),
                json!({"env": "dev"}),
                true,
            ),
            (
                expression("env", "NotIn", &["prod"]),
                json!({"env": "prod"}),
                false,
            ),
            (expression("env", "NotIn", &["prod"]), json!({}), true),
            (expression("env", "Exists", &[]), json!({"env": "x"}), true),
            (expression("env", "Exists", &[]), json!({"env": ""}), true),
            (
                expression("env", "Exists", &[]),
                json!({"other": "x"}),
                false,
            ),
            (expression("env", "DoesNotExist", &[]), json!({}), true),
            (
                expression("env", "DoesNotExist", &[]),
                json!({"env": ""}),
                false,
            ),
            (expression("env", "In", &[""]), json!({"env": ""}), true),
            (expression("env", "In", &["x"]), json!({"env": ""}), false),
            (
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "web", "tier": "x"}),
                true,
            ),
            (
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "api"}),
                false,
            ),
            (
                json!({"matchLabels": {"app": ""}}),
                json!({"app": ""}),
                true,
            ),
            (json!({"matchLabels": {"app": ""}}), json!({}), false),
            (
                json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}),
                json!({"app": "web", "env": "dev"}),
                false,
            ),
            (
                json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}),
                json!({"app": "web", "env": "prod"}),
                true,
            ),
            // Duplicate and contradictory expressions are ANDed.
            (
                json!({"matchExpressions": [
                    {"key": "env", "operator": "Exists"},
                    {"key": "env", "operator": "Exists"}]}),
                json!({"env": "a"}),
                true,
            ),
            (
                json!({"matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["a"]},
                    {"key": "env", "operator": "NotIn", "values": ["a"]}]}),
                json!({"env": "a"}),
                false,
            ),
            (json!({}), json!({}), true),
            (json!({}), json!({"any": "thing"}), true),
            (
                json!({"matchLabels": {}, "matchExpressions": []}),
                json!({"a": "b"}),
                true,
            ),
        ];
        for (sel, lbls, expected) in rows {
            assert_eq!(
                selector(sel).matches(&labels(lbls)),
                *expected,
                "{sel} vs {lbls}"
            );
        }
    }

    #[test]
    fn nil_selector_matches_nothing() {
        for nil in [None, Some(&Value::Null)] {
            let (sel, errors) = parse(nil, "spec.selector");
            assert!(errors.is_empty());
            assert_eq!(sel, Selector::Nothing);
            assert!(!sel.matches(&Labels::new()));
            assert!(!sel.matches(&labels(&json!({"a": "b"}))));
            assert!(!sel.is_empty());
        }
    }

    #[test]
    fn empty_selector_matches_everything() {
        let value = json!({});
        let sel = selector(&value);
        assert!(sel.is_empty());
        assert!(sel.matches(&Labels::new()));
    }

    #[test]
    fn invalid_requirements_use_the_api_wording() {
        let rows = [
            (
                expression("env", "In", &[]),
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
            ),
            (
                expression("env", "NotIn", &[]),
                "must be specified when `operator` is 'In' or 'NotIn'",
            ),
            (
                expression("env", "Exists", &["x"]),
                "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
            (
                expression("env", "DoesNotExist", &["x"]),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
            (
                expression("env", "notin", &["x"]),
                "spec.selector.matchExpressions[0].operator: Invalid value: \"notin\": not a valid selector operator; did you mean NotIn?",
            ),
            (
                expression("env", "Equals", &["x"]),
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Equals\": not a valid selector operator (In, NotIn, Exists or DoesNotExist)",
            ),
            (
                json!({"matchExpressions": [{"operator": "Exists"}]}),
                "spec.selector.matchExpressions[0].key: Required value",
            ),
            (
                json!({"matchExpressions": [{"key": "a"}]}),
                "spec.selector.matchExpressions[0].operator: Required value",
            ),
            (
                expression("-bad", "Exists", &[]),
                "spec.selector.matchExpressions[0].key: Invalid value: \"-bad\": name part must consist",
            ),
            (
                expression("env", "In", &["-x"]),
                "spec.selector.matchExpressions[0].values[0]: Invalid value: \"-x\": a valid label must be",
            ),
            (
                json!({"matchLabels": {"app": "a b"}}),
                "spec.selector.matchLabels[app]: Invalid value: \"a b\"",
            ),
            (
                json!({"matchExpressions": {"key": "a"}}),
                "spec.selector.matchExpressions must be a list, not a map",
            ),
            (
                json!({"matchExpressions": ["a"]}),
                "spec.selector.matchExpressions[0] must be a requirement map, not a string",
            ),
            (
                json!({"matchLabels": ["a"]}),
                "spec.selector.matchLabels must be a map of label keys to string values, not a list",
            ),
            (
                json!({"matchLabels": {"a": {"b": 1}}}),
                "spec.selector.matchLabels[a]: Invalid value: {\"b\":1}: a label value must be a string, not a map",
            ),
            (
                json!([]),
                "spec.selector must be a label selector map, not a list",
            ),
        ];
        for (sel, fragment) in rows {
            let (parsed, errors) = parse(Some(&sel), "spec.selector");
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            assert!(text.iter().any(|e| e.contains(fragment)), "{sel}: {text:?}");
            // An invalid expression is left out rather than guessed at.
            if let (Selector::All(requirements), true) =
                (parsed, sel.get("matchExpressions").is_some())
            {
                assert!(requirements.is_empty(), "{sel}: {requirements:?}");
            }
        }
    }

    #[test]
    fn non_string_values_are_the_yaml_trap_and_still_match() {
        let sel = json!({"matchLabels": {"active": true, "tier": 42}});
        let (parsed, errors) = parse(Some(&sel), "spec.selector");
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[0].starts_with(
            "spec.selector.matchLabels[active]: Invalid value: true: label values must be strings"
        ));
        assert!(text[0].contains(r#"active: "yes""#));
        assert!(text[1].contains(r#"tier: "42""#));
        assert!(parsed.matches(&labels(&json!({"active": "true", "tier": "42"}))));
    }

    #[test]
    fn unsatisfied_lists_failing_requirements_in_order() {
        let sel = json!({"matchLabels": {"app": "web", "tier": "fe"}, "matchExpressions": [
            {"key": "env", "operator": "Exists"}, {"key": "tier", "operator": "NotIn", "values": ["be"]}]});
        let parsed = selector(&sel);
        let template = json!({"app": "api", "tier": "fe"});
        let lbls = labels(&template);
        let failing: Vec<String> = parsed
            .unsatisfied(&lbls)
            .map(|r| format!("{} {r}", r.path("spec.selector")))
            .collect();
        assert_eq!(
            failing,
            vec![
                "spec.selector.matchLabels[app] app=web",
                "spec.selector.matchExpressions[0] env Exists"
            ]
        );
    }

    #[test]
    fn plain_map_selector_is_and_of_equalities() {
        let map = json!({"app": "web", "tier": "fe"});
        let sel = Selector::from_labels(&labels(&map));
        assert!(sel.matches(&labels(&json!({"app": "web", "tier": "fe", "x": "y"}))));
        assert!(!sel.matches(&labels(&json!({"app": "web"}))));
    }
}
