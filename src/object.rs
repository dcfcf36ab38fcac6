//! The object as the rules see it, decoded once from the JSON text that
//! arrived.
//!
//! Only the parts some rule of the kind reads are built into a `Value` (a
//! [`Shape`], chosen in [`crate::rules::shape`]); everything else is skipped
//! without being built. The text itself is kept, so that a mutation is an
//! edit of the bytes that arrived ([`Edits`]): everything outside the edited
//! values stays exactly what the client sent, key order and number spelling
//! included.

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
    /// The value's text is kept in [`Object::captured`]; the value itself is
    /// built too when `build` is set, and reads as null otherwise. At most
    /// one place in a shape captures.
    Captured { build: bool },
    /// Of a map, only the listed keys. Any other JSON type is built whole,
    /// so that rules can say what was found instead of a map.
    Fields(&'static [(&'static str, Shape)]),
}

impl Shape {
    /// Whether some place in this shape is [`Shape::Captured`].
    pub fn captures(self) -> bool {
        match self {
            Shape::Captured { .. } => true,
            Shape::Fields(fields) => fields.iter().any(|(_, shape)| shape.captures()),
            Shape::All | Shape::Present => false,
        }
    }
}

/// A decoded object: its text, the parts its rules read, and the text of
/// the captured value.
#[derive(Debug)]
pub struct Object<'a> {
    /// The object's JSON text, which edits apply to; kept for shapes that
    /// capture (see [`Shaped`]).
    pub text: Option<&'a str>,
    pub value: Value,
    /// The text of the value at the [`Shape::Captured`] place; when a key
    /// repeats, that of its last occurrence (which is also what `value` holds).
    pub captured: Option<&'a RawValue>,
}

impl<'a> Object<'a> {
    /// Decodes `text` (one JSON value) to `shape`.
    pub fn decode(text: &'a str, shape: Shape) -> Result<Object<'a>, serde_json::Error> {
        let mut captured = None;
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

    /// Where `part`, a slice of this object's text (such as a `RawValue`
    /// decoded from it), sits in the text; `None` for any other string, or
    /// when the text was not kept.
    pub fn span_of(&self, part: &str) -> Option<Range<usize>> {
        let text = self.text?;
        let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
        let end = start.checked_add(part.len())?;
        (end <= text.len()).then_some(start..end)
    }
}

/// Decodes an object to a shape straight from the enclosing document, in the
/// same pass, without keeping its text: for shapes that do not capture, whose
/// rules never edit the text. (Capturing shapes need the object's own text:
/// take it as a `RawValue` and use [`Object::decode`].)
pub struct Shaped(pub Shape);

impl<'de> DeserializeSeed<'de> for Shaped {
    type Value = Object<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Object<'de>, D::Error> {
        let mut captured = None;
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
    captured: &'s mut Option<&'a RawValue>,
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
            Shape::Captured { build } => {
                let raw = <&'de RawValue>::deserialize(deserializer)?;
                *self.captured = Some(raw);
                if build {
                    serde_json::from_str(raw.get()).map_err(de::Error::custom)
                } else {
                    Ok(Value::Null)
                }
            }
            Shape::Fields(fields) => deserializer.deserialize_any(FieldsVisitor {
                fields,
                captured: self.captured,
            }),
        }
    }
}

struct FieldsVisitor<'s, 'a> {
    fields: &'static [(&'static str, Shape)],
    captured: &'s mut Option<&'a RawValue>,
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

/// The entries of a JSON map in document order, values unparsed. Unlike a
/// `Map`, building this costs the same per entry at any size.
pub struct Entries<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((Key(key), value)) = map.next_entry()? {
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
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

/// Replacements of spans of an object's text, each by JSON text.
#[derive(Debug, Default, PartialEq)]
pub struct Edits(Vec<(Range<usize>, String)>);

impl Edits {
    pub fn push(&mut self, span: Range<usize>, replacement: String) {
        self.0.push((span, replacement));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with the edits applied; `None` if a span does not fit `text`
    /// or overlaps another.
    pub fn apply(&self, text: &str) -> Option<String> {
        let mut edits: Vec<&(Range<usize>, String)> = self.0.iter().collect();
        edits.sort_unstable_by_key(|(span, _)| span.start);
        let grown: usize = edits.iter().map(|(_, r)| r.len()).sum();
        let mut out = String::with_capacity(text.len() + grown);
        let mut at = 0;
        for (span, replacement) in edits {
            out.push_str(text.get(at..span.start)?);
            out.push_str(replacement);
            at = span.end;
        }
        out.push_str(text.get(at..)?);
        Some(out)
    }
}

/// A mutated object ready to be sent: `text` with `edits` applied, checked
/// to be one JSON value.
pub fn edited(text: &str, edits: &Edits) -> Option<Box<RawValue>> {
    RawValue::from_string(edits.apply(text)?).ok()
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
                ("selector", Shape::Captured { build: false }),
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
        let captured = object.captured.unwrap().get();
        assert_eq!(captured, r#"{"k": true}"#);
        let span = object.span_of(captured).unwrap();
        assert!(SHAPE.captures() && !Shape::Fields(&[("a", Shape::All)]).captures());
        assert_eq!(text.get(span), Some(captured));
        assert_eq!(object.span_of("elsewhere"), None);
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
        assert_eq!(object.captured.unwrap().get(), r#"{"b": 2}"#);
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
    fn entries_keep_document_order_and_repeats() {
        let text = r#"{"b": 1, "a": "x", "b": true, "\u0063": null}"#;
        let Entries(entries) = serde_json::from_str(text).unwrap();
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b", "a", "b", "c"]);
        let values: Vec<&str> = entries.iter().map(|(_, v)| v.get()).collect();
        assert_eq!(values, ["1", r#""x""#, "true", "null"]);
        assert!(serde_json::from_str::<Entries>("[1]").is_err());
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
        let mut edits = Edits::default();
        edits.push(17..19, r#""42""#.into());
        edits.push(6..10, r#""true""#.into());
        assert_eq!(
            edits.apply(text).as_deref(),
            Some(r#"{"a": "true", "b": "42"}"#)
        );
        assert_eq!(
            edited(text, &edits).map(|raw| raw.get().to_string()),
            Some(r#"{"a": "true", "b": "42"}"#.to_string())
        );
        let mut outside = Edits::default();
        outside.push(30..31, String::new());
        assert_eq!(outside.apply(text), None);
        let mut overlapping = Edits::default();
        overlapping.push(6..10, String::new());
        overlapping.push(8..12, String::new());
        assert_eq!(overlapping.apply(text), None);
        assert_eq!(Edits::default().apply(text).as_deref(), Some(text));
    }
}
