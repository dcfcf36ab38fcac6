//! `selector-guard fix`: the policy's mutations written back into the YAML
//! text, in the user's spelling.
//!
//! - The string rules run in `mutate` mode (`serviceSelectorValues:
//!   mutate` and `labelMapValues: mutate` are sent, whatever the settings
//!   say), and the patch says which
//!   values change. A value the patch turns into a string is quoted as it
//!   was written: `active: yes` becomes `active: "yes"`, `tier: 0x2A`
//!   becomes `tier: "0x2A"`. When that spelling is not a valid value for
//!   the field (`+1`, `.5`, `~` as a label value), the policy's string is
//!   written instead, with a note.
//! - In the maps the patch touches, and in every label map the policy
//!   checks (`selector_guard::rules::label_maps`: labels, annotations,
//!   `matchLabels`, `nodeSelector`, a Service's or ReplicationController's
//!   `spec.selector`, in the places of each kind), plain keys that YAML 1.1
//!   reads as a boolean, number or null are quoted (`on:` becomes `"on":`).
//! - Nothing else changes: edits replace exactly the scalars' text, so
//!   comments, order, indentation, other documents and line endings stay.
//! - What the patch does that is not quoting a plain scalar, and
//!   rejections (a DaemonSet's `replicas`), need a human: never edited,
//!   reported as `check` reports them. To see the patch of a rejected
//!   object, the policy is asked again with rejecting rules set to `warn`.
//! - `--check` writes nothing, prints a unified diff, and exits 1 when
//!   something would change. Otherwise files are rewritten (stdin's fixed
//!   text goes to stdout), then checked again: exit 1 when errors remain.

use selector_guard::rules;
use selector_guard_host::yaml11::{self, Node, Position, Style};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

use crate::check::{self, exit};
use crate::inputs::{Object, Origin, Source};

/// `fix`'s flags: `check`'s, plus `--check`.
#[derive(clap::Args, Debug, Clone)]
#[group(id = "fix_args")]
pub struct Args {
    /// Write nothing: print what would change as a unified diff, and exit
    /// 1 when something would.
    #[arg(long)]
    pub check: bool,
    /// The flags `check` takes.
    #[command(flatten)]
    pub common: check::Args,
}

/// One replacement of text, in character offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// First character replaced.
    pub start: usize,
    /// One past the last character replaced.
    pub end: usize,
    /// The new text.
    pub replacement: String,
    /// Where, as findings print it: file, line, column.
    pub place: (String, usize, usize),
    /// What was done, for the user.
    pub note: String,
}

/// A plain scalar is a valid label value (empty, or at most 63
/// characters of `[A-Za-z0-9._-]` starting and ending alphanumeric).
pub fn is_label_value(text: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.is_empty()
        || (text.len() <= 63
            && alnum(text.chars().next())
            && alnum(text.chars().last())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
}

/// `text` as a YAML double-quoted scalar.
pub fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The source text of a file, addressed by character offsets (what
/// [`Position::index`] counts).
pub struct Text<'a> {
    text: &'a str,
    /// The byte offset of every [`Text::STRIDE`]th character; `None` for
    /// ASCII text, where bytes and characters are the same.
    checkpoints: Option<Vec<usize>>,
}

impl<'a> Text<'a> {
    /// Characters between checkpoints: a lookup walks fewer than this many,
    /// and the table takes an eighth of the text's size at most.
    const STRIDE: usize = 64;

    pub fn new(text: &'a str) -> Text<'a> {
        let checkpoints = (!text.is_ascii()).then(|| {
            text.char_indices()
                .step_by(Self::STRIDE)
                .map(|(byte, _)| byte)
                .collect()
        });
        Text { text, checkpoints }
    }

    /// The byte offset of character `index` (the end of the text at most).
    fn byte(&self, index: usize) -> Option<usize> {
        match &self.checkpoints {
            None => (index <= self.text.len()).then_some(index),
            Some(checkpoints) => {
                let from = *checkpoints.get(index / Self::STRIDE)?;
                let rest = self.text.get(from..)?;
                let skip = index % Self::STRIDE;
                match rest.char_indices().nth(skip) {
                    Some((byte, _)) => Some(from + byte),
                    None => (rest.chars().count() == skip).then_some(self.text.len()),
                }
            }
        }
    }

    /// The text from character `start` to character `end`.
    fn slice(&self, start: usize, end: usize) -> &'a str {
        match (self.byte(start), self.byte(end)) {
            (Some(start), Some(end)) => self.text.get(start..end).unwrap_or_default(),
            _ => "",
        }
    }

    /// The first character at or after character `from` that is neither
    /// whitespace nor in a comment.
    fn next_token(&self, from: usize) -> Option<char> {
        let rest = self.text.get(self.byte(from)?..)?;
        let mut comment = false;
        for c in rest.chars() {
            match c {
                '\n' | '\r' => comment = false,
                _ if comment => {}
                ' ' | '\t' => {}
                '#' => comment = true,
                other => return Some(other),
            }
        }
        None
    }

    /// Whether the mapping whose node starts at character `index` (its
    /// properties, if any, then its first key or its `{`) is a flow one.
    fn opens_flow_mapping(&self, index: usize) -> bool {
        self.byte(index)
            .and_then(|at| self.text.get(at..))
            .is_some_and(|rest| properties(rest).1.starts_with('{'))
    }

    /// The line break that ends the line before the one holding character
    /// `index` (`\r\n` or `\n`; `\n` on the first line): what a line
    /// written there ends with.
    fn newline_before(&self, index: usize) -> &'static str {
        let before = self.slice(0, index);
        match before.rfind('\n') {
            Some(at) if before.get(..at).is_some_and(|b| b.ends_with('\r')) => "\r\n",
            _ => "\n",
        }
    }

    /// The character offset just past the first `:` at or after character
    /// `from`, when only whitespace comes before it.
    fn colon_after(&self, from: usize) -> Option<usize> {
        let rest = self.text.get(self.byte(from)?..)?;
        let mut index = from;
        for c in rest.chars() {
            index += 1;
            match c {
                ':' => return Some(index),
                ' ' | '\t' | '\r' | '\n' => {}
                _ => return None,
            }
        }
        None
    }
}

/// The anchor a node's text starts with (`&v` of `&v !!str yes`, or of
/// `!!str &v yes`): saphyr includes a node's properties in its span.
fn anchor_of(written: &str) -> Option<&str> {
    properties(written).0
}

/// The properties a node's text starts with (`&anchor` and `!tag`, each up
/// to a blank): its anchor, and the text after them.
fn properties(written: &str) -> (Option<&str>, &str) {
    let mut rest = written.trim_start();
    let mut anchor = None;
    while rest.starts_with(['&', '!']) {
        let (token, after) = rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len()));
        if token.starts_with('&') {
            anchor = anchor.or(Some(token));
        }
        rest = after.trim_start();
    }
    (anchor, rest)
}

/// A key left as written: quoting it would change which keys its map holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// Where, as findings print it: file, line, column.
    pub place: (String, usize, usize),
    /// Why, for the user.
    pub note: String,
}

/// What `fix` does to one object: the edits, and the keys it leaves.
#[derive(Debug, Default)]
pub struct Fixes {
    pub edits: Vec<Edit>,
    pub kept: Vec<Kept>,
}

/// The edits that make every value and key of `object`'s label maps that
/// kubectl does not read as a string into one, in `source` (the text its
/// positions index). Each value is quoted as written when that spelling is
/// a valid value there (any spelling in annotations), else written as the
/// policy's string for what kubectl read (`label_string`); an empty or
/// null value becomes `""`, and a tag gives way to the quotes (an anchor
/// stays). The policy's verdict on the object does not matter: every such
/// value is fixed. A key is quoted unless that would merge it with another
/// key of its map or bring back one it shadows (`y` beside `"y"`, `on`
/// beside `true`): those are [`Kept`].
pub fn edits(object: &Object, source: &Text) -> Fixes {
    let mut fixes = Fixes::default();
    let Some(root) = &object.node else {
        return fixes;
    };
    // Anchored scalars, by anchor id.
    let mut anchors = HashMap::new();
    each_node(root, &mut |node| {
        if let Node::Scalar { anchor, .. } | Node::Mapping { anchor, .. } = node
            && *anchor != 0
        {
            anchors.insert(*anchor, node);
        }
    });
    let mut fixer = Fixer {
        object,
        source,
        anchors,
        requoted: HashMap::new(),
        aliases_done: HashSet::new(),
        fixes: &mut fixes,
    };
    let mut maps: Vec<String> = Vec::new();
    label_maps(&object.value, &mut maps);
    maps.sort();
    maps.dedup();
    for pointer in maps {
        let (
            Ok(Node::Mapping {
                start,
                entries,
                merged,
                merges,
                ..
            }),
            Some(Value::Object(read)),
        ) = (root.pointer(&pointer), object.value.pointer(&pointer))
        else {
            continue;
        };
        let flow = source.opens_flow_mapping(start.index);
        fixer.map(&pointer, entries, (merged, merges, flow), read);
    }
    // An anchored value quoted in a label map keeps its reading everywhere
    // else: each other alias of it is written out as the value was.
    if !fixer.requoted.is_empty() {
        let mut aliases = Vec::new();
        each_node(root, &mut |node| {
            if let Node::Alias { start, end, id } = node {
                aliases.push((*start, *end, *id));
            }
        });
        for (start, end, id) in aliases {
            if fixer.aliases_done.contains(&start.index) {
                continue;
            }
            if let Some(written) = fixer.requoted.get(&id) {
                let (line, column) = object.place(start);
                // A bare tag (`!!null`) in place of an alias glued to a `,`
                // or `}`: go-yaml would take those into the tag.
                let replacement = match written.split_whitespace().last() {
                    Some(last) if last.starts_with('!') => format!("{written} "),
                    _ => written.clone(),
                };
                fixer.fixes.edits.push(Edit {
                    start: start.index,
                    end: end.index,
                    replacement,
                    place: (object.file.clone(), line, column),
                    note: format!(
                        "wrote the alias out as `{written}`: its anchored value is quoted in a label map, and this use keeps its reading"
                    ),
                });
            }
        }
    }
    fixes
}

/// Calls `visit` on `node` and every node under it, keys included.
fn each_node<'n>(node: &'n Node, visit: &mut impl FnMut(&'n Node)) {
    visit(node);
    match node {
        Node::Scalar { .. } | Node::Alias { .. } => {}
        Node::Sequence { items, .. } => items.iter().for_each(|n| each_node(n, visit)),
        Node::Mapping { entries, .. } => {
            for entry in entries {
                each_node(&entry.key_node, visit);
                each_node(&entry.value, visit);
            }
        }
    }
}

/// The state of [`edits`] over one object.
struct Fixer<'a, 'n> {
    object: &'a Object,
    source: &'a Text<'a>,
    /// Anchored scalars by id.
    anchors: HashMap<usize, &'n Node>,
    /// Anchors whose value was quoted in place, with its text as written
    /// (without the anchor), which other aliases of it get.
    requoted: HashMap<usize, String>,
    /// Aliases (by start) already replaced in a label map.
    aliases_done: HashSet<usize>,
    fixes: &'a mut Fixes,
}

impl Fixer<'_, '_> {
    fn place(&self, position: Position) -> (String, usize, usize) {
        let (line, column) = self.object.place(position);
        (self.object.file.clone(), line, column)
    }

    fn map(
        &mut self,
        pointer: &str,
        entries: &[yaml11::Entry],
        (merged, merges, flow): (&[String], &[yaml11::Merge], bool),
        read: &serde_json::Map<String, Value>,
    ) {
        let annotations = pointer.ends_with("/annotations");
        let map_path = check::dotted(pointer);
        // The entry kubectl reads for each key: the last one written, unless
        // a `<<` merge after it supplies the key.
        let mut last: HashMap<&str, (usize, usize)> = HashMap::with_capacity(entries.len());
        for (at, entry) in entries.iter().enumerate() {
            let seen = last.entry(entry.key.as_str()).or_insert((at, 0));
            *seen = (at, seen.1 + 1);
        }
        let is_merged = |key: &str| merged.binary_search_by(|k| k.as_str().cmp(key)).is_ok();
        self.merged(&map_path, annotations, (merged, merges, flow), read);
        for (at, entry) in entries.iter().enumerate() {
            let (last_at, count) = last.get(entry.key.as_str()).copied().unwrap_or((at, 1));
            let effective = last_at == at && !is_merged(&entry.key);
            if effective && let Some(found) = read.get(&entry.key).filter(|v| !v.is_string()) {
                self.value(&map_path, annotations, entry, found);
            }
            // The key.
            // A key alias (`*k : z`) of a plain scalar is quoted in place,
            // as the scalar would be.
            let anchors = &self.anchors;
            let (text, start, end, anchor, alias) = match &entry.key_node {
                Node::Scalar {
                    text,
                    style: Style::Plain,
                    tagged: false,
                    start,
                    end,
                    anchor,
                } => (text, start, end, *anchor, false),
                Node::Alias { id, start, end } => match anchors.get(id).copied() {
                    Some(Node::Scalar {
                        text,
                        style: Style::Plain,
                        tagged: false,
                        ..
                    }) => (text, start, end, 0, true),
                    _ => continue,
                },
                _ => continue,
            };
            if yaml11::yaml11_type(text) == "string" {
                continue;
            }
            let place = self.place(*start);
            // Two keys read as one string must stay of one type: go-yaml
            // keeps `true` and "true" apart, and which one kubectl keeps
            // when it makes them strings is left to Go's map order.
            let clash = if !effective || count > 1 {
                Some(format!(
                    "another key of the map is also read as \"{}\", and quoting one of them would bring back the other",
                    entry.key
                ))
            } else if text != &entry.key && read.contains_key(text.as_str()) {
                Some(format!(
                    "the map already has the key \"{text}\", which it would merge with"
                ))
            } else {
                None
            };
            match clash {
                Some(why) => self.fixes.kept.push(Kept {
                    place,
                    note: format!(
                        "{map_path}: left the key `{text}` as written (kubectl reads it as \"{}\"): {why}; rename one of the keys by hand",
                        entry.key
                    ),
                }),
                None => self.fixes.edits.push(Edit {
                    start: start.index,
                    end: end.index,
                    // An anchored key (`&k on`) keeps its anchor, and each
                    // alias of it elsewhere is written out as it was.
                    replacement: match anchor_of(self.source.slice(start.index, end.index)) {
                        _ if alias => {
                            self.aliases_done.insert(start.index);
                            quoted(text)
                        }
                        Some(anchor_text) if anchor != 0 => {
                            self.requoted.insert(anchor, text.clone());
                            format!("{anchor_text} {}", quoted(text))
                        }
                        _ => quoted(text),
                    },
                    place,
                    note: format!(
                        "{map_path}: quoted the key `{text}` (YAML 1.1 reads it as {})",
                        entry.key
                    ),
                }),
            }
        }
    }

    /// The values of `merged` keys (set by a `<<` merge) that kubectl does
    /// not read as strings: each is given in the map as a string, in one
    /// entry written after the last merge (go-yaml v2 applies entries in
    /// order, so it wins). The merged maps, written elsewhere, keep their
    /// reading. Where the last merge's value is written out (not an alias
    /// or a flow list), the keys are left, with a warning.
    fn merged(
        &mut self,
        map_path: &str,
        annotations: bool,
        (merged, merges, flow): (&[String], &[yaml11::Merge], bool),
        read: &serde_json::Map<String, Value>,
    ) {
        let found: Vec<(&String, &Value)> = merged
            .iter()
            .filter_map(|key| read.get(key).filter(|v| !v.is_string()).map(|v| (key, v)))
            .collect();
        if found.is_empty() {
            return;
        }
        let Some((last, Some(end))) = merges.last().map(|m| (m, m.end)) else {
            let place = self.place(merges.last().map_or(self.object.start, |m| m.key));
            for (key, value) in found {
                self.fixes.kept.push(Kept {
                    place: place.clone(),
                    note: format!(
                        "{map_path}[{key}]: {value} comes from a `<<` merge written out in place and is left as written: give the key here as a string"
                    ),
                });
            }
            return;
        };
        let newline = self.source.newline_before(last.key.index);
        let indent = " ".repeat(last.key.column.saturating_sub(1));
        let mut replacement = String::new();
        let mut notes = Vec::new();
        for (key, value) in found {
            let Some(policy) = selector_guard::labels::label_string(value) else {
                continue;
            };
            let spelling = self.merged_spelling(merges, key);
            let string = match spelling {
                Some(text) if annotations || is_label_value(text) => text.to_string(),
                _ => policy.into_owned(),
            };
            let key_text = if yaml11::yaml11_type(key) == "string"
                && !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
            {
                key.clone()
            } else {
                quoted(key)
            };
            let entry = format!("{key_text}: {}", quoted(&string));
            if flow {
                replacement.push_str(", ");
            } else {
                replacement.push_str(newline);
                replacement.push_str(&indent);
            }
            replacement.push_str(&entry);
            notes.push(format!(
                "{map_path}[{key}]: {value} comes from a `<<` merge; wrote `{entry}` after it, so the merged map keeps its reading elsewhere"
            ));
        }
        if replacement.is_empty() {
            return;
        }
        let place = self.place(last.key);
        self.fixes.edits.push(Edit {
            start: end.index,
            end: end.index,
            replacement,
            place,
            note: notes.join("; "),
        });
    }

    /// How the value a `<<` merge gives `key` is written, when it is a
    /// plain scalar of a mapping an alias of the merges names (the last
    /// merge that has it, the first mapping of its list).
    fn merged_spelling(&self, merges: &[yaml11::Merge], key: &str) -> Option<&str> {
        merges.iter().rev().find_map(|merge| {
            merge
                .aliases
                .iter()
                .find_map(|id| match self.anchors.get(id) {
                    Some(mapping @ Node::Mapping { .. }) => match mapping.entry(key) {
                        Some(yaml11::Entry {
                            value:
                                Node::Scalar {
                                    text,
                                    style: Style::Plain,
                                    tagged: false,
                                    ..
                                },
                            ..
                        }) => Some(text.as_str()),
                        _ => None,
                    },
                    _ => None,
                })
        })
    }

    /// Makes `entry`'s value, which kubectl reads as `found`, a string. A
    /// value with no string form (a list, a map) is left.
    fn value(&mut self, map_path: &str, annotations: bool, entry: &yaml11::Entry, found: &Value) {
        let Some(policy) = selector_guard::labels::label_string(found) else {
            return;
        };
        let key = match &entry.key_node {
            Node::Scalar { text, .. } => text.as_str(),
            _ => entry.key.as_str(),
        };
        let path = format!("{map_path}[{}]", key.escape_debug());
        // An alias: the value is written at its anchor, and only this use
        // changes.
        let (scalar, alias) = match &entry.value {
            Node::Alias { id, start, end } => match self.anchors.get(id) {
                Some(anchored) => (*anchored, Some((*start, *end))),
                None => return,
            },
            scalar => (scalar, None),
        };
        let Node::Scalar {
            text,
            style,
            tagged,
            start,
            end,
            anchor,
        } = scalar
        else {
            return;
        };
        let string = if annotations || is_label_value(text) {
            text.as_str()
        } else {
            policy.as_ref()
        };
        // An empty value: saphyr places it at the key's `:`, or spans what
        // lies between the key and the next token when there is no `:`.
        let empty = start.index == end.index
            || (text.is_empty() && *style == Style::Plain && !*tagged && *anchor == 0);
        let written = if empty {
            ""
        } else {
            self.source.slice(start.index, end.index).trim()
        };
        let shown = if written.is_empty() {
            "an empty value".to_string()
        } else {
            format!("`{written}`")
        };
        let note = if string == text.as_str() && !text.is_empty() {
            format!("{path}: quoted {shown} as {}", quoted(string))
        } else if string == text.as_str() {
            format!("{path}: wrote {shown} as \"\" (kubectl reads it as null)")
        } else {
            format!(
                "{path}: `{text}` is not a valid label value as written, so the policy's string {} was written instead",
                quoted(string)
            )
        };
        if let Some((alias_start, alias_end)) = alias {
            let alias_text = self.source.slice(alias_start.index, alias_end.index);
            let note = format!(
                "{path}: wrote the alias `{alias_text}` (of {shown}) as {}, in this label map only",
                quoted(string)
            );
            self.aliases_done.insert(alias_start.index);
            let place = self.place(alias_start);
            self.fixes.edits.push(Edit {
                start: alias_start.index,
                end: alias_end.index,
                replacement: quoted(string),
                place,
                note,
            });
            return;
        }
        let place = self.place(*start);
        if empty {
            let key_end = match &entry.key_node {
                Node::Scalar { end, .. } => end.index,
                other => other.start().index,
            };
            if let Some(after) = self.source.colon_after(key_end) {
                self.fixes.edits.push(Edit {
                    start: after,
                    end: after,
                    replacement: format!(" {}", quoted(string)),
                    place,
                    note,
                });
                return;
            }
            // No `:` at all: a flow entry of a key alone (`{app, b: c}`,
            // `{app:}`, whose key is `app:` for kubectl), or an explicit
            // block key (`? app`) with no `:` line.
            let key_start = entry.key_node.start();
            let one_line = match &entry.key_node {
                Node::Scalar { end, .. } => end.line == key_start.line,
                _ => false,
            };
            let replacement = if matches!(self.source.next_token(key_end), Some(',' | '}')) {
                format!(": {}", quoted(string))
            } else {
                let line_start = key_start
                    .index
                    .saturating_sub(key_start.column.saturating_sub(1));
                let line = self.source.slice(line_start, key_start.index);
                match line.rfind('?').and_then(|at| line.get(..at)) {
                    Some(before) if one_line => {
                        let indent = " ".repeat(before.chars().count());
                        format!(
                            "{}{indent}: {}",
                            self.source.newline_before(key_start.index),
                            quoted(string)
                        )
                    }
                    _ => {
                        self.fixes.kept.push(Kept {
                            place,
                            note: format!(
                                "{path}: the key has no `:` and spans lines; its value is left as written: give it as `: \"\"`"
                            ),
                        });
                        return;
                    }
                }
            };
            self.fixes.edits.push(Edit {
                start: key_end,
                end: key_end,
                replacement,
                place,
                note,
            });
            return;
        }
        let replacement = match anchor_of(written) {
            Some(anchor_text) => {
                if *anchor != 0 {
                    let without = written.replacen(anchor_text, "", 1);
                    self.requoted.insert(*anchor, without.trim().to_string());
                }
                format!("{anchor_text} {}", quoted(string))
            }
            None => quoted(string),
        };
        self.fixes.edits.push(Edit {
            start: start.index,
            end: end.index,
            replacement,
            place,
            note,
        });
    }
}

/// JSON pointers of the label maps the policy checks in `object`: the
/// captures of its kind's shape (`selector_guard::rules::label_maps`); of
/// a kind the policy does not handle, the object's own labels and
/// annotations, which every kind has.
fn label_maps(object: &Value, out: &mut Vec<String>) {
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
    let (group, version) = match text("apiVersion").split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", text("apiVersion")),
    };
    let paths = match rules::Kind::from_gvk(group, version, text("kind")) {
        Some(kind) => rules::label_maps(kind),
        None => vec!["metadata.labels", "metadata.annotations"],
    };
    for path in paths {
        out.push(
            path.split('.')
                .fold(String::new(), |pointer, key| pointer + "/" + key),
        );
    }
}

/// `source` with `edits` applied (overlapping edits after the first are
/// dropped).
pub fn apply(source: &Text, edits: &[Edit]) -> String {
    let text = source.text;
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len() + 16 * edits.len());
    let mut done = 0;
    for edit in sorted {
        let (Some(start), Some(end)) = (source.byte(edit.start), source.byte(edit.end)) else {
            continue;
        };
        if start < done || end < start {
            continue;
        }
        out.push_str(text.get(done..start).unwrap_or_default());
        out.push_str(&edit.replacement);
        done = end;
    }
    out.push_str(text.get(done..).unwrap_or_default());
    out
}

/// What `fix` makes of one file.
pub enum Fixed {
    /// The file could not be read (or kubectl could not parse it): why.
    Unreadable(String),
    /// A fix was computed but would change what the file means: why. A
    /// safety net; each time it fires is a bug.
    Refused(String),
    /// The fixed text (the same text when nothing changes), the edits and
    /// the keys left as written.
    Done(String, Fixes),
}

/// The fix of `text`, the content of the file `name`. Read a piece of
/// the stream (one document) at a time, and read back the same way: the
/// memory it takes is the text, the fixed text and one document.
pub fn fix_text(name: &str, text: &str) -> Fixed {
    let source = Text::new(text);
    let mut all = Fixes::default();
    for contents in crate::inputs::stream(name, text) {
        let contents = match contents {
            Ok(contents) => contents,
            Err(e) => return Fixed::Unreadable(format!("{e:#}")),
        };
        for object in &contents.objects {
            let fixes = edits(object, &source);
            all.edits.extend(fixes.edits);
            all.kept.extend(fixes.kept);
        }
    }
    if all.edits.is_empty() {
        return Fixed::Done(text.to_string(), all);
    }
    let fixed = apply(&source, &all.edits);
    match same_but_label_maps(name, text, &fixed) {
        Ok(()) => Fixed::Done(fixed, all),
        Err(why) => Fixed::Refused(why),
    }
}

/// Whether kubectl reads `fixed` as it read `original` (the file `name`),
/// but for the label maps, whose values and keys must all be strings now
/// (the kept keys aside). The safety net under every fix; both texts are
/// read a piece at a time, side by side.
fn same_but_label_maps(name: &str, original: &str, fixed: &str) -> Result<(), String> {
    let mut before = crate::inputs::stream(name, original);
    let mut after = crate::inputs::stream(name, fixed);
    let (mut old_count, mut new_count) = (0, 0);
    loop {
        let (old, new) = match (before.next(), after.next()) {
            (None, None) => break,
            (Some(Err(e)), _) => return Err(format!("the original does not read ({e:#})")),
            (_, Some(Err(e))) => {
                return Err(format!("the fixed text does not read back ({e:#})"));
            }
            (old, new) => (
                old.and_then(Result::ok).unwrap_or_default(),
                new.and_then(Result::ok).unwrap_or_default(),
            ),
        };
        old_count += old.objects.len();
        new_count += new.objects.len();
        if old_count != new_count {
            break;
        }
        for (before, after) in old.objects.iter().zip(&new.objects) {
            same_object(before, after)?;
        }
    }
    if old_count != new_count {
        // Count the rest, to say how many.
        old_count += before
            .filter_map(Result::ok)
            .map(|c| c.objects.len())
            .sum::<usize>();
        new_count += after
            .filter_map(Result::ok)
            .map(|c| c.objects.len())
            .sum::<usize>();
        return Err(format!(
            "the fixed text holds {new_count} objects, not {old_count}"
        ));
    }
    Ok(())
}

/// [`same_but_label_maps`] for one object.
fn same_object(before: &Object, after: &Object) -> Result<(), String> {
    let mut maps = Vec::new();
    label_maps(&before.value, &mut maps);
    let (mut old, mut new) = (before.value.clone(), after.value.clone());
    for pointer in &maps {
        let taken = |value: &mut Value| -> Option<serde_json::Map<String, Value>> {
            match value.pointer_mut(pointer).map(Value::take) {
                Some(Value::Object(map)) => Some(map),
                _ => None,
            }
        };
        let differs = || {
            format!(
                "{}: {} would read differently",
                before.name,
                check::dotted(pointer)
            )
        };
        match (taken(&mut old), taken(&mut new)) {
            (Some(old_map), Some(new_map)) => {
                // As many keys, and every value that was a string the same.
                let same_strings = old_map
                    .iter()
                    .filter(|(_, v)| v.is_string())
                    .all(|(k, v)| new_map.get(k) == Some(v) || !new_map.contains_key(k));
                if old_map.len() != new_map.len() || !same_strings {
                    return Err(differs());
                }
            }
            (None, None) => {}
            _ => return Err(differs()),
        }
    }
    if old != new {
        return Err(format!(
            "{}: the fixed text reads differently outside the label maps",
            before.name
        ));
    }
    Ok(())
}

/// Runs `fix`; returns the exit status.
pub fn main(args: &Args) -> i32 {
    // The user's settings (of each config file), checked before anything
    // is written; the fixes themselves do not depend on them. Excluded
    // files are neither read nor written.
    let planned = match check::runs(&args.common, |_| {}) {
        Ok(planned) => planned,
        Err(errors) => {
            for e in errors {
                eprintln!("selector-guard: {e}");
            }
            return exit::UNUSABLE;
        }
    };
    let mut status = exit::OK;
    let mut refused = 0;
    let mut unreadable = 0;
    let mut changed_files = 0;
    // The text of each source after fixing, in the runs' order.
    let mut new_sources = Vec::new();
    for source in planned.runs.iter().flat_map(|run| &run.sources) {
        let old_text = match &source.text {
            Ok(text) => text.as_str(),
            Err(e) => {
                eprintln!("{}: {e}", source.name);
                status = exit::UNUSABLE;
                unreadable += 1;
                new_sources.push((source.name.clone(), source.text.clone()));
                continue;
            }
        };
        let stdin = source.origin == Origin::Stdin;
        let (new_text, fixes) = match fix_text(&source.name, old_text) {
            Fixed::Done(text, fixes) => (text, fixes),
            Fixed::Unreadable(why) => {
                eprintln!("{}: {why}", source.name);
                status = exit::UNUSABLE;
                unreadable += 1;
                if stdin && !args.check {
                    // A filter never loses its input.
                    print!("{old_text}");
                }
                new_sources.push((source.name.clone(), source.text.clone()));
                continue;
            }
            Fixed::Refused(why) => {
                eprintln!("{}: {why}; nothing written", source.name);
                refused += 1;
                status = exit::UNUSABLE;
                if stdin && !args.check {
                    // A filter never loses its input.
                    print!("{old_text}");
                }
                new_sources.push((source.name.clone(), source.text.clone()));
                continue;
            }
        };
        let mut told: Vec<(&(String, usize, usize), &str, &str)> = fixes
            .edits
            .iter()
            .map(|e| (&e.place, "note", e.note.as_str()))
            .chain(
                fixes
                    .kept
                    .iter()
                    .map(|k| (&k.place, "warning", k.note.as_str())),
            )
            .collect();
        told.sort_by_key(|(place, _, _)| (place.1, place.2));
        for ((file, line, column), level, note) in told {
            eprintln!("{file}:{line}:{column}: {level}: {note}");
        }
        if new_text != old_text {
            changed_files += 1;
            if args.check {
                print_diff(source, old_text, &new_text);
            } else if let Err(e) = write_back(source, &new_text) {
                eprintln!("{}: {e}", source.name);
                status = exit::UNUSABLE;
            }
        } else if stdin && !args.check {
            // A filter: stdin's text goes to stdout, fixed or not.
            print!("{new_text}");
        }
        new_sources.push((source.name.clone(), Ok(new_text)));
    }
    if args.check {
        eprintln!(
            "selector-guard: {changed_files} file{} would change{}{}",
            if changed_files == 1 { "" } else { "s" },
            if refused > 0 {
                format!(", {refused} would be refused")
            } else {
                String::new()
            },
            if planned.excluded > 0 {
                format!(
                    "; excluded {} file{}",
                    planned.excluded,
                    if planned.excluded == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        );
        return if unreadable > 0 {
            exit::UNUSABLE
        } else if changed_files > 0 || refused > 0 {
            exit::FINDINGS
        } else {
            exit::OK
        };
    }
    // What remains, under the user's own settings: each run on its own.
    let mut collected = check::Collected::default();
    let mut remaining = exit::OK;
    let mut fixed = new_sources.iter();
    for run in &planned.runs {
        let sources: Vec<_> = fixed.by_ref().take(run.sources.len()).cloned().collect();
        let reports = check::evaluate(&run.loaded, &sources);
        let found = check::collect(&reports);
        remaining = remaining.max(found.summary.exit_status(run.fail_on));
        check::add(&mut collected.summary, &found.summary);
        collected.items.extend(found.items);
    }
    let stdin_fixed = planned
        .runs
        .iter()
        .flat_map(|run| &run.sources)
        .any(|s| s.origin == Origin::Stdin);
    // With stdin fixed, stdout carries the fixed stream: findings go to stderr.
    let (mut stdout, mut stderr) = (std::io::stdout().lock(), std::io::stderr().lock());
    let _ = if stdin_fixed {
        let mut findings = Vec::new();
        let written = check::emit(
            &collected,
            &new_sources,
            args.common.format,
            args.common.show_suppressed,
            &mut findings,
            &mut stderr,
        );
        written.and_then(|()| std::io::Write::write_all(&mut stderr, &findings))
    } else {
        check::emit(
            &collected,
            &new_sources,
            args.common.format,
            args.common.show_suppressed,
            &mut stdout,
            &mut stderr,
        )
    };
    let summary = collected.summary;
    eprintln!(
        "{}; fixed {changed_files} file{}",
        planned.line(&summary),
        if changed_files == 1 { "" } else { "s" }
    );
    if status == exit::UNUSABLE {
        status
    } else {
        remaining
    }
}

fn print_diff(source: &Source, old: &str, new: &str) {
    let (a, b) = if source.name.starts_with('/') || source.name == "-" {
        (source.name.clone(), source.name.clone())
    } else {
        (format!("a/{}", source.name), format!("b/{}", source.name))
    };
    print!("{}", unified_diff(old, new, &a, &b));
}

/// The unified diff of `old` and `new` (3 lines of context), as `diff -u`
/// and `git diff` print it. `fix` edits within lines, so when both texts
/// have as many lines, the lines that differ are the changes: the diff is
/// found line by line, in linear time. Otherwise (an alias written out
/// over several lines) similar's patience diff finds it.
pub fn unified_diff(old: &str, new: &str, a: &str, b: &str) -> String {
    use similar::DiffOp;
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let ops: Vec<DiffOp> = if old_lines.len() == new_lines.len() {
        let mut ops = Vec::new();
        let mut at = 0;
        while at < old_lines.len() {
            let same = old_lines.get(at) == new_lines.get(at);
            let run = old_lines
                .iter()
                .zip(&new_lines)
                .skip(at)
                .take_while(|(o, n)| (o == n) == same)
                .count()
                .max(1);
            ops.push(if same {
                DiffOp::Equal {
                    old_index: at,
                    new_index: at,
                    len: run,
                }
            } else {
                DiffOp::Replace {
                    old_index: at,
                    old_len: run,
                    new_index: at,
                    new_len: run,
                }
            });
            at += run;
        }
        ops
    } else {
        similar::capture_diff_slices(similar::Algorithm::Patience, &old_lines, &new_lines)
    };
    let mut out = String::new();
    for (i, hunk) in similar::group_diff_ops(ops, 3).iter().enumerate() {
        let (Some(first), Some(last)) = (hunk.first(), hunk.last()) else {
            continue;
        };
        if i == 0 {
            out.push_str(&format!("--- {a}\n+++ {b}\n"));
        }
        let old_range = first.old_range().start..last.old_range().end;
        let new_range = first.new_range().start..last.new_range().end;
        // `diff -u`'s ranges: 1-based start and length; an empty range
        // starts at the line before it.
        let range = |r: &std::ops::Range<usize>| {
            let start = if r.is_empty() { r.start } else { r.start + 1 };
            format!("{start},{}", r.len())
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(&old_range),
            range(&new_range)
        ));
        let mut line = |mark: char, text: &str| {
            out.push(mark);
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        };
        for op in hunk {
            for at in op.old_range() {
                let text = old_lines.get(at).copied().unwrap_or_default();
                match op {
                    DiffOp::Equal { .. } => line(' ', text),
                    _ => line('-', text),
                }
            }
            if !matches!(op, DiffOp::Equal { .. }) {
                for at in op.new_range() {
                    line('+', new_lines.get(at).copied().unwrap_or_default());
                }
            }
        }
    }
    out
}

fn write_back(source: &Source, text: &str) -> std::io::Result<()> {
    match &source.origin {
        Origin::Stdin => {
            print!("{text}");
            Ok(())
        }
        Origin::File(path) => std::fs::write(path, text),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    /// The line-by-line diff prints what similar's Myers diff prints, for
    /// edits within lines, changes at both ends, a missing final newline,
    /// and a change in the number of lines (where similar runs anyway).
    #[test]
    fn unified_diff_is_the_usual_one() {
        let base: Vec<String> = (0..40).map(|i| format!("line {i}\n")).collect();
        let edit = |lines: &[usize], tail: &str| -> String {
            let mut out: Vec<String> = base.clone();
            for &at in lines {
                out[at] = format!("LINE {at}\n");
            }
            out.concat() + tail
        };
        let old = base.concat();
        let cases = [
            (old.clone(), edit(&[0], "")),
            (old.clone(), edit(&[39], "")),
            (old.clone(), edit(&[5, 6, 12, 20, 26, 27], "")),
            (old.clone() + "end", edit(&[38], "END")),
            (old.clone() + "end", edit(&[], "end")),
            (old.clone(), edit(&[3], "extra\nlines\n")),
            (old.clone(), old.replace("line 7\n", "")),
        ];
        for (old, new) in cases {
            let expected = similar::TextDiff::from_lines(&old, &new)
                .unified_diff()
                .context_radius(3)
                .header("a/f", "b/f")
                .to_string();
            assert_eq!(unified_diff(&old, &new, "a/f", "b/f"), expected, "{new}");
        }
    }

    /// Character offsets of non-ASCII text, through the checkpoints.
    #[test]
    fn text_offsets() {
        let text = "é".repeat(200) + "x";
        let source = Text::new(&text);
        for index in [0, 1, 63, 64, 65, 127, 128, 199, 200, 201] {
            let expected = text
                .char_indices()
                .map(|(b, _)| b)
                .chain([text.len()])
                .nth(index);
            assert_eq!(source.byte(index), expected, "{index}");
        }
        assert_eq!(source.byte(202), None);
    }
}
