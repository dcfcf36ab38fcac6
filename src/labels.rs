//! Label syntax (apimachinery's `IsQualifiedName` and `IsValidLabelValue`)
//! and the one answer to "what string does this JSON value become".

use serde_json::Value;
use std::borrow::Cow;

const NAME_MAX: usize = 63;
const PREFIX_MAX: usize = 253;
const QUALIFIED_NAME: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, without a regex engine.
fn is_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// RFC 1123 subdomain: dot-separated labels of `[a-z0-9]([-a-z0-9]*[a-z0-9])?`,
/// checked in one pass: a `-` may not follow a dot or the start, a dot may
/// not follow a dot, a `-` or the start, and the last byte must be
/// alphanumeric.
fn is_dns1123_subdomain(s: &str) -> bool {
    let mut previous = b'.';
    for &byte in s.as_bytes() {
        let allowed = match byte {
            b'a'..=b'z' | b'0'..=b'9' => true,
            b'-' => previous != b'.',
            b'.' => previous != b'.' && previous != b'-',
            _ => false,
        };
        if !allowed {
            return false;
        }
        previous = byte;
    }
    previous.is_ascii_lowercase() || previous.is_ascii_digit()
}

/// Whether [`key_errors`] is empty, without building anything: nearly every
/// key is valid, and this is what a request with thousands of labels costs.
fn is_valid_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    name.len() <= NAME_MAX
        && is_qualified_name_part(name)
        && prefix.is_none_or(|prefix| prefix.len() <= PREFIX_MAX && is_dns1123_subdomain(prefix))
}

/// Problems with a label key, in the API server's words; empty when valid.
pub fn key_errors(key: &str) -> Vec<String> {
    if is_valid_key(key) {
        return Vec::new();
    }
    key_problems(key)
}

/// [`key_errors`] for a key already known to be invalid.
fn key_problems(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let mut parts = key.splitn(3, '/');
    let (prefix, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(name), None, _) => (None, name),
        (Some(prefix), Some(name), None) => (Some(prefix), name),
        _ => {
            errors.push(format!(
                "a qualified name {QUALIFIED_NAME} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return errors;
        }
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            errors.push("prefix part must be non-empty".to_string());
        } else {
            if prefix.len() > PREFIX_MAX {
                errors.push(format!(
                    "prefix part must be no more than {PREFIX_MAX} characters"
                ));
            }
            if !is_dns1123_subdomain(prefix) {
                errors.push(format!("prefix part {SUBDOMAIN}"));
            }
        }
    }
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > NAME_MAX {
        errors.push(format!(
            "name part must be no more than {NAME_MAX} characters"
        ));
    }
    if !is_qualified_name_part(name) {
        errors.push(format!("name part {QUALIFIED_NAME}"));
    }
    errors
}

/// Problems with a label value, in the API server's words; empty when valid.
pub fn value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > NAME_MAX {
        errors.push(format!("must be no more than {NAME_MAX} characters"));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errors.push(LABEL_VALUE.to_string());
    }
    errors
}

/// The string a JSON value becomes where a label value belongs, as
/// sigs.k8s.io/yaml converts YAML scalars for a string target: booleans as
/// `true`/`false`, integers in decimal, floats by Go's
/// `strconv.FormatFloat(f, 'g', -1, 32)`, and null as the empty string
/// (the API server decodes a null map value so). Maps and lists have no
/// string form: `None`.
pub fn label_string(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Null => Some(Cow::Borrowed("")),
        Value::Number(n) => Some(Cow::Owned(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => go_format_float32(f),
            (None, None, None) => n.to_string(),
        })),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest digits that
/// round-trip as float32, in `%e` form when the exponent is < -4 or >= 6
/// (Go uses precision 6 for that choice when digits are shortest).
pub fn go_format_float32(f: f64) -> String {
    // Rounding to float32 is Go's bitSize 32; out-of-range values become ±Inf.
    let f = f as f32;
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0");
    }
    let (digits, exp) = shortest_digits(f.abs());
    let nd = digits.len() as i32;
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{exp_sign}{:02}", exp.abs());
    }
    let dp = exp + 1; // digits before the decimal point
    let mut out = String::from(sign);
    if dp <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-dp) as usize));
        out.push_str(&digits);
    } else if dp >= nd {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (dp - nd) as usize));
    } else {
        let (int, frac) = digits.split_at(dp as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// The shortest decimal digits that read back as `f` (finite, > 0), without
/// leading or trailing zeros, and the power of ten of the first digit:
/// `1.5e-7` is `("15", -7)`, `123456` is `("123456", 5)`. zmij prints
/// `d.ddd`, `0.000ddd` or `d.ddde<exp>`; the digits and exponent are the
/// same whichever it chose.
fn shortest_digits(f: f32) -> (String, i32) {
    let mut buffer = zmij::Buffer::new();
    let printed = buffer.format_finite(f);
    let (mantissa, exp) = printed.split_once('e').unwrap_or((printed, "0"));
    let exp: i32 = exp.trim_start_matches('+').parse().unwrap_or(0);
    let point = mantissa.find('.').unwrap_or(mantissa.len()) as i32;
    let all: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0').to_string();
    (digits, point - 1 - leading as i32 + exp)
}

/// Plain scalars that YAML 1.1 would not read as a string, so a key spelled
/// like this must be quoted in a fix.
fn needs_yaml_quotes(s: &str) -> bool {
    const SPECIAL: [&str; 25] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null",
    ];
    s.is_empty()
        || SPECIAL.contains(&s)
        || s == "NULL"
        || s.starts_with(|c: char| c.is_ascii_digit() || "-+.!&*#?|>'\"%@`[]{},".contains(c))
        || s.as_bytes().windows(2).any(|w| w == b": " || w == b" #")
}

/// `s` as a JSON string literal, the same text as `Value::String(s)`
/// displays (`"a\"b"`).
pub fn json_quoted(s: &str) -> String {
    let mut quoted = String::with_capacity(s.len() + 2);
    push_json_quoted(&mut quoted, s);
    quoted
}

/// Appends [`json_quoted`] of `s`, without building a `Value` when nothing
/// needs escaping: serde_json escapes only `"`, `\` and control characters.
fn push_json_quoted(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Value::String(s.to_string()).to_string());
    }
}

/// A `key: "value"` line for a fix. The value is always quoted: the unquoted
/// form is the bug.
pub fn quoted_entry(key: &str, value: &str) -> String {
    let mut entry = String::with_capacity(key.len() + value.len() + 6);
    if needs_yaml_quotes(key) {
        push_json_quoted(&mut entry, key);
    } else {
        entry.push_str(key);
    }
    entry.push_str(": ");
    push_json_quoted(&mut entry, value);
    entry
}

/// Why a non-string scalar is where a label value belongs, and how to keep
/// what was meant. `as_string` is [`label_string`] of `value`. Kept short:
/// the API server may truncate warnings over 256 characters.
pub fn yaml_trap(key: &str, value: &Value, as_string: &str) -> String {
    // Assembled from parts rather than formatted: this runs per converted
    // value, on the mutation path.
    let meant = quoted_entry(key, as_string);
    match value {
        Value::Bool(b) => {
            let (spellings, alternative) = if *b {
                ("yes, on and y as true", "yes")
            } else {
                ("no, off and n as false", "no")
            };
            [
                "YAML 1.1 reads unquoted ",
                spellings,
                ", and only quoting keeps the spelling meant: ",
                &quoted_entry(key, alternative),
                " or ",
                &meant,
            ]
            .concat()
        }
        Value::Number(_) => [
            "spellings such as 0x2A, 010, 1.10 or 1e3 are lost, and a short hash such as 81111e1 becomes 811110: quote hex IDs, hashes and versions, as meant: ",
            &meant,
        ]
        .concat(),
        _ => [
            "YAML reads unquoted ~, null or nothing as null; quote the value as meant: ",
            &meant,
        ]
        .concat(),
    }
}

/// Describes a JSON value in a message: `the boolean true`, `the number 42`.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Bool(true) => "the boolean true".to_string(),
        Value::Bool(false) => "the boolean false".to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::Null => "null".to_string(),
        Value::String(s) => format!("the string {}", json_quoted(s)),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a map".to_string(),
    }
}

/// `path[key]`, the API server's notation for a map entry.
pub fn entry_path(map_path: &str, key: &str) -> String {
    let mut path = String::with_capacity(map_path.len() + key.len() + 2);
    path.push_str(map_path);
    path.push('[');
    path.push_str(key);
    path.push(']');
    path
}

/// What a captured map holds, which decides the syntax its keys and values
/// must have and the rule that converts its non-string values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapValues {
    /// A Service's or ReplicationController's `spec.selector`: label keys
    /// and values, converted by `serviceSelectorValues` (Rule 3).
    Selector,
    /// Label keys and values (`labels`, `nodeSelector`, `matchLabels`),
    /// converted by `labelMapValues`.
    Labels,
    /// Annotation keys (qualified names, compared in lower case) and any
    /// string values, converted by `labelMapValues`.
    Annotations,
}

/// What a map of this kind is, in a malformed-map message.
pub fn expected_map(values: MapValues) -> &'static str {
    match values {
        MapValues::Annotations => "a map of annotation keys to string values",
        MapValues::Selector | MapValues::Labels => "a map of label keys to string values",
    }
}

/// Problems with a key of a map of this kind, in the API server's words.
pub fn map_key_errors(values: MapValues, key: &str) -> Vec<String> {
    match values {
        // ValidateAnnotations checks strings.ToLower(key).
        MapValues::Annotations if key.bytes().any(|b| b.is_ascii_uppercase()) => {
            key_errors(&key.to_ascii_lowercase())
        }
        _ => key_errors(key),
    }
}

/// Problems with a string value of a map of this kind; annotation values
/// may be any string.
pub fn map_value_errors(values: MapValues, value: &str) -> Vec<String> {
    match values {
        MapValues::Annotations => Vec::new(),
        MapValues::Selector | MapValues::Labels => value_errors(value),
    }
}

/// Why a value that has no string form (a map, a list) is refused.
pub fn not_a_string(values: MapValues, found: &str) -> String {
    let what = match values {
        MapValues::Annotations => "an annotation value",
        MapValues::Selector | MapValues::Labels => "a label value",
    };
    ["", what, " must be a string, not ", found].concat()
}

/// Why a non-string scalar is refused, in `reject` and `warn` modes:
/// `label values must be strings; <what YAML did and the quoted fix>`.
pub fn must_be_strings(values: MapValues, key: &str, value: &Value, text: &str) -> String {
    let what = match values {
        MapValues::Annotations => "annotation values must be strings; ",
        MapValues::Selector | MapValues::Labels => "label values must be strings; ",
    };
    [what, &yaml_trap(key, value, text)].concat()
}

/// How a non-string value with a string form, whose string is not valid
/// syntax, is shown: `-1 (as a string "-1")`.
pub fn shown_as_string(value: &Value, text: &str) -> String {
    format!("{value} (as a string {})", json_quoted(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_string_follows_sigs_k8s_io_yaml() {
        let cases = [
            (json!(true), "true"),
            (json!(false), "false"),
            (json!(42), "42"),
            (json!(-7), "-7"),
            (json!(18446744073709551615u64), "18446744073709551615"),
            (json!(1.5), "1.5"),
            (json!(1.0), "1"),
            (json!(0.1), "0.1"),
            (json!(1e3), "1000"),
            (json!(123456.0), "123456"),
            (json!(1234567.0), "1.234567e+06"),
            (json!(1e21), "1e+21"),
            (json!(0.0001), "0.0001"),
            (json!(0.00001), "1e-05"),
            (json!(std::f64::consts::PI), "3.1415927"),
            // An exact tie between 23.257812 and 23.257813: Go rounds to even.
            (json!(23.2578125), "23.257812"),
            (json!(-2.5), "-2.5"),
            (json!(1e300), "+Inf"),
            (json!(null), ""),
            (json!("x"), "x"),
        ];
        for (value, expected) in cases {
            assert_eq!(label_string(&value).as_deref(), Some(expected), "{value}");
        }
        assert_eq!(label_string(&json!({})), None);
        assert_eq!(label_string(&json!([])), None);
    }

    #[test]
    fn shortest_digits_agree_with_rusts_shortest_round_trip_printing() {
        // Rust's `{:e}` prints the shortest round-trip digits as
        // `d[.ddd]e<exp>`: the same digits and exponent, another spelling.
        // Where two shortest candidates are equally near (23.2578125 as
        // 23.257812 or 23.257813), Rust rounds the tie up and Go's
        // ryuFtoaShortest to even (`cNextDigit == 5 && c0 && central&1 == 1`);
        // zmij rounds to even, as Go does.
        let mut checked = 0;
        let mut ties = 0;
        for bits in (0x0000_0001u32..0x7f80_0000).step_by(7_919) {
            let f = f32::from_bits(bits);
            let sci = format!("{f:e}");
            let (mantissa, exp) = sci.split_once('e').expect("an exponent");
            let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
            let expected: (String, i32) = (
                digits.trim_end_matches('0').to_string(),
                exp.parse().expect("int"),
            );
            let ours = shortest_digits(f);
            checked += 1;
            if ours == expected {
                continue;
            }
            // A tie: same length and exponent, one apart, ours even.
            let (a, b) = (ours.0.as_bytes(), expected.0.as_bytes());
            let (a_last, b_last) = (a.last().copied(), b.last().copied());
            assert!(
                ours.1 == expected.1
                    && a.len() == b.len()
                    && a.get(..a.len() - 1) == b.get(..b.len() - 1)
                    && a_last
                        .zip(b_last)
                        .is_some_and(|(x, y)| y == x + 1 && x % 2 == 0),
                "{f:e}: {ours:?} against {expected:?}"
            );
            ties += 1;
        }
        assert!(checked > 250_000, "{checked}");
        assert!(ties < checked / 100, "{ties} ties of {checked}");
    }

    #[test]
    fn keys() {
        for ok in [
            "app",
            "app.kubernetes.io/name",
            "a",
            "A_b-c.d",
            "example.com/X",
            &"a".repeat(63),
        ] {
            assert!(key_errors(ok).is_empty(), "{ok}: {:?}", key_errors(ok));
        }
        let bad = [
            ("", "name part must be non-empty"),
            ("-app", "name part must consist"),
            ("app-", "name part must consist"),
            ("/app", "prefix part must be non-empty"),
            ("Example.com/app", "prefix part a lowercase RFC 1123"),
            ("a/b/c", "a qualified name must consist"),
            ("example.com/", "name part must be non-empty"),
        ];
        for (key, fragment) in bad {
            let errors = key_errors(key).join("; ");
            assert!(errors.contains(fragment), "{key:?}: {errors}");
        }
        let long_name = "a".repeat(64);
        assert!(key_errors(&long_name)[0].contains("no more than 63"));
        let long_prefix = format!("{}/a", "a".repeat(254));
        assert!(key_errors(&long_prefix)[0].contains("no more than 253"));
    }

    #[test]
    fn values() {
        for ok in ["", "a", "1.5", "true", "my_value", &"v".repeat(63)] {
            assert!(value_errors(ok).is_empty(), "{ok}");
        }
        for bad in ["-1", "1e+21", "a b", "_x", &"v".repeat(64), "+Inf"] {
            assert!(!value_errors(bad).is_empty(), "{bad}");
        }
    }

    /// The split-based subdomain check the one-pass one replaced.
    fn is_dns1123_subdomain_by_labels(s: &str) -> bool {
        s.split('.').all(|label| {
            let bytes = label.as_bytes();
            match (bytes.first(), bytes.last()) {
                (Some(first), Some(last)) => {
                    (first.is_ascii_lowercase() || first.is_ascii_digit())
                        && (last.is_ascii_lowercase() || last.is_ascii_digit())
                        && bytes
                            .iter()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                }
                _ => false,
            }
        })
    }

    /// Every string of up to six bytes over an alphabet with each class the
    /// checks tell apart: the fast paths agree with the detailed ones.
    #[test]
    fn fast_key_checks_agree_with_the_detailed_ones() {
        const ALPHABET: &[u8] = b"a0-._/A";
        let mut strings = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..6 {
            last = last
                .iter()
                .flat_map(|s| {
                    ALPHABET.iter().map(move |&c| {
                        let mut next = s.clone();
                        next.push(char::from(c));
                        next
                    })
                })
                .collect();
            strings.extend(last.iter().cloned());
        }
        let long = [
            "a".repeat(63),
            "a".repeat(64),
            format!("{}/a", "a".repeat(253)),
            format!("{}/a", "a".repeat(254)),
        ];
        strings.extend(long);
        for s in &strings {
            assert_eq!(
                is_dns1123_subdomain(s),
                is_dns1123_subdomain_by_labels(s),
                "{s:?}"
            );
            assert_eq!(is_valid_key(s), key_problems(s).is_empty(), "{s:?}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted_entry("active", "yes"), r#"active: "yes""#);
        assert_eq!(quoted_entry("true", "x"), r#""true": "x""#);
        assert_eq!(quoted_entry("on", ""), r#""on": """#);
    }
}
