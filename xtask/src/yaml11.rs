//! YAML to JSON, resolving plain scalars the way kubectl does.
//!
//! kubectl reads manifests with sigs.k8s.io/yaml over go-yaml v2, which
//! follows YAML 1.1: `yes`/`on`/`y` are `true`, `0x2A` and `052` are `42`,
//! and a key `on:` becomes the key `"true"`. Serde's YAML crates follow
//! YAML 1.2, so this module resolves scalars itself on top of
//! `saphyr-parser`, which reports each scalar's style: only *plain*
//! scalars are resolved, quoted and block scalars always stay strings.
//!
//! [`Schema::Yaml11`] mirrors go-yaml v2's `resolve()` rule for rule, plus
//! the JSON round trip kubectl applies to the result:
//! - a float with an integral value that fits `i64` becomes an integer
//!   (`1.0` prints as `1` in `kubectl -o json`), and an unsigned integer
//!   above `i64::MAX` becomes a float;
//! - `.inf` and `.nan` have no JSON form, so a document holding one is an
//!   error, as it is for kubectl;
//! - timestamps stay strings (go-yaml v2 keeps them as text for `interface{}`);
//! - non-string keys are stringified as sigs.k8s.io/yaml does (`true`,
//!   `42`, floats in Go's `%g` for float32); a null or collection key is an error.
//!
//! [`Schema::Core`] is YAML 1.2's core schema, for files written by
//! serde-yaml (kwctl's host-capabilities replay sessions).
//!
//! Aliases are expanded, and `<<` merge keys are honoured with explicit keys
//! winning over merged ones. Duplicate keys: the last one wins, as in go-yaml v2.

use anyhow::{Context, Result, anyhow, bail};
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// How plain scalars are typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// YAML 1.1 as kubectl (go-yaml v2) reads it.
    Yaml11,
    /// YAML 1.2 core schema, as serde-yaml reads it.
    Core,
}

/// One YAML document: its root value and the root node's tag, if any
/// (`!KubernetesGetResource` for a serde-yaml enum variant).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub tag: Option<String>,
    pub value: Value,
}

/// Parses every document of `text`. An empty document yields `Value::Null`.
pub fn parse(text: &str, schema: Schema) -> Result<Vec<Document>> {
    let mut events = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| anyhow!("invalid YAML: {e}"))?;
        events.push((event, span));
    }
    let mut builder = Builder {
        events,
        pos: 0,
        anchors: HashMap::new(),
        schema,
    };
    builder.stream()
}

/// Parses every document of `text` by YAML 1.1 rules and returns the values.
pub fn from_str(text: &str) -> Result<Vec<Value>> {
    Ok(parse(text, Schema::Yaml11)?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

struct Builder<'a> {
    events: Vec<(Event<'a>, Span)>,
    pos: usize,
    anchors: HashMap<usize, Value>,
    schema: Schema,
}

/// Where a node sits, for error messages: line and column (1-indexed).
fn at(span: &Span) -> String {
    format!("line {} column {}", span.start.line(), span.start.col() + 1)
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        let item = self
            .events
            .get(self.pos)
            .cloned()
            .context("unexpected end of YAML stream")?;
        self.pos += 1;
        Ok(item)
    }

    fn peek(&self) -> Option<&Event<'a>> {
        self.events.get(self.pos).map(|(e, _)| e)
    }

    fn stream(&mut self) -> Result<Vec<Document>> {
        let mut docs = Vec::new();
        loop {
            match self.next()?.0 {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => return Ok(docs),
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    let tag = match self.peek() {
                        Some(Event::Scalar(_, _, _, Some(tag)))
                        | Some(Event::MappingStart(_, Some(tag)))
                        | Some(Event::SequenceStart(_, Some(tag))) => Some(tag_name(tag)),
                        _ => None,
                    };
                    let value = if matches!(self.peek(), Some(Event::DocumentEnd)) {
                        Value::Null
                    } else {
                        self.node()?
                    };
                    if matches!(self.peek(), Some(Event::DocumentEnd)) {
                        self.pos += 1;
                    }
                    docs.push(Document { tag, value });
                }
                other => bail!("unexpected YAML event {other:?}"),
            }
        }
    }

    fn node(&mut self) -> Result<Value> {
        let (event, span) = self.next()?;
        let (anchor, value) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = self
                    .scalar(&text, style, tag.as_deref())
                    .and_then(|scalar| scalar.into_json(&text))
                    .with_context(|| at(&span))?;
                (anchor, value)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                while !matches!(self.peek(), Some(Event::SequenceEnd)) {
                    items.push(self.node()?);
                }
                self.pos += 1;
                (anchor, Value::Array(items))
            }
            Event::MappingStart(anchor, _) => (anchor, Value::Object(self.mapping(&span)?)),
            Event::Alias(id) => {
                let value = self.anchors.get(&id).cloned();
                return value.with_context(|| format!("{}: alias to an unknown anchor", at(&span)));
            }
            other => bail!("{}: unexpected YAML event {other:?}", at(&span)),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }

    fn mapping(&mut self, span: &Span) -> Result<Map<String, Value>> {
        let mut explicit = Map::new();
        let mut merged = Map::new();
        while !matches!(self.peek(), Some(Event::MappingEnd)) {
            let is_merge = matches!(
                self.peek(),
                Some(Event::Scalar(text, ScalarStyle::Plain, _, None)) if text == "<<"
            );
            let key_span = self.events.get(self.pos).map(|(_, s)| *s).unwrap_or(*span);
            let key = self.key().with_context(|| at(&key_span))?;
            let value = self.node()?;
            if is_merge {
                merge_into(&mut merged, value).with_context(|| at(&key_span))?;
            } else {
                explicit.insert(key, value);
            }
        }
        self.pos += 1;
        for (k, v) in merged {
            explicit.entry(k).or_insert(v);
        }
        Ok(explicit)
    }

    /// A mapping key as sigs.k8s.io/yaml stringifies it.
    fn key(&mut self) -> Result<String> {
        if let Some(Event::Scalar(text, style, anchor, tag)) = self.peek() {
            let (text, style, anchor, tag) = (text.clone(), *style, *anchor, tag.clone());
            self.pos += 1;
            let scalar = self.scalar(&text, style, tag.as_deref())?;
            if anchor != 0 {
                self.anchors
                    .insert(anchor, scalar.clone().into_json(&text)?);
            }
            return Ok(match scalar {
                Scalar::Str => text.into_owned(),
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(f) if f.is_nan() => ".nan".to_owned(),
                Scalar::Float(f) if f.is_infinite() => {
                    (if f > 0.0 { ".inf" } else { "-.inf" }).to_owned()
                }
                Scalar::Float(f) => go_format_float32(f),
                Scalar::Uint(u) => bail!("unsupported map key {u} (kubectl refuses it too)"),
                Scalar::Null => bail!("unsupported map key: null (kubectl refuses it too)"),
            });
        }
        match self.node()? {
            Value::String(s) => Ok(s),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Null => bail!("unsupported map key: null (kubectl refuses it too)"),
            other => bail!("unsupported map key {other} (a key must be a scalar)"),
        }
    }

    /// Types a scalar: core-schema tags first, then quoted and block
    /// scalars stay strings, then plain scalars are resolved by the schema.
    fn scalar(&self, text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar> {
        let tag = match tag {
            Some(t) if t.is_yaml_core_schema() => Some(t.suffix.as_str()),
            // A custom tag (`!foo`) on a scalar: go-yaml v2 keeps the text.
            Some(_) => Some("str"),
            None => None,
        };
        let resolve = |text: &str| match self.schema {
            Schema::Yaml11 => resolve_yaml11(text),
            Schema::Core => resolve_core(text),
        };
        match tag {
            Some("str") | Some("binary") => Ok(Scalar::Str),
            Some(expected @ ("null" | "bool" | "int" | "float")) => {
                let scalar = resolve(text);
                let ok = matches!(
                    (&scalar, expected),
                    (Scalar::Null, "null")
                        | (Scalar::Bool(_), "bool")
                        | (Scalar::Int(_) | Scalar::Uint(_), "int" | "float")
                        | (Scalar::Float(_), "float")
                );
                if !ok {
                    bail!("cannot decode {text:?} as !!{expected}");
                }
                Ok(scalar)
            }
            _ if style != ScalarStyle::Plain => Ok(Scalar::Str),
            _ => Ok(resolve(text)),
        }
    }
}

fn tag_name(tag: &Tag) -> String {
    if tag.handle == "!" {
        tag.suffix.clone()
    } else {
        tag.to_string()
    }
}

/// `<<: *a` or `<<: [*a, *b]`: earlier sources win over later ones.
fn merge_into(merged: &mut Map<String, Value>, source: Value) -> Result<()> {
    match source {
        Value::Object(map) => {
            for (k, v) in map {
                merged.entry(k).or_insert(v);
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) => merge_into(merged, item)?,
                    _ => bail!("a merge key `<<` takes mappings only"),
                }
            }
            Ok(())
        }
        _ => bail!("a merge key `<<` takes a mapping or a list of mappings"),
    }
}

/// A resolved plain scalar, before the JSON round trip.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str,
}

impl Scalar {
    /// The value kubectl prints for this scalar (`kubectl -o json`).
    fn into_json(self, text: &str) -> Result<Value> {
        Ok(match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::from(i),
            Scalar::Uint(u) => json_float(u as f64, text)?,
            Scalar::Float(f) => json_float(f, text)?,
            Scalar::Str => Value::String(text.to_owned()),
        })
    }
}

/// Go encodes a float64 with an integral value as an integer literal, and
/// the API machinery decodes that back as int64 when it fits.
fn json_float(f: f64, text: &str) -> Result<Value> {
    kubectl_number(f).with_context(|| {
        format!("{text:?} is {f}, which has no JSON form (kubectl refuses it too); quote it")
    })
}

/// The JSON value kubectl prints for a float64 `f`, as serde_json reads
/// that text back. Go writes an integral float below 1e21 as its shortest
/// round-trip digits padded with zeros (`9223372036854776000` for 2^63),
/// the API machinery reads such digits back as int64 when they fit, and
/// serde_json reads them as i64, u64 or f64. `-0` reads back as `0`.
/// `None` for infinities and NaN, which Go's JSON encoder refuses.
pub fn kubectl_number(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    if f == 0.0 {
        return Some(Value::from(0));
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        // Rust's `Display` for f64 prints exactly Go's `'f', -1` digits.
        return serde_json::from_str(&format!("{f}")).ok();
    }
    Number::from_f64(f).map(Value::Number)
}

/// go-yaml v2 `resolve()` for an untagged plain scalar (YAML 1.1).
fn resolve_yaml11(text: &str) -> Scalar {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match text.as_bytes()[0] {
        // Go's ParseFloat on the text as written (underscores make it fail).
        b'.' => match go_parse_float(text) {
            Some(f) => Scalar::Float(f),
            None => Scalar::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => {
            let plain = text.replace('_', "");
            if let Some(scalar) = go_parse_int_base0(&plain) {
                return scalar;
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Scalar::Float(f);
            }
            Scalar::Str
        }
        _ => Scalar::Str,
    }
}

/// YAML 1.2 core schema.
fn resolve_core(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    let (negative, unsigned) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits(unsigned, 10) {
        return int_scalar(negative, unsigned, 10).unwrap_or(Scalar::Str);
    }
    if let Some(oct) = text.strip_prefix("0o").filter(|s| digits(s, 8)) {
        return int_scalar(false, oct, 8).unwrap_or(Scalar::Str);
    }
    if let Some(hex) = text.strip_prefix("0x").filter(|s| digits(s, 16)) {
        return int_scalar(false, hex, 16).unwrap_or(Scalar::Str);
    }
    if is_yaml_style_float(text)
        && let Some(f) = go_parse_float(text)
    {
        return Scalar::Float(f);
    }
    Scalar::Str
}

fn int_scalar(negative: bool, digits: &str, radix: u32) -> Option<Scalar> {
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            Some(Scalar::Int((magnitude as i128).wrapping_neg() as i64))
        } else {
            None
        }
    } else if let Ok(i) = i64::try_from(magnitude) {
        Some(Scalar::Int(i))
    } else {
        Some(Scalar::Uint(magnitude))
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)`
/// as go-yaml does: sign, then `0x`/`0o`/`0b` prefix, a leading `0` for
/// octal, or decimal. Underscores were removed by the caller.
fn go_parse_int_base0(s: &str) -> Option<Scalar> {
    let (negative, signed, rest) = match s.as_bytes().first().copied()? {
        b'-' => (true, true, &s[1..]),
        b'+' => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let (radix, digits) =
        if let Some(d) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = rest.strip_prefix("0o").or_else(|| rest.strip_prefix("0O")) {
            (8, d)
        } else if let Some(d) = rest.strip_prefix("0b").or_else(|| rest.strip_prefix("0B")) {
            (2, d)
        } else if rest.len() > 1 && rest.starts_with('0') {
            (8, &rest[1..])
        } else {
            (10, rest)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let scalar = int_scalar(negative, digits, radix)?;
    // ParseUint refuses a sign, so `+18446744073709551615` stays a string.
    if signed && matches!(scalar, Scalar::Uint(_)) {
        return None;
    }
    Some(scalar)
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    } else {
        if !digits(&mut i) {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input: an overflow is an
/// error (the scalar then stays a string); underscores are refused.
fn go_parse_float(s: &str) -> Option<f64> {
    if !s
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`, which sigs.k8s.io/yaml uses for
/// float map keys: shortest float32 digits, `%e` form when the exponent is
/// below -4 or at least 6 (e.g. `1e+06`).
fn go_format_float32(f: f64) -> String {
    let f = f as f32;
    let sci = format!("{f:e}"); // shortest round-trip digits: "1.5e0", "-1e6"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        from_str(text).expect("parses").remove(0)
    }

    #[test]
    fn yaml11_booleans_nulls_and_quoted_strings() {
        let v = one(
            "a: yes\nb: On\nc: n\nd: 'yes'\ne: \"on\"\nf: ~\ng:\nh: True\ni: tRUE\nj: |\n  yes\n",
        );
        assert_eq!(
            v,
            json!({"a": true, "b": true, "c": false, "d": "yes", "e": "on", "f": null, "g": null,
                   "h": true, "i": "tRUE", "j": "yes\n"})
        );
    }

    #[test]
    fn yaml11_numbers() {
        let v = one(
            "a: 42\nb: 0x2A\nc: 052\nd: 0b101010\ne: 1_000\nf: -0x1A\ng: 1.5\nh: 1.0\ni: 1e3\nj: 08\n\
             k: .5\nl: 0o52\nm: +12\nt: 1:30\no: 1e400\np: 18446744073709551615\nq: 2001-12-14\nr: \"-\"\ns: 9223372036854775808\n",
        );
        assert_eq!(
            v,
            json!({"a": 42, "b": 42, "c": 42, "d": 42, "e": 1000, "f": -26, "g": 1.5, "h": 1,
                   "i": 1000, "j": 8, "k": 0.5, "l": 42, "m": 12, "t": "1:30", "o": "1e400",
                   "p": 18446744073709551615.0_f64, "q": "2001-12-14", "r": "-", "s": 9223372036854776000_u64})
        );
    }

    #[test]
    fn yaml11_keys_are_stringified() {
        let v = one("on: 1\n42: a\nno: b\n1.5: c\n'on': d\n");
        assert_eq!(
            v,
            json!({"true": 1, "42": "a", "false": "b", "1.5": "c", "on": "d"})
        );
    }

    #[test]
    fn null_key_and_infinity_are_errors() {
        assert!(from_str("~: a\n").is_err());
        assert!(from_str("a: .inf\n").is_err());
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = one("base: &b {x: 1, z: 2}\nother:\n  <<: *b\n  z: 3\nref: *b\n");
        assert_eq!(
            v,
            json!({"base": {"x": 1, "z": 2}, "other": {"x": 1, "z": 3}, "ref": {"x": 1, "z": 2}})
        );
    }

    #[test]
    fn several_documents_and_empty_ones() {
        let docs = from_str("a: 1\n---\n---\nb: yes\n").expect("parses");
        assert_eq!(docs, vec![json!({"a": 1}), Value::Null, json!({"b": true})]);
    }

    #[test]
    fn core_schema_keeps_yaml11_words_as_strings_and_reports_tags() {
        let docs = parse(
            "!KubernetesGetResource\nname: yes\nport: 0x10\nns: null\n",
            Schema::Core,
        )
        .expect("parses");
        assert_eq!(docs[0].tag.as_deref(), Some("KubernetesGetResource"));
        assert_eq!(
            docs[0].value,
            json!({"name": "yes", "port": 16, "ns": null})
        );
    }

    #[test]
    fn go_float32_key_format() {
        assert_eq!(go_format_float32(1.5), "1.5");
        assert_eq!(go_format_float32(0.1), "0.1");
        assert_eq!(go_format_float32(1e6), "1e+06");
        assert_eq!(go_format_float32(0.00001), "1e-05");
    }
}
