//! The object as the rules see it, decoded once from the JSON text that
//! arrived.
//!
//! Only the parts some rule of the kind reads are built into a `Value` (a
//! [`Shape`], chosen in [`crate::rules::shape`]); everything else is skipped
//! without being built. The text itself is kept, so that a mutation is an
//! edit of the bytes that arrived ([`Edits`]): everything outside the edited
//! values stays exactly what the client sent, key order and number spelling
//! included.

pub use crate::labels::MapValues;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// Which parts of a JSON value to build.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// The whole value.
    All,
    /// Only that the key is there: the value is skipped and reads as null.
    Present,
    /// A label-valued map read entry by entry into [`Object::captured`]
    /// (keys, and values as their text, so that they can be checked and
    /// edited); the value is also built to [`Capture::then`].
    Captured(Capture),
    /// Of a map, only the listed keys. Any other JSON type is built whole,
    /// so that rules can say what was found instead of a map.
    Fields(&'static [(&'static str, Shape)]),
    /// Of a map, the listed keys to their shapes and every other key whole:
    /// for a value rules show as it was sent (a selector).
    Open(&'static [(&'static str, Shape)]),
}

/// A place in an object whose value is a `map[string]string` in the API
/// (labels, annotations, `nodeSelector`, `matchLabels`), captured as text.
#[derive(Clone, Copy, Debug)]
pub struct Capture {
    /// The field path, as messages name it: `spec.template.metadata.labels`.
    pub path: &'static str,
    pub values: MapValues,
    /// What of the value is built into [`Object::value`]: [`Shape::Present`]
    /// when only the text is read.
    pub then: &'static Shape,
}

/// A decoded object: its text, the parts its rules read, and the text of
/// the captured maps.
#[derive(Debug)]
pub struct Object<'a> {
    /// The object's JSON text, when it was decoded from it
    /// ([`Object::decode`]); `None` when it was decoded in the same pass as
    /// the request ([`Shaped`]).
    pub text: Option<&'a str>,
    pub value: Value,
    /// What was found at each [`Shape::Captured`] place that is in the
    /// object, in document order; when a key repeats, at its last occurrence
    /// (which is also what `value` holds). Every value's text is a slice of
    /// the request's payload, which is what [`Edits`] rely on.
    pub captured: Vec<(Capture, Captured<'a>)>,
}

/// What a [`Shape::Captured`] place holds.
#[derive(Clone, Debug)]
pub enum Captured<'a> {
    /// A map: its entries in document order (a repeated key is kept twice),
    /// values unparsed.
    Map(Vec<(Cow<'a, str>, &'a RawValue)>),
    /// `null`, which the API server reads as an empty map.
    Null,
    /// Another JSON type, by its name in messages (`a list`).
    Other(&'static str),
}

impl Captured<'_> {
    /// The map built as a `Value` (a repeated key keeps its last value);
    /// `None` unless it is a map. Values past the nesting limit read as null.
    pub fn to_value(&self) -> Option<Value> {
        let Captured::Map(entries) = self else {
            return None;
        };
        // Extended, not collected: collecting a map sorts its entries.
        let mut map = Map::new();
        map.extend(
            entries
                .iter()
                .map(|(key, raw)| (key.to_string(), value_of(raw).unwrap_or(Value::Null))),
        );
        Some(Value::Object(map))
    }
}

impl<'a> Object<'a> {
    /// Decodes `text` (one JSON value) to `shape`.
    pub fn decode(text: &'a str, shape: Shape) -> Result<Object<'a>, serde_json::Error> {
        let mut captured = Vec::new();
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let value = Prune {
            shape,
            captured: &mut captured,
        }
        .deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(Object {
            text: Some(text),
            value,
            captured,
        })
    }

    /// What was captured at `path`, if the object has that field.
    pub fn captured_at(&self, path: &str) -> Option<&Captured<'a>> {
        self.captured
            .iter()
            .find(|(capture, _)| capture.path == path)
            .map(|(_, found)| found)
    }
}

/// Decodes an object to a shape straight from the enclosing document, in the
/// same pass, without keeping its text. Captured texts are slices of the
/// document, so edits of them apply to the object's text once it is found
/// again (only when there is something to edit).
pub struct Shaped(pub Shape);

impl<'de> DeserializeSeed<'de> for Shaped {
    type Value = Object<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Object<'de>, D::Error> {
        let mut captured = Vec::new();
        let value = Prune {
            shape: self.0,
            captured: &mut captured,
        }
        .deserialize(deserializer)?;
        Ok(Object {
            text: None,
            value,
            captured,
        })
    }
}

struct Prune<'s, 'a> {
    shape: Shape,
    captured: &'s mut Vec<(Capture, Captured<'a>)>,
}

impl<'de> DeserializeSeed<'de> for Prune<'_, 'de> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.shape {
            Shape::All => Value::deserialize(deserializer),
            Shape::Present => {
                IgnoredAny::deserialize(deserializer)?;
                Ok(Value::Null)
            }
            Shape::Captured(capture) => {
                let (found, value) = deserializer.deserialize_any(CaptureVisitor {
                    then: *capture.then,
                })?;
                // A repeated key: only its last occurrence counts.
                self.captured.retain(|(c, _)| c.path != capture.path);
                self.captured.push((capture, found));
                Ok(value)
            }
            Shape::Fields(fields) => deserializer.deserialize_any(FieldsVisitor {
                fields,
                others: false,
                captured: self.captured,
            }),
            Shape::Open(fields) => deserializer.deserialize_any(FieldsVisitor {
                fields,
                others: true,
                captured: self.captured,
            }),
        }
    }
}

/// A map value built from its text: what a label map holds (a string
/// without escapes, a boolean, null) directly, anything else by serde_json.
pub fn value_of(raw: &RawValue) -> Result<Value, serde_json::Error> {
    let text = raw.get();
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Ok(Value::String(inner.to_owned()));
    }
    match text {
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        "null" => Ok(Value::Null),
        _ => serde_json::from_str(text),
    }
}

/// A captured place that holds `value`, which is not a map (nor null), as
/// messages name its type.
fn not_a_map(value: Value) -> (Captured<'static>, Value) {
    (Captured::Other(crate::findings::type_name(&value)), value)
}

/// Reads a [`Shape::Captured`] place: a map entry by entry (values as text),
/// then builds what `then` asks of it from those entries; any other type is
/// built whole.
struct CaptureVisitor {
    then: Shape,
}

impl<'de> Visitor<'de> for CaptureVisitor {
    type Value = (Captured<'de>, Value);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((Key(key), value)) = map.next_entry::<Key, &RawValue>()? {
            entries.push((key, value));
        }
        let value = match self.then {
            Shape::Present => Value::Null,
            Shape::All => {
                let mut all = Map::new();
                for (key, raw) in &entries {
                    all.insert(key.to_string(), value_of(raw).map_err(de::Error::custom)?);
                }
                Value::Object(all)
            }
            Shape::Fields(fields) | Shape::Open(fields) => {
                let mut kept = Map::new();
                for (key, raw) in &entries {
                    let shape = match fields.iter().find(|(name, _)| *name == key.as_ref()) {
                        Some(&(_, shape)) => shape,
                        None if matches!(self.then, Shape::Open(_)) => Shape::All,
                        None => continue,
                    };
                    // Captures nested in a captured map are not kept.
                    let mut inner = serde_json::Deserializer::from_str(raw.get());
                    let value = Prune {
                        shape,
                        captured: &mut Vec::new(),
                    }
                    .deserialize(&mut inner)
                    .map_err(de::Error::custom)?;
                    kept.insert(key.to_string(), value);
                }
                Value::Object(kept)
            }
            Shape::Captured(_) => Value::Null,
        };
        Ok((Captured::Map(entries), value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Built only when a rule reads it, so that nesting past the limit
        // is refused only there.
        if let Shape::Present = self.then {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok((Captured::Other("a list"), Value::Null));
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(not_a_map(Value::Array(items)))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(not_a_map(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(not_a_map(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(not_a_map(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // JSON text has no NaN or infinity, so this is always a number.
        Ok(not_a_map(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(not_a_map(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(not_a_map(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((Captured::Null, Value::Null))
    }
}

struct FieldsVisitor<'s, 'a> {
    fields: &'static [(&'static str, Shape)],
    /// Whether keys not in `fields` are built whole (else skipped).
    others: bool,
    captured: &'s mut Vec<(Capture, Captured<'a>)>,
}

impl<'de> Visitor<'de> for FieldsVisitor<'_, 'de> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(Key(key)) = map.next_key()? {
            match self.fields.iter().find(|(name, _)| *name == key) {
                Some(&(_, shape)) => {
                    let value = map.next_value_seed(Prune {
                        shape,
                        captured: &mut *self.captured,
                    })?;
                    kept.insert(key.into_owned(), value);
                }
                None if self.others => {
                    let value = map.next_value()?;
                    kept.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// A map key, borrowed from the text when it holds no escapes.
pub struct Key<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The JSON type of a value's text, as messages name it (like
/// [`crate::findings::type_name`], without building the value).
pub fn type_name_of(raw: &RawValue) -> &'static str {
    match raw.get().bytes().next() {
        Some(b'{') => "a map",
        Some(b'[') => "a list",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Replacements of parts of an object's text, each by JSON text. A part is
/// known by where it sits in memory: it is a slice of the request's payload
/// (a `RawValue` decoded from it), so the edits apply to whichever slice of
/// that payload holds the object's text.
#[derive(Debug, Default, PartialEq)]
pub struct Edits(Vec<(Range<usize>, String)>);

impl Edits {
    /// Replaces `part`, which must be a slice of the text the edits will be
    /// applied to, by `replacement`.
    pub fn push(&mut self, part: &str, replacement: String) {
        let start = part.as_ptr() as usize;
        self.0.push((start..start + part.len(), replacement));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `other`'s edits (of other parts of the same text).
    pub fn extend(&mut self, other: Edits) {
        self.0.extend(other.0);
    }

    /// `text` with the edits applied; `None` if a part does not lie in
    /// `text` or overlaps another.
    pub fn apply(&self, text: &str) -> Option<String> {
        let base = text.as_ptr() as usize;
        let mut edits: Vec<&(Range<usize>, String)> = self.0.iter().collect();
        crate::order::sort_by_key(&mut edits, |(span, _)| span.start);
        let grown: usize = edits.iter().map(|(_, r)| r.len()).sum();
        let mut out = String::with_capacity(text.len() + grown);
        let mut at = 0;
        for (span, replacement) in edits {
            let start = span.start.checked_sub(base)?;
            let end = span.end.checked_sub(base)?;
            out.push_str(text.get(at..start)?);
            out.push_str(replacement);
            at = end;
        }
        out.push_str(text.get(at..)?);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHAPE: Shape = Shape::Fields(&[
        ("metadata", Shape::Fields(&[("name", Shape::All)])),
        (
            "spec",
            Shape::Fields(&[
                (
                    "selector",
                    Shape::Captured(Capture {
                        path: "spec.selector",
                        values: MapValues::Selector,
                        then: &Shape::Present,
                    }),
                ),
                ("replicas", Shape::Present),
                ("template", Shape::All),
            ]),
        ),
    ]);

    #[test]
    fn only_the_shape_is_built() {
        let text = r#"{"metadata": {"name": "a", "labels": {"x": "y"}},
                       "spec": {"selector": {"k": true}, "replicas": {"deep": [1, 2]},
                                "template": {"t": [1]}, "other": [{"z": 1}]},
                       "status": {}}"#;
        let object = Object::decode(text, SHAPE).unwrap();
        assert_eq!(
            object.value,
            json!({"metadata": {"name": "a"},
                   "spec": {"selector": null, "replicas": null, "template": {"t": [1]}}})
        );
        let Some(Captured::Map(entries)) = object.captured_at("spec.selector") else {
            panic!("a map: {:?}", object.captured);
        };
        let [(key, raw)] = entries.as_slice() else {
            panic!("one entry: {entries:?}");
        };
        assert_eq!((key.as_ref(), raw.get()), ("k", "true"));
        assert_eq!(object.captured.len(), 1);
        assert!(object.captured_at("spec").is_none());
        // The captured text is a slice of the object's text.
        let mut edits = Edits::default();
        edits.push(raw.get(), r#""true""#.into());
        assert!(
            edits
                .apply(text)
                .unwrap()
                .contains(r#""selector": {"k": "true"}"#)
        );
        let copy = String::from(text);
        assert_eq!(edits.apply(&copy), None);
    }

    #[test]
    fn other_types_are_built_whole_where_a_map_belongs() {
        for other in [
            json!("x"),
            json!(1),
            json!(-1),
            json!(1.5),
            json!(true),
            json!(null),
            json!([{"a": 1}]),
        ] {
            let text = json!({"spec": other}).to_string();
            let object = Object::decode(&text, SHAPE).unwrap();
            assert_eq!(object.value, json!({ "spec": other }));
            let text = other.to_string();
            let object = Object::decode(&text, SHAPE).unwrap();
            assert_eq!(object.value, other);
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_and_capture() {
        let text = r#"{"spec": {"selector": {"a": 1}}, "spec": {"selector": {"b": 2}}}"#;
        let object = Object::decode(text, SHAPE).unwrap();
        assert_eq!(
            object
                .captured_at("spec.selector")
                .and_then(Captured::to_value),
            Some(json!({"b": 2}))
        );
        assert_eq!(object.captured.len(), 1);
        let escaped = r#"{"spe\u0063": {"replicas": 1}}"#;
        let object = Object::decode(escaped, SHAPE).unwrap();
        assert_eq!(object.value, json!({"spec": {"replicas": null}}));
    }

    #[test]
    fn bad_text_is_an_error() {
        for bad in ["", "{", r#"{"spec": }"#, "{} {}", "[1,]"] {
            assert!(Object::decode(bad, SHAPE).is_err(), "{bad}");
        }
    }

    #[test]
    fn captured_maps_keep_document_order_and_repeats() {
        const CAPTURE: Shape = Shape::Captured(Capture {
            path: "m",
            values: MapValues::Labels,
            then: &Shape::All,
        });
        let text = r#"{"b": 1, "a": "x", "b": true, "\u0063": null}"#;
        let object = Object::decode(text, CAPTURE).unwrap();
        let Some(Captured::Map(entries)) = object.captured_at("m") else {
            panic!("a map");
        };
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b", "a", "b", "c"]);
        let values: Vec<&str> = entries.iter().map(|(_, v)| v.get()).collect();
        assert_eq!(values, ["1", r#""x""#, "true", "null"]);
        // The built value: a repeated key keeps its last value.
        assert_eq!(object.value, json!({"b": true, "a": "x", "c": null}));
        for (text, found) in [
            ("[1]", "a list"),
            ("true", "a boolean"),
            ("\"s\"", "a string"),
        ] {
            let object = Object::decode(text, CAPTURE).unwrap();
            assert!(
                matches!(object.captured_at("m"), Some(Captured::Other(f)) if *f == found),
                "{text}"
            );
            assert_eq!(object.value, serde_json::from_str::<Value>(text).unwrap());
        }
        let object = Object::decode("null", CAPTURE).unwrap();
        assert!(matches!(object.captured_at("m"), Some(Captured::Null)));
    }

    #[test]
    fn values_are_built_as_serde_json_builds_them() {
        for text in [
            r#""""#,
            r#""a""#,
            r#""a\"b""#,
            r#""\u00e9""#,
            "true",
            "false",
            "null",
            "1.50",
            "-0",
            "1e3",
            "[1]",
            r#"{"a": 1}"#,
            r#""é""#,
        ] {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            assert_eq!(
                value_of(raw).unwrap(),
                serde_json::from_str::<Value>(text).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn type_names_agree() {
        for value in [
            json!({}),
            json!([]),
            json!("s"),
            json!(true),
            json!(false),
            json!(null),
            json!(-1.5e3),
            json!(0),
        ] {
            let raw = serde_json::value::to_raw_value(&value).unwrap();
            assert_eq!(
                type_name_of(&raw),
                crate::findings::type_name(&value),
                "{value}"
            );
        }
    }

    #[test]
    fn edits_replace_spans() {
        let text = r#"{"a": true, "b": 42}"#;
        let part = |range: Range<usize>| text.get(range).unwrap();
        let mut edits = Edits::default();
        edits.push(part(17..19), r#""42""#.into());
        edits.push(part(6..10), r#""true""#.into());
        assert_eq!(
            edits.apply(text).as_deref(),
            Some(r#"{"a": "true", "b": "42"}"#)
        );
        let mut outside = Edits::default();
        outside.push("elsewhere", String::new());
        assert_eq!(outside.apply(text), None);
        // A part of the text that was copied is not a part of the copy.
        let copy = String::from(text);
        assert_eq!(edits.apply(&copy), None);
        let mut overlapping = Edits::default();
        overlapping.push(part(6..10), String::new());
        overlapping.push(part(8..12), String::new());
        assert_eq!(overlapping.apply(text), None);
        let mut merged = Edits::default();
        merged.extend(edits);
        assert_eq!(
            merged.apply(text).as_deref(),
            Some(r#"{"a": "true", "b": "42"}"#)
        );
        assert_eq!(Edits::default().apply(text).as_deref(), Some(text));
    }
}
