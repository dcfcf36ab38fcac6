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
use saphyr_parser::{Event, Parser, ScalarStyle, Span, StrInput, Tag};
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
    /// The root node's tag, without the `!` handle for local tags.
    pub tag: Option<String>,
    /// The document as JSON, as kubectl prints it.
    pub value: Value,
}

/// What one document may cost the reader. Past a bound, reading stops with
/// an error instead of running away in time, memory or stack.
///
/// Aliases are bounded as go-yaml v2 bounds them, always (see
/// [`EXCESSIVE_ALIASING`]); these limits add what go-yaml leaves to the
/// caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of sequences and mappings, aliases expanded.
    pub max_depth: usize,
    /// Longest document, in characters of YAML text.
    pub max_document_chars: usize,
}

impl Default for Limits {
    /// 128 levels, where serde_json (and so the policy) stops too, and
    /// 8 MiB of text: the API server refuses requests above 3 MiB. At 128
    /// levels the reader stays within a 2 MiB thread stack, unoptimized.
    fn default() -> Limits {
        Limits {
            max_depth: 128,
            max_document_chars: 8 << 20,
        }
    }
}

/// go-yaml v2's error for a document whose aliases expand too much, with
/// the `yaml: ` prefix kubectl prints.
pub const EXCESSIVE_ALIASING: &str = "yaml: document contains excessive aliasing";

/// Where a node starts or ends in the text: line and column count from 1,
/// in characters; `index` is the character offset from the start of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// 0-based character offset.
    pub index: usize,
}

impl Position {
    fn start_of(span: &Span) -> Position {
        Position {
            line: span.start.line(),
            column: span.start.col() + 1,
            index: span.start.index(),
        }
    }

    fn end_of(span: &Span) -> Position {
        Position {
            line: span.end.line(),
            column: span.end.col() + 1,
            index: span.end.index(),
        }
    }
}

/// How a scalar was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Unquoted: the only style YAML 1.1 resolves to non-strings.
    Plain,
    /// `'...'`
    SingleQuoted,
    /// `"..."`
    DoubleQuoted,
    /// `|` or `>`
    Block,
}

/// A node of a document as written, with positions: what
/// [`parse_positioned`] gives beside the value, so a JSON pointer into the
/// value can be traced back to the text.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A scalar, with its text after unescaping and its style; `start..end`
    /// covers the quotes of a quoted scalar.
    Scalar {
        /// The scalar's content (quotes and escapes removed).
        text: String,
        /// How it was written.
        style: Style,
        /// Whether it carries an explicit tag (`!!str`, `!foo`).
        tagged: bool,
        /// Where it starts.
        start: Position,
        /// Where it ends (exclusive).
        end: Position,
    },
    /// A sequence.
    Sequence {
        /// Where it starts.
        start: Position,
        /// Its items, in order.
        items: Vec<Node>,
    },
    /// A mapping. Keys merged in with `<<` are not entries.
    Mapping {
        /// Where it starts.
        start: Position,
        /// Its entries as written, in order.
        entries: Vec<Entry>,
    },
    /// `*name`: the value is the anchored node's, written elsewhere.
    Alias {
        /// Where the alias is written.
        start: Position,
    },
}

/// One `key: value` of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key as the value's map has it (stringified as kubectl does:
    /// `on` is `"true"`).
    pub key: String,
    /// The key as written.
    pub key_node: Node,
    /// The value as written.
    pub value: Node,
}

impl Node {
    /// Where the node starts.
    pub fn start(&self) -> Position {
        match self {
            Node::Scalar { start, .. }
            | Node::Sequence { start, .. }
            | Node::Mapping { start, .. }
            | Node::Alias { start } => *start,
        }
    }

    /// The node at a JSON pointer (`/spec/selector/app`, with `~1` for `/`
    /// and `~0` for `~`) below this one. Fails at an alias or a merged key
    /// (the node is written elsewhere): the error holds the deepest node
    /// found on the way, so a finding can still point near it.
    pub fn pointer(&self, pointer: &str) -> std::result::Result<&Node, &Node> {
        if pointer.is_empty() {
            return Ok(self);
        }
        let mut node = self;
        for token in pointer.split('/').skip(1) {
            let token = token.replace("~1", "/").replace("~0", "~");
            let next = match node {
                Node::Mapping { entries, .. } => entries
                    .iter()
                    .rev() // the last duplicate key wins, as in go-yaml v2
                    .find(|e| e.key == token)
                    .map(|e| &e.value),
                Node::Sequence { items, .. } => {
                    token.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                Node::Scalar { .. } | Node::Alias { .. } => None,
            };
            node = next.ok_or(node)?;
        }
        Ok(node)
    }

    /// The entry of this mapping whose value is at `key` (see [`Node::pointer`]).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match self {
            Node::Mapping { entries, .. } => entries.iter().rev().find(|e| e.key == key),
            _ => None,
        }
    }
}

/// One document with the nodes it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionedDocument {
    /// The root node's tag, as in [`Document`].
    pub tag: Option<String>,
    /// The document as JSON, as kubectl prints it.
    pub value: Value,
    /// The root node as written (`None` for an empty document).
    pub root: Option<Node>,
    /// Where the document's text starts (at `---`, or where the previous
    /// document ended).
    pub start: Position,
    /// Where the document's text ends.
    pub end: Position,
}

/// Parses every document of `text`. An empty document yields `Value::Null`.
/// Bounded by the default [`Limits`].
pub fn parse(text: &str, schema: Schema) -> Result<Vec<Document>> {
    Ok(parse_positioned(text, schema, Limits::default())?
        .into_iter()
        .map(|d| Document {
            tag: d.tag,
            value: d.value,
        })
        .collect())
}

/// Parses every document of `text`, keeping each node's position. Bounded
/// by `limits` and by go-yaml v2's alias rule; every failure is an `Err`.
pub fn parse_positioned(
    text: &str,
    schema: Schema,
    limits: Limits,
) -> Result<Vec<PositionedDocument>> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        peeked: None,
        last_span: None,
        anchors: HashMap::new(),
        schema,
        limits,
        doc_start: 0,
        decoded: 0,
        aliased: 0,
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

/// An anchored node, as an alias to it expands.
struct Anchored {
    value: Value,
    /// Nodes go-yaml v2 decodes when it expands an alias to this one.
    nodes: u64,
    /// Nesting depth of the value (a scalar is 0).
    depth: usize,
}

/// A built node: its value, its written form, and what it costs.
struct Built {
    value: Value,
    node: Node,
    nodes: u64,
    depth: usize,
}

struct Builder<'a> {
    parser: Parser<'a, StrInput<'a>>,
    peeked: Option<(Event<'a>, Span)>,
    last_span: Option<Span>,
    anchors: HashMap<usize, Anchored>,
    schema: Schema,
    limits: Limits,
    /// Character offset where the current document starts.
    doc_start: usize,
    /// go-yaml v2's `decodeCount` and `aliasCount` for the current document.
    decoded: u64,
    aliased: u64,
}

/// Where a node sits, for error messages: line and column (1-indexed).
fn at(span: &Span) -> String {
    format!("line {} column {}", span.start.line(), span.start.col() + 1)
}

/// go-yaml v2's `allowedAliasRatio`: 0.99 up to 400,000 decoded nodes,
/// falling linearly to 0.10 at 4,000,000 and beyond.
fn allowed_alias_ratio(decoded: u64) -> f64 {
    const LOW: f64 = 400_000.0;
    const HIGH: f64 = 4_000_000.0;
    let decoded = decoded as f64;
    if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) / (HIGH - LOW))
    }
}

impl<'a> Builder<'a> {
    fn fill(&mut self) -> Result<()> {
        if self.peeked.is_none()
            && let Some(item) = self.parser.next()
        {
            let (event, span) = item.map_err(|e| anyhow!("invalid YAML: {e}"))?;
            let length = span.end.index().saturating_sub(self.doc_start);
            if length > self.limits.max_document_chars {
                bail!(
                    "document too large: more than {} characters (at line {})",
                    self.limits.max_document_chars,
                    span.start.line()
                );
            }
            self.peeked = Some((event, span));
        }
        Ok(())
    }

    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        self.fill()?;
        let item = self
            .peeked
            .take()
            .context("unexpected end of YAML stream")?;
        self.last_span = Some(item.1);
        Ok(item)
    }

    fn peek(&mut self) -> Result<Option<&Event<'a>>> {
        self.fill()?;
        Ok(self.peeked.as_ref().map(|(e, _)| e))
    }

    fn peek_span(&mut self) -> Result<Option<Span>> {
        self.fill()?;
        Ok(self.peeked.as_ref().map(|(_, s)| *s))
    }

    fn stream(&mut self) -> Result<Vec<PositionedDocument>> {
        let mut docs = Vec::new();
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => return Ok(docs),
                Event::DocumentStart(_) => {
                    let start = Position::start_of(&span);
                    self.doc_start = span.start.index();
                    self.anchors.clear();
                    // go-yaml v2 counts the document node itself.
                    self.decoded = 1;
                    self.aliased = 0;
                    let tag = match self.peek()? {
                        Some(Event::Scalar(_, _, _, Some(tag)))
                        | Some(Event::MappingStart(_, Some(tag)))
                        | Some(Event::SequenceStart(_, Some(tag))) => Some(tag_name(tag)),
                        _ => None,
                    };
                    let (value, root) = if matches!(self.peek()?, Some(Event::DocumentEnd)) {
                        (Value::Null, None)
                    } else {
                        let built = self.node(0)?;
                        (built.value, Some(built.node))
                    };
                    let mut end = self.last_span.map_or(start, |s| Position::end_of(&s));
                    if matches!(self.peek()?, Some(Event::DocumentEnd)) {
                        let (_, span) = self.next()?;
                        end = Position::end_of(&span).max_by_index(end);
                    }
                    docs.push(PositionedDocument {
                        tag,
                        value,
                        root,
                        start,
                        end,
                    });
                }
                other => bail!("unexpected YAML event {other:?}"),
            }
        }
    }

    /// Counts `nodes` decoded nodes (`through_alias`: decoded by expanding
    /// an alias), then applies go-yaml v2's rule.
    fn count(&mut self, nodes: u64, through_alias: bool) -> Result<()> {
        self.decoded = self.decoded.saturating_add(nodes);
        if through_alias {
            self.aliased = self.aliased.saturating_add(nodes);
        }
        if self.aliased > 100
            && self.decoded > 1000
            && self.aliased as f64 / self.decoded as f64 > allowed_alias_ratio(self.decoded)
        {
            bail!(EXCESSIVE_ALIASING);
        }
        Ok(())
    }

    fn too_deep(&self, span: &Span) -> anyhow::Error {
        anyhow!(
            "{}: nested deeper than {} levels",
            at(span),
            self.limits.max_depth
        )
    }

    /// A node at nesting `depth` (the root is at 0).
    fn node(&mut self, depth: usize) -> Result<Built> {
        let (event, span) = self.next()?;
        let start = Position::start_of(&span);
        let (anchor, built) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, false)?;
                let value = self
                    .scalar(&text, style, tag.as_deref())
                    .and_then(|scalar| scalar.into_json(&text))
                    .with_context(|| at(&span))?;
                let node = Node::Scalar {
                    text: text.clone().into_owned(),
                    style: Style::of(style),
                    tagged: tag.is_some(),
                    start,
                    end: Position::end_of(&span),
                };
                (
                    anchor,
                    Built {
                        value,
                        node,
                        nodes: 1,
                        depth: 0,
                    },
                )
            }
            Event::SequenceStart(anchor, _) => {
                if depth >= self.limits.max_depth {
                    return Err(self.too_deep(&span));
                }
                self.count(1, false)?;
                let (mut values, mut items, mut nodes, mut deepest) =
                    (Vec::new(), Vec::new(), 1, 0);
                while !matches!(self.peek()?, Some(Event::SequenceEnd)) {
                    let item = self.node(depth + 1)?;
                    nodes += item.nodes;
                    deepest = deepest.max(item.depth);
                    values.push(item.value);
                    items.push(item.node);
                }
                self.next()?;
                (
                    anchor,
                    Built {
                        value: Value::Array(values),
                        node: Node::Sequence { start, items },
                        nodes,
                        depth: deepest + 1,
                    },
                )
            }
            Event::MappingStart(anchor, _) => {
                if depth >= self.limits.max_depth {
                    return Err(self.too_deep(&span));
                }
                self.count(1, false)?;
                (anchor, self.mapping(&span, depth)?)
            }
            Event::Alias(id) => {
                let (nodes, anchored_depth) = self
                    .anchors
                    .get(&id)
                    .map(|a| (a.nodes, a.depth))
                    .with_context(|| format!("{}: alias to an unknown anchor", at(&span)))?;
                // go-yaml v2 counts the alias node, then every node of its
                // target, as decoded through an alias.
                self.count(nodes.saturating_add(1), true)?;
                if depth.saturating_add(anchored_depth) > self.limits.max_depth {
                    return Err(self.too_deep(&span));
                }
                let value = self
                    .anchors
                    .get(&id)
                    .map(|a| a.value.clone())
                    .unwrap_or(Value::Null);
                return Ok(Built {
                    value,
                    node: Node::Alias { start },
                    nodes: nodes.saturating_add(1),
                    depth: anchored_depth,
                });
            }
            other => bail!("{}: unexpected YAML event {other:?}", at(&span)),
        };
        if anchor != 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    value: built.value.clone(),
                    nodes: built.nodes,
                    depth: built.depth,
                },
            );
        }
        Ok(built)
    }

    fn mapping(&mut self, span: &Span, depth: usize) -> Result<Built> {
        let start = Position::start_of(span);
        let mut explicit = Map::new();
        let mut merged = Map::new();
        let mut entries = Vec::new();
        let (mut nodes, mut deepest) = (1_u64, 0);
        while !matches!(self.peek()?, Some(Event::MappingEnd)) {
            let is_merge = matches!(
                self.peek()?,
                Some(Event::Scalar(text, ScalarStyle::Plain, _, None)) if text == "<<"
            );
            let key_span = self.peek_span()?.unwrap_or(*span);
            let (key, key_node) = self.key(depth).with_context(|| at(&key_span))?;
            let value = self.node(depth + 1)?;
            nodes += value.nodes + u64::from(!is_merge);
            deepest = deepest.max(value.depth);
            if is_merge {
                merge_into(&mut merged, value.value).with_context(|| at(&key_span))?;
            } else {
                explicit.insert(key.clone(), value.value);
                entries.push(Entry {
                    key,
                    key_node,
                    value: value.node,
                });
            }
        }
        self.next()?;
        for (k, v) in merged {
            explicit.entry(k).or_insert(v);
        }
        Ok(Built {
            value: Value::Object(explicit),
            node: Node::Mapping { start, entries },
            nodes,
            depth: deepest + 1,
        })
    }

    /// A mapping key as sigs.k8s.io/yaml stringifies it, and as written.
    fn key(&mut self, depth: usize) -> Result<(String, Node)> {
        let scalar_key = matches!(self.peek()?, Some(Event::Scalar(..)));
        if scalar_key {
            let (event, span) = self.next()?;
            let Event::Scalar(text, style, anchor, tag) = event else {
                bail!("{}: expected a scalar key", at(&span));
            };
            self.count(1, false)?;
            let scalar = self.scalar(&text, style, tag.as_deref())?;
            if anchor != 0 {
                self.anchors.insert(
                    anchor,
                    Anchored {
                        value: scalar.clone().into_json(&text)?,
                        nodes: 1,
                        depth: 0,
                    },
                );
            }
            let node = Node::Scalar {
                text: text.clone().into_owned(),
                style: Style::of(style),
                tagged: tag.is_some(),
                start: Position::start_of(&span),
                end: Position::end_of(&span),
            };
            let key = match scalar {
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
            };
            return Ok((key, node));
        }
        let built = self.node(depth + 1)?;
        let key = match built.value {
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Null => bail!("unsupported map key: null (kubectl refuses it too)"),
            other => bail!("unsupported map key {other} (a key must be a scalar)"),
        };
        Ok((key, built.node))
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

impl Position {
    fn max_by_index(self, other: Position) -> Position {
        if self.index >= other.index {
            self
        } else {
            other
        }
    }
}

impl Style {
    fn of(style: ScalarStyle) -> Style {
        match style {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
        }
    }
}

/// How YAML 1.1 (as kubectl reads it) types a plain scalar: `"string"`,
/// `"bool"`, `"int"`, `"float"` or `"null"`. `on` is `"bool"`, `0x2A` is
/// `"int"`, `1.2.3` is `"string"`.
pub fn yaml11_type(plain: &str) -> &'static str {
    match resolve_yaml11(plain) {
        Scalar::Null => "null",
        Scalar::Bool(_) => "bool",
        Scalar::Int(_) | Scalar::Uint(_) => "int",
        Scalar::Float(_) => "float",
        Scalar::Str => "string",
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
    match text.as_bytes().first().copied().unwrap_or(b' ') {
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
    let (negative, unsigned) = if let Some(rest) = text.strip_prefix('-') {
        (true, rest)
    } else {
        (false, text.strip_prefix('+').unwrap_or(text))
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
    let (negative, signed, rest) = if let Some(rest) = s.strip_prefix('-') {
        (true, true, rest)
    } else if let Some(rest) = s.strip_prefix('+') {
        (false, true, rest)
    } else {
        (false, false, s)
    };
    let (radix, digits) =
        if let Some(d) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = rest.strip_prefix("0o").or_else(|| rest.strip_prefix("0O")) {
            (8, d)
        } else if let Some(d) = rest.strip_prefix("0b").or_else(|| rest.strip_prefix("0B")) {
            (2, d)
        } else if let Some(d) = rest.strip_prefix('0').filter(|d| !d.is_empty()) {
            (8, d)
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
    let mut rest = s.as_bytes();
    let skip_digits = |rest: &mut &[u8]| {
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        *rest = rest.get(n..).unwrap_or_default();
        n > 0
    };
    let skip = |rest: &mut &[u8], set: &[u8]| match rest.split_first() {
        Some((c, tail)) if set.contains(c) => {
            *rest = tail;
            true
        }
        _ => false,
    };
    skip(&mut rest, b"+-");
    if skip(&mut rest, b".") {
        if !skip_digits(&mut rest) {
            return false;
        }
    } else {
        if !skip_digits(&mut rest) {
            return false;
        }
        if skip(&mut rest, b".") {
            skip_digits(&mut rest);
        }
    }
    if skip(&mut rest, b"eE") {
        skip(&mut rest, b"+-");
        if !skip_digits(&mut rest) {
            return false;
        }
    }
    rest.is_empty()
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
    /// The 40-line manifest of issue 13: nine levels of ten aliases each.
    fn billion_laughs() -> String {
        let mut text = String::from(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\n  annotations:\n    l0: &l0 \"lol\"\n",
        );
        for level in 1..=9 {
            let refs = vec![format!("*l{}", level - 1); 10].join(", ");
            text.push_str(&format!("    l{level}: &l{level} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn excessive_aliasing_is_refused_as_go_yaml_v2_refuses_it() {
        let err = from_str(&billion_laughs()).expect_err("refused");
        assert_eq!(format!("{err:#}"), EXCESSIVE_ALIASING);
        // A few aliases are fine, as in go-yaml v2.
        let v = one("a: &a {x: [1, 2, 3]}\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n");
        assert_eq!(v["b"].as_array().map(Vec::len), Some(10));
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let err = from_str(&deep).expect_err("too deep");
        // saphyr-parser stops flow nesting itself; block nesting is ours.
        assert!(format!("{err:#}").contains("recursion limit"), "{err:#}");
        let block: String = (0..300).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let err = from_str(&block).expect_err("too deep");
        assert!(
            format!("{err:#}").contains("nested deeper than 128 levels"),
            "{err:#}"
        );
        let ok = format!("{}1{}", "[".repeat(120), "]".repeat(120));
        assert!(from_str(&ok).is_ok());
        // Aliases count their target's depth.
        let mut chain = format!("a0: &a0 {}1{}\n", "[".repeat(60), "]".repeat(60));
        for i in 1..4 {
            chain.push_str(&format!("a{i}: &a{i} [[*a{}]]\n", i - 1));
        }
        chain.push_str(&format!("z: {}*a3{}\n", "[".repeat(80), "]".repeat(80)));
        assert!(from_str(&chain).is_err());
        let limits = Limits {
            max_document_chars: 100,
            ..Limits::default()
        };
        let big = format!("a: {}\n---\nb: 1\n", "x".repeat(200));
        let err = parse_positioned(&big, Schema::Yaml11, limits).expect_err("too large");
        assert!(format!("{err:#}").contains("document too large"), "{err:#}");
    }

    #[test]
    fn positions_follow_json_pointers() {
        let text = "# c\napiVersion: v1\nkind: Service\nspec:\n  selector: {app: x, on: yes}\n  ports:\n  - port: 0x50\n---\nb: 1\n";
        let docs = parse_positioned(text, Schema::Yaml11, Limits::default()).expect("parses");
        assert_eq!(docs.len(), 2);
        let root = docs[0].root.as_ref().expect("root");
        assert_eq!((root.start().line, root.start().column), (2, 1));
        let on = root.pointer("/spec/selector/true").expect("found");
        assert!(
            matches!(on, Node::Scalar { text, style: Style::Plain, start, .. }
            if text == "yes" && start.line == 5 && start.column == 26)
        );
        let port = root.pointer("/spec/ports/0/port").expect("found");
        assert_eq!((port.start().line, port.start().column), (7, 11));
        let missing = root.pointer("/spec/selector/nope").expect_err("missing");
        assert_eq!(missing.start().line, 5);
        assert_eq!(docs[1].root.as_ref().map(|r| r.start().line), Some(9));
    }
}
