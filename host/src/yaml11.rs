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
//! Aliases are expanded. A mapping is applied in document order as go-yaml
//! v2 applies it: each entry sets its key (a duplicate key: the last one
//! wins), and each `<<` merge sets the keys it merges in, over those set
//! before it (of `<<: [*a, *b]`, `a`'s win); an entry after a `<<` wins over
//! it. Tags are read as go-yaml v2 reads them (`!!binary` is decoded,
//! `!!int "3"` is 3, `!!merge` and custom tags keep the text). The text is
//! cut into documents as kubectl cuts it (see [`parse_positioned`]).
//!
//! Inside flow collections the text is tokenized as go-yaml v2's scanner
//! does, where it differs from YAML 1.2: where a plain scalar ends and what
//! `-` alone is (`flow_plain.rs`), and no indentation rule
//! (`flow_indent.rs`).

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};

mod flow_indent;
mod flow_plain;
use flow_indent::{Padding, flow_end, indentation, is_blank, line_and_column};
use flow_plain::{DASH, GoFlowInput};
use serde_json::{Map, Number, Value};
use std::collections::{BTreeSet, HashMap};

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
        /// Its anchor's id (`&v`), the one its [`Node::Alias`]es name; 0
        /// for none. Its span (`start..end`) covers the anchor and tag.
        anchor: usize,
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
        /// Keys whose value kubectl reads from a `<<` merge (written after
        /// any entry with that key), sorted: [`Node::pointer`] and
        /// [`Node::entry`] fail at them, the value being written elsewhere.
        merged: Vec<String>,
        /// The last entry of each key, built on the first lookup in a
        /// large mapping, so that finding every key is linear.
        index: KeyIndex,
        /// Its `<<` entries, in order.
        merges: Vec<Merge>,
        /// Its anchor's id (`&base`), the one aliases to it name; 0 for none.
        anchor: usize,
    },
    /// `*name`: the value is the anchored node's, written elsewhere.
    Alias {
        /// Where the alias is written.
        start: Position,
        /// Where it ends (exclusive).
        end: Position,
        /// The id of the anchor it names (a scalar's `anchor`).
        id: usize,
    },
}

/// A mapping's entries by key (the last of each), built once when first
/// needed. It says nothing of its own: two are always equal.
#[derive(Clone, Debug, Default)]
pub struct KeyIndex(std::sync::OnceLock<HashMap<String, usize>>);

impl PartialEq for KeyIndex {
    fn eq(&self, _: &KeyIndex) -> bool {
        true
    }
}

impl KeyIndex {
    /// Mappings up to this size are searched without an index.
    const SMALL: usize = 16;

    fn last<'e>(&self, entries: &'e [Entry], key: &str) -> Option<&'e Entry> {
        if entries.len() <= Self::SMALL {
            return entries.iter().rev().find(|e| e.key == key);
        }
        let index = self.0.get_or_init(|| {
            entries
                .iter()
                .enumerate()
                .map(|(at, e)| (e.key.clone(), at))
                .collect()
        });
        index.get(key).and_then(|at| entries.get(*at))
    }
}

/// One `<<: ...` entry of a mapping, as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Merge {
    /// Where the `<<` key starts.
    pub key: Position,
    /// Where its value ends, when the value is an alias or a flow
    /// sequence (`*base`, `[*a, *b]`); `None` for a value written out.
    pub end: Option<Position>,
    /// The anchors its value's aliases name, in order.
    pub aliases: Vec<usize>,
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
            | Node::Alias { start, .. } => *start,
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
                Node::Mapping { .. } => node.entry(&token).map(|e| &e.value),
                Node::Sequence { items, .. } => {
                    token.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                Node::Scalar { .. } | Node::Alias { .. } => None,
            };
            node = next.ok_or(node)?;
        }
        Ok(node)
    }

    /// The entry of this mapping whose value is at `key` (see
    /// [`Node::pointer`]): the last one with that key, as in go-yaml v2;
    /// `None` if a `<<` merge after it sets the key.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match self {
            Node::Mapping {
                entries,
                merged,
                index,
                ..
            } => {
                if merged.binary_search_by(|k| k.as_str().cmp(key)).is_ok() {
                    return None;
                }
                index.last(entries, key)
            }
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
///
/// [`Schema::Yaml11`] cuts `text` into documents as kubectl does before
/// decoding them: apimachinery's `YAMLReader` ends a document at each line
/// that starts with `---` and refuses one with anything but a comment
/// after it (`invalid Yaml document separator: ...`); go-yaml v2 then
/// decodes the first document of each piece only, so what follows a `...`
/// in the same piece is never read, and a directive (`%YAML`, `%TAG`),
/// cut off from its `---`, is refused (`did not find expected <document
/// start>`). A piece of comments only gives no document. Anchors do not
/// reach across pieces. [`Schema::Core`] reads `text` as one YAML stream.
pub fn parse_positioned(
    text: &str,
    schema: Schema,
    limits: Limits,
) -> Result<Vec<PositionedDocument>> {
    match schema {
        Schema::Core => Builder::new(
            text,
            schema,
            limits,
            Offset::default(),
            None,
            &Padding::NONE,
        )
        .stream(false),
        Schema::Yaml11 => {
            let mut docs = Vec::new();
            for at in pieces(text) {
                docs.extend(read_piece(text, at?, limits)?);
            }
            Ok(docs)
        }
    }
}

/// Where one piece of a text is, as kubectl cuts a stream into documents
/// (see [`parse_positioned`]): what [`read_piece`] reads again, without
/// the pieces before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceAt {
    /// Byte range of the piece in the whole text.
    start: usize,
    end: usize,
    offset: Offset,
    separator: Option<Position>,
}

impl PieceAt {
    /// The piece's text, in the whole `text` it was cut from.
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).unwrap_or_default()
    }

    /// The 1-based line the piece starts on.
    pub fn first_line(&self) -> usize {
        self.offset.lines + 1
    }
}

/// The pieces of `text`, one at a time, as [`Schema::Yaml11`] cuts them:
/// reading a stream piece by piece ([`read_piece`]) holds one document in
/// memory, not all of them. A piece kubectl refuses is an `Err`, and the
/// last item.
pub fn pieces(text: &str) -> impl Iterator<Item = Result<PieceAt>> + '_ {
    Pieces::new(text).map(|piece| {
        let piece = piece?;
        if let Some(at) = piece.stray_end {
            // go-yaml v2 starts an implicit document, whose node cannot
            // start with `...`.
            bail!(
                "invalid YAML: did not find expected node content at line {} column 1",
                at.line
            );
        }
        Ok(PieceAt {
            start: piece.start,
            end: piece.start + piece.text.len(),
            offset: piece.offset,
            separator: piece.separator,
        })
    })
}

/// The documents of one piece of `text` (at most one: go-yaml v2 decodes
/// the first document of each piece), by YAML 1.1 rules, with positions
/// in the whole text.
///
/// A flow collection with lines less indented than YAML 1.2 wants, which
/// go-yaml v2 reads, is read with those lines moved right (see
/// `flow_indent.rs`), up to [`MAX_REINDENTED`] collections a piece.
pub fn read_piece(text: &str, at: PieceAt, limits: Limits) -> Result<Vec<PositionedDocument>> {
    let piece = at.text(text);
    // go-yaml v2 (YAML 1.1) also breaks lines at NEL, LS and PS, which
    // YAML 1.2 reads as text: `app: on<NEL>` is `true` for kubectl. Each
    // is one character, as its `\n` stand-in is, so positions hold; line
    // numbers count them, as go-yaml's do.
    let unicode_breaks = ['\u{85}', '\u{2028}', '\u{2029}'];
    let piece: std::borrow::Cow<'_, str> = if piece.contains(unicode_breaks) {
        std::borrow::Cow::Owned(piece.replace(unicode_breaks, "\n"))
    } else {
        std::borrow::Cow::Borrowed(piece)
    };
    let piece: &str = &piece;
    let mut padding = Padding::default();
    let mut first_refusal = None;
    // The moved flow collections, where they open and close as written.
    let mut moved = Vec::new();
    for round in 0..=MAX_REINDENTED {
        let padded = if padding.is_empty() {
            std::borrow::Cow::Borrowed(piece)
        } else {
            std::borrow::Cow::Owned(padding.apply(piece))
        };
        let mut builder = Builder::new(
            &padded,
            Schema::Yaml11,
            limits,
            at.offset,
            at.separator,
            &padding,
        );
        let read = builder.stream(true);
        let (reindent, seen) = (builder.reindent, std::mem::take(&mut builder.flow_spans));
        drop(builder);
        let refusal = match read {
            // Only the collections' own lines moved: each opens and closes
            // where it was found to.
            Ok(docs) if moved.iter().all(|span| seen.contains(span)) => return Ok(docs),
            Ok(_) => break,
            Err(e) => e,
        };
        let Some((refused_at, quoted)) = reindent else {
            return Err(first_refusal.unwrap_or(refusal));
        };
        if round == MAX_REINDENTED {
            let first = first_refusal.unwrap_or(refusal);
            bail!(
                "{first:#} (kubectl reads it: this reader reads up to {MAX_REINDENTED} flow \
                 collections or quoted scalars less indented than YAML 1.2 wants in one \
                 document; indent them more)"
            );
        }
        let before = padding.clone();
        match (enclosing_flow(&padded, refused_at), quoted) {
            (Some((open, close)), _) => {
                let (open_line, open_column) = line_and_column(&padded, open);
                let (close_line, close_column) = line_and_column(&padded, close);
                moved.push((
                    padding.original(open, open_line, open_column).0 + at.offset.chars,
                    padding.original(close, close_line, close_column).0 + at.offset.chars,
                ));
                padding.move_lines(&padded, open_line + 1..=close_line, open_column + 1);
            }
            // A quoted scalar in a block, less indented than its key: its
            // leading spaces are folded away, so its lines move right of
            // its key's line.
            (None, Some(Quoted::Start)) => {
                if let Some(close) = quoted_end(&padded, refused_at) {
                    let (open_line, _) = line_and_column(&padded, refused_at);
                    let (close_line, _) = line_and_column(&padded, close);
                    let column = indentation(&padded, open_line) + 1;
                    padding.move_lines(&padded, open_line + 1..=close_line, column);
                }
            }
            // The refused line of one, right of the line before it.
            (None, Some(Quoted::Line)) => {
                let (line, _) = line_and_column(&padded, refused_at);
                if let Some(previous) = (1..line).rev().find(|&l| !is_blank(&padded, l)) {
                    let column = indentation(&padded, previous) + 1;
                    padding.move_lines(&padded, line..=line, column);
                }
            }
            (None, None) => {}
        }
        if padding == before {
            return Err(first_refusal.unwrap_or(refusal));
        }
        first_refusal.get_or_insert(refusal);
    }
    Err(first_refusal.unwrap_or_else(|| anyhow!("invalid YAML: invalid indentation")))
}

/// The outermost flow collection of `text` around character `at`: where
/// its bracket opens and where it closes ([`flow_end`]). The brackets
/// before `at` that no bracket closes before it are the candidates; a
/// wrong one (a bracket in a quoted scalar or a comment) is caught by
/// [`read_piece`], which wants the reader to see the collection.
fn enclosing_flow(text: &str, at: usize) -> Option<(usize, usize)> {
    let before: Vec<char> = text.chars().take(at).collect();
    let mut depth = 0usize;
    let mut outermost = None;
    for (index, c) in before.iter().enumerate().rev() {
        match c {
            ']' | '}' => depth += 1,
            '[' | '{' if depth > 0 => depth -= 1,
            '[' | '{' => {
                if let Some(close) = flow_end(text, index).filter(|&close| close >= at) {
                    outermost = Some((index, close));
                }
            }
            _ => {}
        }
    }
    outermost
}

/// Where a refusal for indentation inside a quoted scalar points.
#[derive(Clone, Copy, Debug)]
enum Quoted {
    /// At the scalar's opening quote.
    Start,
    /// At the line refused.
    Line,
}

/// Where the quoted scalar whose opening quote is character `open` of
/// `text` closes (the character offset of its closing quote).
fn quoted_end(text: &str, open: usize) -> Option<usize> {
    let mut chars = text.chars().enumerate().skip(open).peekable();
    let (_, quote) = chars.next()?;
    while let Some((index, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            '\'' if quote == '\'' => {
                // `''` is a quote inside; a lone one closes.
                if chars.peek().is_some_and(|&(_, next)| next == '\'') {
                    chars.next();
                } else {
                    return Some(index);
                }
            }
            c if c == quote => return Some(index),
            _ => {}
        }
    }
    None
}

/// Flow collections and quoted scalars of one piece whose lines
/// [`read_piece`] moves right.
pub const MAX_REINDENTED: usize = 64;

/// Parses every document of `text` by YAML 1.1 rules and returns the values.
pub fn from_str(text: &str) -> Result<Vec<Value>> {
    Ok(parse(text, Schema::Yaml11)?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// Lines and characters before a piece of the text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Offset {
    lines: usize,
    chars: usize,
}

/// A piece of the text as apimachinery's `YAMLReader` cuts it, up to the
/// end of its first document's `...` if it has one (go-yaml v2 reads no
/// further).
struct Piece<'a> {
    text: &'a str,
    /// Byte offset of `text` in the whole text.
    start: usize,
    offset: Offset,
    /// The `---` line that ended the previous piece, if one did.
    separator: Option<Position>,
    /// A `...` line before any content of a piece that does not open with
    /// `---`: go-yaml v2 refuses the piece.
    stray_end: Option<Position>,
}

/// apimachinery's `YAMLReader.Read`, piece after piece: lines (up to `\n`)
/// are gathered until a line that starts with `---` and holds nothing but
/// blanks or a comment after it; that line ends the piece and is dropped,
/// unless no line was gathered yet, when it opens the piece instead. Any
/// other text after a leading `---` is an error.
struct Pieces<'a> {
    text: &'a str,
    /// Byte offset of the next line.
    byte: usize,
    /// Lines (as saphyr-parser counts them) and characters before it.
    at: Offset,
    separator: Option<Position>,
    done: bool,
}

impl<'a> Pieces<'a> {
    fn new(text: &'a str) -> Pieces<'a> {
        Pieces {
            text,
            byte: 0,
            at: Offset::default(),
            separator: None,
            done: false,
        }
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Result<Piece<'a>>;

    fn next(&mut self) -> Option<Result<Piece<'a>>> {
        if self.done {
            return None;
        }
        let (start, offset, separator) = (self.byte, self.at, self.separator.take());
        // Whether the piece has content (a line not blank nor a comment, or
        // an opening `---`), and where its first document ends at a `...`.
        let (mut content, mut end, mut stray_end) = (false, None, None);
        loop {
            let rest = self.text.get(self.byte..).unwrap_or_default();
            let gathered = self.text.get(start..self.byte).unwrap_or_default();
            let piece = |text: &'a str| Piece {
                text: end.and_then(|end| text.get(..end - start)).unwrap_or(text),
                start,
                offset,
                separator,
                stray_end,
            };
            if rest.is_empty() {
                self.done = true;
                return (!gathered.is_empty()).then_some(Ok(piece(gathered)));
            }
            let line = rest.find('\n').and_then(|i| rest.get(..=i)).unwrap_or(rest);
            let here = Position {
                line: self.at.lines + 1,
                column: 1,
                index: self.at.chars,
            };
            self.byte += line.len();
            self.at = Offset {
                lines: self.at.lines + line_breaks(line),
                chars: self.at.chars + line.chars().count(),
            };
            if let Some(after) = line.strip_prefix("---") {
                // Go's `strings.TrimSpace` trims what `str::trim` trims.
                let after = after.trim();
                if !after.is_empty() && !after.starts_with('#') {
                    self.done = true;
                    return Some(Err(anyhow!(
                        "invalid Yaml document separator: {after} (line {})",
                        here.line
                    )));
                }
                if !gathered.is_empty() {
                    self.separator = Some(here);
                    return Some(Ok(piece(gathered)));
                }
                content = true;
                continue;
            }
            if end.is_none() && is_document_end(line) {
                if content {
                    end = Some(self.byte - line.len() + 3);
                } else {
                    stray_end = Some(here);
                }
            }
            let text = line.trim_start_matches(['\u{feff}', ' ', '\t']);
            content |= !(text.trim_end().is_empty() || text.starts_with('#'));
        }
    }
}

/// Whether `line` is a document end marker: `...` then a blank or nothing.
fn is_document_end(line: &str) -> bool {
    line.strip_prefix("...")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Line breaks in `line` as saphyr-parser counts them: `\n`, `\r\n`, and
/// a `\r` on its own.
fn line_breaks(line: &str) -> usize {
    let bytes = line.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\n' || (c == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
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
    /// Nodes go-yaml v2 decodes for it (its `decoder.unmarshal` calls).
    nodes: u64,
    depth: usize,
}

struct Builder<'a> {
    parser: Parser<'a, GoFlowInput<'a>>,
    /// The text read, and whether it is ASCII (a character offset is then
    /// a byte offset).
    text: &'a str,
    ascii: bool,
    peeked: Option<(Event<'a>, Span)>,
    last_span: Option<Span>,
    /// The collections open where the parser is, innermost last.
    open: Vec<Open>,
    /// Spaces added at the start of lines of the text read (see
    /// `flow_indent.rs`); positions are mapped back.
    padding: &'a Padding,
    /// On a refusal for indentation: where (a character offset), and
    /// whether inside a quoted scalar.
    reindent: Option<(usize, Option<Quoted>)>,
    /// With padding, where the flow collections read open and close (the
    /// character offsets of their brackets in the whole text as written).
    flow_spans: Vec<(usize, usize)>,
    /// The input shows a `-` before a flow indicator as [`DASH`].
    dash: bool,
    /// The last character offset looked up in a non-ASCII text, and its
    /// byte offset.
    cursor: std::cell::Cell<(usize, usize)>,
    anchors: HashMap<usize, Anchored>,
    schema: Schema,
    limits: Limits,
    /// Where the text read starts in the whole text.
    offset: Offset,
    /// Where an implicit document starts instead of at its first node: the
    /// `---` line before the piece.
    separator: Option<Position>,
    /// Character offset where the current document starts.
    doc_start: usize,
    /// go-yaml v2's `decodeCount` and `aliasCount` for the current document.
    decoded: u64,
    aliased: u64,
}

/// A collection open where the parser is.
struct Open {
    /// Where its `[` or `{` is, if it is a flow collection.
    bracket: Option<Marker>,
    /// It is a flow collection, or inside one.
    in_flow: bool,
}

/// Gives an event's text and tag back the `-` that the input showed as
/// [`DASH`].
fn restore_dashes(event: &mut Event<'_>) {
    let restore = |text: &mut String| {
        if text.contains(DASH) {
            *text = text.replace(DASH, "-");
        }
    };
    let tag = match event {
        Event::Scalar(text, _, _, tag) => {
            if text.contains(DASH) {
                *text = text.replace(DASH, "-").into();
            }
            tag
        }
        Event::SequenceStart(_, tag) | Event::MappingStart(_, tag) => tag,
        _ => return,
    };
    if let Some(tag) = tag
        && (tag.handle.contains(DASH) || tag.suffix.contains(DASH))
    {
        let tag = std::borrow::Cow::to_mut(tag);
        restore(&mut tag.handle);
        restore(&mut tag.suffix);
    }
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

/// go-yaml v2's error for a `<<` whose value is not a mapping or a list of
/// mappings (an alias counts as what it names).
const MERGE_WANTS_MAPS: &str = "map merge requires map or sequence of maps as the value";

impl<'a> Builder<'a> {
    fn new(
        text: &'a str,
        schema: Schema,
        limits: Limits,
        offset: Offset,
        separator: Option<Position>,
        padding: &'a Padding,
    ) -> Builder<'a> {
        let go_yaml = schema == Schema::Yaml11;
        let dash = GoFlowInput::shows_dash(text, go_yaml);
        Builder {
            parser: Parser::new(GoFlowInput::new(text, go_yaml, dash)),
            text,
            ascii: text.is_ascii(),
            peeked: None,
            last_span: None,
            open: Vec::new(),
            padding,
            reindent: None,
            flow_spans: Vec::new(),
            dash,
            cursor: std::cell::Cell::new((0, 0)),
            anchors: HashMap::new(),
            schema,
            limits,
            offset,
            separator,
            doc_start: 0,
            decoded: 0,
            aliased: 0,
        }
    }

    fn position(&self, marker: &Marker) -> Position {
        let (index, column) = if self.padding.is_empty() {
            (marker.index(), marker.col())
        } else {
            self.padding
                .original(marker.index(), marker.line(), marker.col())
        };
        Position {
            line: marker.line() + self.offset.lines,
            column: column + 1,
            index: index + self.offset.chars,
        }
    }

    fn start_of(&self, span: &Span) -> Position {
        self.position(&span.start)
    }

    fn end_of(&self, span: &Span) -> Position {
        self.position(&span.end)
    }

    /// Where a node sits, for error messages: line and column (1-indexed).
    fn at(&self, span: &Span) -> String {
        let start = self.start_of(span);
        format!("line {} column {}", start.line, start.column)
    }

    fn fill(&mut self) -> Result<()> {
        if self.peeked.is_none()
            && let Some(item) = self.parser.next()
        {
            let (mut event, span) = match item {
                Ok(item) => item,
                Err(e) => {
                    // Indentation, and tabs where saphyr takes them for
                    // indentation: go-yaml has no such rule in a flow
                    // collection.
                    // Where: the quoted scalar's start, the tab, or the
                    // token refused.
                    let quoted = if e.info().starts_with("invalid indentation in quoted scalar") {
                        Some(Quoted::Start)
                    } else if e.info().starts_with("tab cannot be used as indentation") {
                        Some(Quoted::Line)
                    } else {
                        None
                    };
                    if quoted.is_some()
                        || e.info().starts_with("invalid indentation")
                        || e.info().starts_with("tabs disallowed within this context")
                    {
                        self.reindent = Some((e.marker().index(), quoted));
                    }
                    let mark = self.position(e.marker());
                    bail!(
                        "invalid YAML: {} at line {} column {}{}",
                        e.info(),
                        mark.line,
                        mark.column,
                        self.flow_plain_note(e.info(), e.marker().index())
                    );
                }
            };
            if self.dash {
                restore_dashes(&mut event);
            }
            if self.schema == Schema::Yaml11
                && let Event::Scalar(text, ScalarStyle::DoubleQuoted, _, _) = &event
                && text.contains('/')
                && self.escaped_slash(&span)
            {
                let start = self.start_of(&span);
                bail!(
                    "invalid YAML: while parsing a quoted scalar, found unknown escape character \
                     at line {} column {}: go-yaml v2 has no `\\/` escape; write `/`",
                    start.line,
                    start.column
                );
            }
            let tagged = matches!(
                &event,
                Event::Scalar(_, _, _, Some(_))
                    | Event::SequenceStart(_, Some(_))
                    | Event::MappingStart(_, Some(_))
            );
            if tagged
                && self.schema == Schema::Yaml11
                && self.in_flow()
                && self.tag_before_flow_indicator(span.start.index())
            {
                let start = self.start_of(&span);
                bail!(
                    "invalid YAML: did not find expected whitespace or line break after the tag at \
                     line {} column {}: in a flow collection, kubectl (go-yaml v2) takes `,`, `[` \
                     and `]` into a tag, and refuses `{{` or `}}` right after one; write a blank \
                     after the tag",
                    start.line,
                    start.column
                );
            }
            match &event {
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    // A flow collection's start event ends just past its
                    // bracket; a block one's is empty or ends at its first
                    // node (an implicit `[a: b]` pair is inside its
                    // sequence, and a block collection cannot be inside a
                    // flow one).
                    let bracket = span.end.index().checked_sub(1).filter(|&at| {
                        at >= span.start.index() && matches!(self.char_at(at), Some('[' | '{'))
                    });
                    let bracket = bracket.map(|at| {
                        Marker::new(at, span.end.line(), span.end.col().saturating_sub(1))
                    });
                    let in_flow = bracket.is_some() || self.in_flow();
                    self.open.push(Open { bracket, in_flow });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let opened = self.open.pop();
                    if !self.padding.is_empty()
                        && let Some(Open {
                            bracket: Some(open),
                            ..
                        }) = opened
                        && let Some(close) = self.closing_bracket(&span.start)
                    {
                        self.flow_spans
                            .push((self.position(&open).index, self.position(&close).index));
                    }
                }
                // go-yaml v2 takes a `:` that starts a token in a flow
                // collection for a value indicator, whatever follows it.
                Event::Scalar(text, ScalarStyle::Plain, _, _)
                    if self.schema == Schema::Yaml11 && text.starts_with(':') && self.in_flow() =>
                {
                    let mark = self.start_of(&span);
                    bail!(
                        "invalid YAML: did not find expected node content at line {} column {}: \
                         in a flow collection, kubectl (go-yaml v2) reads a ':' that starts a \
                         plain scalar as a mapping value indicator; quote the scalar",
                        mark.line,
                        mark.column
                    );
                }
                _ => {}
            }
            let length = span.end.index().saturating_sub(self.doc_start);
            if length > self.limits.max_document_chars {
                bail!(
                    "document too large: more than {} characters (at line {})",
                    self.limits.max_document_chars,
                    self.start_of(&span).line
                );
            }
            self.peeked = Some((event, span));
        }
        Ok(())
    }

    /// The text read from character offset `index` on. Offsets asked for
    /// mostly grow, so a non-ASCII text is walked from the last one asked
    /// for.
    fn text_from(&self, index: usize) -> &'a str {
        if self.ascii {
            return self.text.get(index..).unwrap_or_default();
        }
        let (mut chars, mut byte) = self.cursor.get();
        if index < chars {
            (chars, byte) = (0, 0);
        }
        let rest = self.text.get(byte..).unwrap_or_default();
        let skip = index - chars;
        byte += match rest.char_indices().nth(skip) {
            Some((at, _)) => at,
            None => rest.len(),
        };
        self.cursor.set((index, byte));
        self.text.get(byte..).unwrap_or_default()
    }

    /// The `]` or `}` of a flow collection whose end event starts at
    /// `end`: there, or after a trailing `,` (`[a,\n]`), blanks and
    /// comments.
    fn closing_bracket(&self, end: &Marker) -> Option<Marker> {
        let (mut index, mut line, mut column) = (end.index(), end.line(), end.col());
        let mut comment = false;
        for c in self.text_from(index).chars() {
            match c {
                ']' | '}' if !comment => return Some(Marker::new(index, line, column)),
                '\n' => {
                    comment = false;
                    line += 1;
                    column = 0;
                    index += 1;
                    continue;
                }
                '#' => comment = true,
                ',' | ' ' | '\t' | '\r' => {}
                _ if comment => {}
                _ => return None,
            }
            index += 1;
            column += 1;
        }
        None
    }

    /// Whether the double-quoted scalar at `span` escapes a `/` (`\\/`,
    /// YAML 1.2's escape, which go-yaml v2 refuses).
    fn escaped_slash(&self, span: &Span) -> bool {
        let length = span.end.index().saturating_sub(span.start.index());
        let mut chars = self.text_from(span.start.index()).chars().take(length);
        while let Some(c) = chars.next() {
            if c == '\\' && chars.next() == Some('/') {
                return true;
            }
        }
        false
    }

    /// The character at character offset `index` of the text read.
    fn char_at(&self, index: usize) -> Option<char> {
        self.text_from(index).chars().next()
    }

    /// Whether the tag of a node in a flow collection, whose properties
    /// start at character `index`, is followed right away by one of
    /// `,[]{}`. go-yaml v2 takes `,`, `[` and `]` into a tag (URI
    /// characters, in its `yaml_parser_scan_tag_uri`) and then wants a
    /// blank, so kubectl reads `[!!str, x]` as `["x"]` and refuses `{a:
    /// !!str}`; `saphyr-parser` ends the tag at the flow indicator.
    fn tag_before_flow_indicator(&self, index: usize) -> bool {
        let flow = |c: char| matches!(c, ',' | '[' | ']' | '{' | '}');
        let mut rest = self.text_from(index);
        // An anchor and a tag, in either order, each up to a blank.
        for _ in 0..2 {
            let (token, after) =
                rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len()));
            if let Some(verbatim) = token.strip_prefix("!<") {
                // `!<...>`: go-yaml lets a `,` follow it in a flow collection.
                let next = verbatim
                    .split_once('>')
                    .and_then(|(_, after)| after.chars().next());
                return next.is_some_and(|c| flow(c) && c != ',');
            }
            if token.starts_with('!') {
                return token.chars().any(flow);
            }
            if !token.starts_with('&') {
                return false;
            }
            rest = after.trim_start_matches([' ', '\t']);
        }
        false
    }

    /// Whether the event just read is inside a flow collection.
    fn in_flow(&self) -> bool {
        self.open.last().is_some_and(|open| open.in_flow)
    }

    /// For `saphyr-parser`'s refusals of what kubectl reads (a scalar or a
    /// tag next to a flow indicator), what kubectl reads and what to write
    /// instead.
    fn flow_plain_note(&self, info: &str, index: usize) -> &'static str {
        if self.schema != Schema::Yaml11 {
            return "";
        }
        match (info, self.char_at(index)) {
            ("unexpected end of plain scalar", Some('?')) => {
                ": in a flow collection, kubectl (go-yaml v2) reads a '?' that starts a \
                 plain scalar as a key indicator, which this reader does not follow; quote \
                 the scalar, or write '? ' with a space for a key"
            }
            (info, Some('!'))
                if info.starts_with("while scanning a tag")
                    && self
                        .text_from(index)
                        .split(char::is_whitespace)
                        .next()
                        .is_some_and(|tag| tag.contains([',', '[', ']'])) =>
            {
                ": kubectl (go-yaml v2) takes `,`, `[` and `]` into a tag, and reads a \
                 node with such a tag as a string, which this reader does not follow; write \
                 a blank after the tag"
            }
            (info, _) if info.starts_with("plain scalar cannot start with '-'") => {
                ": kubectl (go-yaml v2) reads such a '-' as text, which this reader does not \
                 follow; quote it"
            }
            _ => "",
        }
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

    /// The documents of the stream; with `first_only`, the first one (what
    /// go-yaml v2's `Unmarshal` reads), leaving the rest unread.
    fn stream(&mut self, first_only: bool) -> Result<Vec<PositionedDocument>> {
        let mut docs = Vec::new();
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => return Ok(docs),
                Event::DocumentStart(explicit) => {
                    docs.push(self.document(explicit, &span)?);
                    if first_only {
                        return Ok(docs);
                    }
                }
                other => bail!("unexpected YAML event {other:?}"),
            }
        }
    }

    /// The document whose `DocumentStart` was just read.
    fn document(&mut self, explicit: bool, span: &Span) -> Result<PositionedDocument> {
        let start = match self.separator {
            Some(separator) if !explicit => separator,
            _ => self.start_of(span),
        };
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
        let mut end = self.last_span.map_or(start, |s| self.end_of(&s));
        if matches!(self.peek()?, Some(Event::DocumentEnd)) {
            let (_, span) = self.next()?;
            end = self.end_of(&span).max_by_index(end);
        }
        Ok(PositionedDocument {
            tag,
            value,
            root,
            start,
            end,
        })
    }

    /// Counts `nodes` decoded nodes, `aliased` of them through an alias,
    /// then applies go-yaml v2's rule. go-yaml checks after each node;
    /// checking after a run of nodes that are all aliased, or none of them,
    /// fails exactly when it would (within such a run, the ratio only
    /// moves toward the allowed one, which never rises).
    fn count(&mut self, nodes: u64, aliased: u64) -> Result<()> {
        self.decoded = self.decoded.saturating_add(nodes);
        self.aliased = self.aliased.saturating_add(aliased);
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
            self.at(span),
            self.limits.max_depth
        )
    }

    /// A node at nesting `depth` (the root is at 0).
    fn node(&mut self, depth: usize) -> Result<Built> {
        self.node_as(depth, true)
    }

    /// A node; a sequence is counted as decoded only if `sequence_counts`
    /// (go-yaml v2 decodes the items of a `<<: [...]` list, not the list).
    fn node_as(&mut self, depth: usize, sequence_counts: bool) -> Result<Built> {
        let (event, span) = self.next()?;
        let start = self.start_of(&span);
        let (anchor, built) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, 0)?;
                let value = self
                    .scalar(&text, style, tag.as_deref())
                    .and_then(|scalar| scalar.into_json(&text))
                    .with_context(|| self.at(&span))?;
                let node = Node::Scalar {
                    text: text.clone().into_owned(),
                    style: Style::of(style),
                    tagged: tag.is_some(),
                    anchor,
                    start,
                    end: self.end_of(&span),
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
                if sequence_counts {
                    self.count(1, 0)?;
                }
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
                self.count(1, 0)?;
                let mut built = self.mapping(&span, depth)?;
                if let Node::Mapping { anchor: id, .. } = &mut built.node {
                    *id = anchor;
                }
                (anchor, built)
            }
            Event::Alias(id) => {
                let (nodes, anchored_depth) = self
                    .anchors
                    .get(&id)
                    .map(|a| (a.nodes, a.depth))
                    .with_context(|| format!("{}: alias to an unknown anchor", self.at(&span)))?;
                // go-yaml v2 decodes the alias node (as written, not itself
                // through an alias), then every node of its target through
                // the alias (an alias inside the target is in `nodes`).
                self.count(1, 0)?;
                self.count(nodes, nodes)?;
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
                    node: Node::Alias {
                        start,
                        end: self.end_of(&span),
                        id,
                    },
                    nodes: nodes.saturating_add(1),
                    depth: anchored_depth,
                });
            }
            other => bail!("{}: unexpected YAML event {other:?}", self.at(&span)),
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

    /// A mapping, applied as go-yaml v2's `d.mapping` applies it: entries in
    /// document order, each setting its key (a later duplicate wins), and
    /// each `<<` setting every key it merges in, over keys set before it.
    fn mapping(&mut self, span: &Span, depth: usize) -> Result<Built> {
        let start = self.start_of(span);
        let mut map = Map::new();
        let mut merged = BTreeSet::new();
        let mut entries = Vec::new();
        let mut merges = Vec::new();
        let (mut nodes, mut deepest) = (1_u64, 0);
        while !matches!(self.peek()?, Some(Event::MappingEnd)) {
            let key_span = self.peek_span()?.unwrap_or(*span);
            if let Some(anchor) = self.merge_key()? {
                // go-yaml v2 neither decodes nor counts the `<<` key.
                self.next()?;
                if anchor != 0 {
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            value: Value::from("<<"),
                            nodes: 1,
                            depth: 0,
                        },
                    );
                }
                let source = self.node_as(depth + 1, false)?;
                merges.push(self.merge_entry(&key_span, &source.node));
                let uncounted = u64::from(matches!(source.node, Node::Sequence { .. }));
                nodes += source.nodes.saturating_sub(uncounted);
                deepest = deepest.max(source.depth);
                merge(&mut map, &mut merged, source, self.schema)
                    .with_context(|| self.at(&key_span))?;
            } else {
                let (key, key_node, key_nodes) =
                    self.key(depth).with_context(|| self.at(&key_span))?;
                let value = self.node(depth + 1)?;
                nodes += key_nodes + value.nodes;
                deepest = deepest.max(value.depth);
                merged.remove(&key);
                map.insert(key.clone(), value.value);
                entries.push(Entry {
                    key,
                    key_node,
                    value: value.node,
                });
            }
        }
        self.next()?;
        Ok(Built {
            value: Value::Object(map),
            node: Node::Mapping {
                start,
                entries,
                merged: merged.into_iter().collect(),
                index: KeyIndex::default(),
                merges,
                anchor: 0,
            },
            nodes,
            depth: deepest + 1,
        })
    }

    /// If the next key is a merge key, its anchor (0 for none). go-yaml
    /// v2's `isMerge`: the text `<<`, plain and untagged, or tagged `!` or
    /// `!!merge` (any style). A `"<<"` or `!!str <<` key is an ordinary key.
    fn merge_key(&mut self) -> Result<Option<usize>> {
        Ok(match self.peek()? {
            Some(Event::Scalar(text, style, anchor, tag)) if text == "<<" => {
                let merge = match tag {
                    None => *style == ScalarStyle::Plain,
                    Some(tag) => {
                        let tag = full_tag(tag);
                        tag == "!" || tag == MERGE_TAG
                    }
                };
                merge.then_some(*anchor)
            }
            _ => None,
        })
    }

    /// A `<<` entry whose key starts at `key_span` and whose value,
    /// `value`, was just read.
    fn merge_entry(&self, key_span: &Span, value: &Node) -> Merge {
        let aliases = |node: &Node| match node {
            Node::Alias { id, .. } => Some(*id),
            _ => None,
        };
        let (end, ids) = match value {
            Node::Alias { end, id, .. } => (Some(*end), vec![*id]),
            Node::Sequence { items, .. } => {
                // A flow sequence ends at its `]`, the span of its end event.
                let flow = self
                    .last_span
                    .is_some_and(|span| self.char_at(span.start.index()) == Some(']'));
                (
                    flow.then(|| self.last_span.map(|s| self.end_of(&s)))
                        .flatten(),
                    items.iter().filter_map(aliases).collect(),
                )
            }
            _ => (None, Vec::new()),
        };
        Merge {
            key: self.start_of(key_span),
            end,
            aliases: ids,
        }
    }

    /// A mapping key as sigs.k8s.io/yaml stringifies it, as written, and
    /// the nodes go-yaml v2 decodes for it.
    fn key(&mut self, depth: usize) -> Result<(String, Node, u64)> {
        let scalar_key = matches!(self.peek()?, Some(Event::Scalar(..)));
        if scalar_key {
            let (event, span) = self.next()?;
            let Event::Scalar(text, style, anchor, tag) = event else {
                bail!("{}: expected a scalar key", self.at(&span));
            };
            self.count(1, 0)?;
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
                anchor,
                start: self.start_of(&span),
                end: self.end_of(&span),
            };
            let key = match scalar {
                Scalar::Str => text.into_owned(),
                Scalar::Text(decoded) => decoded,
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(f) => go_format_float32(f),
                Scalar::Uint(u) => bail!("unsupported map key {u} (kubectl refuses it too)"),
                Scalar::Null => bail!("unsupported map key: null (kubectl refuses it too)"),
            };
            return Ok((key, node, 1));
        }
        let built = self.node(depth + 1)?;
        let key = match built.value {
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Null => bail!("unsupported map key: null (kubectl refuses it too)"),
            other => bail!("unsupported map key {other} (a key must be a scalar)"),
        };
        Ok((key, built.node, built.nodes))
    }

    /// Types a scalar as the schema does, tag included.
    fn scalar(&self, text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar> {
        match self.schema {
            Schema::Yaml11 => yaml11_scalar(text, style, tag),
            Schema::Core => core_scalar(text, style, tag),
        }
    }
}

/// The YAML 1.1 tag namespace (`!!int` is `tag:yaml.org,2002:int`).
const YAML_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// `!!merge`, in full.
const MERGE_TAG: &str = "tag:yaml.org,2002:merge";

/// A tag as go-yaml v2 holds it: `tag:yaml.org,2002:int` for `!!int`,
/// `!foo` for `!foo`, `!` for the non-specific tag `!`.
fn full_tag(tag: &Tag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

/// go-yaml v2's `d.scalar` for a scalar decoded into `interface{}`: an
/// untagged quoted or block scalar is a string; an untagged plain one is
/// resolved; `!!str` keeps the text and `!!binary` decodes it; `!!null`,
/// `!!bool`, `!!int`, `!!float` and `!!timestamp` resolve the text (quoted
/// or not) and refuse it if it resolves to another type (`!!float` takes an
/// int); any other tag (`!!merge`, `!foo`, `!`) keeps the text.
fn yaml11_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar> {
    let Some(tag) = tag else {
        return Ok(if style == ScalarStyle::Plain {
            resolve_yaml11(text)
        } else {
            Scalar::Str
        });
    };
    let tag = full_tag(tag);
    let Some(short) = tag.strip_prefix(YAML_TAG_PREFIX) else {
        return Ok(Scalar::Str);
    };
    match short {
        "str" => Ok(Scalar::Str),
        "binary" => decode_binary(text).map(Scalar::Text),
        "timestamp" if is_go_timestamp(text) => Ok(Scalar::Str),
        "null" | "bool" | "int" | "float" | "timestamp" => match (resolve_yaml11(text), short) {
            (scalar @ Scalar::Null, "null")
            | (scalar @ Scalar::Bool(_), "bool")
            | (scalar @ (Scalar::Int(_) | Scalar::Uint(_)), "int")
            | (scalar @ Scalar::Float(_), "float") => Ok(scalar),
            (Scalar::Int(i), "float") => Ok(Scalar::Float(i as f64)),
            (scalar, _) => bail!(
                "cannot decode !!{} `{text}` as a !!{short}",
                scalar.short_tag()
            ),
        },
        _ => Ok(Scalar::Str),
    }
}

/// Core-schema tags first, then quoted and block scalars stay strings,
/// then plain scalars are resolved (serde-yaml's reading).
fn core_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar> {
    let tag = match tag {
        Some(t) if t.is_yaml_core_schema() => Some(t.suffix.as_str()),
        // A custom tag (`!foo`) on a scalar keeps the text.
        Some(_) => Some("str"),
        None => None,
    };
    match tag {
        Some("str") | Some("binary") => Ok(Scalar::Str),
        Some(expected @ ("null" | "bool" | "int" | "float")) => {
            let scalar = resolve_core(text);
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
        _ => Ok(resolve_core(text)),
    }
}

/// Go's `base64.StdEncoding`: padding required, nonzero trailing bits
/// allowed (`\r` and `\n` are skipped by the caller, as Go skips them).
const GO_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// A `!!binary` scalar as kubectl reads it: go-yaml v2 decodes the base64
/// into a Go string of those bytes, and Go's JSON encoder then replaces
/// each byte that is not part of valid UTF-8 with U+FFFD.
fn decode_binary(text: &str) -> Result<String> {
    let base64: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let bytes = GO_BASE64
        .decode(base64)
        .map_err(|_| anyhow!("!!binary value contains invalid base64 data"))?;
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes.as_slice();
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return Ok(out);
            }
            Err(e) => {
                let (valid, invalid) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                rest = invalid.get(1..).unwrap_or_default();
            }
        }
    }
}

/// go-yaml v2's `parseTimestamp`: four digits and `-`, then Go's
/// `time.Parse` with `2006-1-2T15:4:5.999999999Z07:00` (`T` or `t`),
/// `2006-1-2 15:4:5.999999999` or `2006-1-2`.
fn is_go_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    if b.iter().take_while(|c| c.is_ascii_digit()).count() != 4 || b.get(4) != Some(&b'-') {
        return false;
    }
    [Some(b'T'), Some(b't'), Some(b' '), None]
        .into_iter()
        .any(|separator| go_time_parse(b, separator).is_some())
}

/// `time.Parse` of one of go-yaml v2's timestamp layouts, after `YYYY-`:
/// `separator` is the one before the time, `None` for the date only.
fn go_time_parse(b: &[u8], separator: Option<u8>) -> Option<()> {
    // Go's `getnum(s, false)`: one or two digits.
    fn number(s: &[u8]) -> Option<(u32, &[u8])> {
        let digit = |i: usize| {
            s.get(i)
                .filter(|c| c.is_ascii_digit())
                .map(|c| u32::from(c - b'0'))
        };
        let first = digit(0)?;
        Some(match digit(1) {
            Some(second) => (first * 10 + second, s.get(2..)?),
            None => (first, s.get(1..)?),
        })
    }
    fn literal(s: &[u8], c: u8) -> Option<&[u8]> {
        s.strip_prefix(&[c])
    }
    let year: u32 = std::str::from_utf8(b.get(..4)?).ok()?.parse().ok()?;
    let (month, rest) = number(b.get(5..)?)?;
    let (day, mut rest) = number(literal(rest, b'-')?)?;
    if let Some(separator) = separator {
        rest = if separator == b' ' {
            // A space in a layout matches one or more spaces.
            if rest.first().is_some_and(|&c| c != b' ') {
                return None;
            }
            let spaces = rest.iter().take_while(|&&c| c == b' ').count();
            rest.get(spaces..)?
        } else {
            literal(rest, separator)?
        };
        let (hour, r) = number(rest)?;
        let (minute, r) = number(literal(r, b':')?)?;
        let (second, r) = number(literal(r, b':')?)?;
        if hour >= 24 || minute >= 60 || second >= 60 {
            return None;
        }
        rest = r;
        // `.999999999`: optional, any number of digits, `.` or `,`.
        if matches!(rest.first(), Some(b'.' | b',')) && rest.get(1).is_some_and(u8::is_ascii_digit)
        {
            let digits = rest
                .iter()
                .skip(1)
                .take_while(|c| c.is_ascii_digit())
                .count();
            rest = rest.get(1 + digits..)?;
        }
        if separator != b' ' {
            // `Z07:00`: `Z`, or a sign, two digits, `:`, two digits.
            if let Some(r) = literal(rest, b'Z') {
                rest = r;
            } else {
                let zone = rest.get(..6)?;
                let two = |s: &[u8]| -> Option<u32> {
                    match s {
                        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
                        }
                        _ => None,
                    }
                };
                let (hours, minutes) = (two(zone.get(1..3)?)?, two(zone.get(4..6)?)?);
                if !matches!(zone.first(), Some(b'+' | b'-'))
                    || zone.get(3) != Some(&b':')
                    || hours > 24
                    || minutes > 60
                {
                    return None;
                }
                rest = rest.get(6..)?;
            }
        }
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (rest.is_empty() && (1..=days).contains(&day)).then_some(())
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
        Scalar::Str | Scalar::Text(_) => "string",
    }
}

fn tag_name(tag: &Tag) -> String {
    if tag.handle == "!" {
        tag.suffix.clone()
    } else {
        tag.to_string()
    }
}

/// Applies `<<: source` to `map` as go-yaml v2's `d.merge` does: every key
/// of the source is set, over keys set before; of a list, the last mapping
/// is set first, so earlier mappings win. `merged` collects the keys set.
/// The core schema keeps this reader's earlier rule: a merge sets only keys
/// not set yet, and an explicit key always wins.
fn merge(
    map: &mut Map<String, Value>,
    merged: &mut BTreeSet<String>,
    source: Built,
    schema: Schema,
) -> Result<()> {
    let sources = match (source.node, source.value) {
        (Node::Mapping { .. } | Node::Alias { .. }, Value::Object(source)) => vec![source],
        (Node::Sequence { .. }, Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(source) => Ok(source),
                _ => Err(anyhow!(MERGE_WANTS_MAPS)),
            })
            .collect::<Result<Vec<_>>>()?,
        _ => bail!(MERGE_WANTS_MAPS),
    };
    if schema == Schema::Core {
        for (key, value) in sources.into_iter().flatten() {
            if !map.contains_key(&key) {
                merged.insert(key.clone());
                map.insert(key, value);
            }
        }
        return Ok(());
    }
    for source in sources.into_iter().rev() {
        for (key, value) in source {
            merged.insert(key.clone());
            map.insert(key, value);
        }
    }
    Ok(())
}

/// A resolved plain scalar, before the JSON round trip.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    /// The scalar's text.
    Str,
    /// Another string: a `!!binary` scalar, decoded.
    Text(String),
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
            Scalar::Text(s) => Value::String(s),
        })
    }

    /// go-yaml v2's short tag for what the scalar resolved to.
    fn short_tag(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "bool",
            Scalar::Int(_) | Scalar::Uint(_) => "int",
            Scalar::Float(_) => "float",
            Scalar::Str | Scalar::Text(_) => "str",
        }
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
/// below -4 or at least 6 (e.g. `1e+06`); `.inf`, `-.inf` and `.nan` for
/// what is not finite as a float32 (`3.4e39` is `.inf`).
fn go_format_float32(f: f64) -> String {
    let f = f as f32;
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return (if f > 0.0 { ".inf" } else { "-.inf" }).to_owned();
    }
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
        // apimachinery's YAMLReader: a `---` right after another opens the
        // next piece, so no empty document sits between them (kubectl
        // reads two objects from such a file).
        let docs = from_str("a: 1\n---\n---\nb: yes\n").expect("parses");
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": true})]);
        // A piece of comments gives no document, an empty `---` a null one.
        let docs = from_str("# c\n---\na: 1\n---\n# c\n---\n---\n").expect("parses");
        assert_eq!(docs, vec![json!({"a": 1}), Value::Null]);
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
